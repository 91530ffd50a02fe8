"""`arka-cli`: validate, test, compile, disassemble, evaluate and benchmark rules.

Exit codes: 0 success, 1 rule errors / failed tests / rejected input, 2 usage errors.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import click

from arka.base import values as V
from arka.base.errors import ArkaError, CompileError, Diagnostic, InputError, Span
from arka.compiler import check_source, compile_file, load_bytecode
from arka.engine import RuleSet, load_rules, rule_files
from arka.rtvm.disasm import disassemble
from arka.rtvm.vm import TRACE_LEVELS
from arka.rules.tables import TableSet, load_tables
from arka.testing import Coverage, find_test_file, load_tests, run_case
from arka.version import __version__


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _read_json(text_or_path: str, what: str) -> Any:
    """A JSON argument: inline JSON, or a path to a JSON file. Numbers become decimals."""
    text = text_or_path
    if not text_or_path.lstrip().startswith(("{", "[")):
        try:
            text = Path(text_or_path).read_text(encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot read {what} {text_or_path!r}: {exc.strerror}", 2)
    try:
        return V.load_json_text(text)
    except json.JSONDecodeError as exc:
        _fail(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", 2)


def _tables(paths: tuple[str, ...]) -> TableSet:
    try:
        return load_tables(list(paths)) if paths else TableSet()
    except CompileError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(1)
    except ArkaError as exc:
        _fail(exc.message)
        raise


def _load(paths: tuple[str, ...]) -> list[Any]:
    try:
        rules = load_rules(list(paths))
    except CompileError as exc:
        click.echo(exc.render(), err=True)
        _fail(f"{len(exc.diagnostics)} error(s); nothing was evaluated")
        raise
    if not rules:
        _fail(f"no rule files found in {', '.join(paths)}", 2)
    return rules


def _check_paths(paths: tuple[str, ...]) -> None:
    for p in paths:
        if not Path(p).exists():
            _fail(f"no such file or directory: {p}", 2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="arka-cli")
def main() -> None:
    """ARKA Engine command line."""


@main.group()
def rule() -> None:
    """Work with rule files: validate, test, compile, disassemble, benchmark."""


@rule.command("validate")
@click.argument("files", nargs=-1, required=True)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rule_validate(files: tuple[str, ...], output: str) -> None:
    """Check rule files without running them; exit 1 if any has errors."""
    _check_paths(files)
    report: list[dict[str, Any]] = []
    failed = False
    for f in rule_files(list(files)):
        text = ""
        try:
            if f.suffix == ".rtvm":
                load_bytecode(f.read_bytes())
                diags: list[Diagnostic] = []
            else:
                text = f.read_text(encoding="utf-8")
                _, diags = check_source(text, str(f))
        except ArkaError as exc:
            diags = [Diagnostic(exc.code, Span(str(f), 1, 1), exc.message)]
        except (OSError, UnicodeDecodeError) as exc:
            diags = [Diagnostic("E_IO", Span(str(f), 1, 1), f"cannot read: {exc}")]
        failed |= bool(diags)
        report.append({"file": str(f), "valid": not diags, "errors": [d.to_dict() for d in diags]})
        if output == "text":
            if diags:
                click.echo("\n".join(d.render(text) for d in diags))
            else:
                click.echo(f"{f}: ok")
    if output == "json":
        click.echo(json.dumps({"valid": not failed, "files": report}, indent=2))
    sys.exit(1 if failed else 0)


@rule.command("compile")
@click.argument("file")
@click.option("-o", "--output", "out", required=True, help="Where to write the .rtvm bytecode.")
def rule_compile(file: str, out: str) -> None:
    """Compile one rule file to RTVM bytecode."""
    _check_paths((file,))
    try:
        compiled = compile_file(file)
    except CompileError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(1)
    Path(out).write_bytes(compiled.bytecode)
    click.echo(f"{out}: {len(compiled.bytecode)} bytes, {compiled.bytecode_hash}")


@rule.command("disasm")
@click.argument("file")
def rule_disasm(file: str) -> None:
    """Disassemble a rule file or a compiled .rtvm file."""
    _check_paths((file,))
    try:
        if file.endswith(".rtvm"):
            compiled = load_bytecode(Path(file).read_bytes())
        else:
            compiled = compile_file(file)
    except CompileError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(1)
    except ArkaError as exc:
        _fail(f"{file}: {exc.code} {exc.message}")
        raise
    click.echo(disassemble(compiled.program), nl=False)


def _with_dependencies(rule: Any, by_name: dict[str, Any]) -> list[Any]:
    out, todo = {rule.name: rule}, list(rule.metadata.get("depends_on", ()))
    while todo:
        name = todo.pop()
        if name in by_name and name not in out:
            out[name] = by_name[name]
            todo += list(by_name[name].metadata.get("depends_on", ()))
    return list(out.values())


@rule.command("test")
@click.argument("paths", nargs=-1, required=True)
@click.option("--tests", "tests_file", help="Test file (default: RULE.test.yaml beside the rule).")
@click.option("--filter", "name_filter", help="Only tests whose name contains this text.")
@click.option("--tables", multiple=True, help="Reference table file or directory.")
@click.option("--verbose", "-v", is_flag=True, help="Show every test and failing results.")
@click.option("--coverage", is_flag=True, help="Report conditions/actions seen true and false.")
def rule_test(paths: tuple[str, ...], tests_file: str | None, name_filter: str | None,
              tables: tuple[str, ...], verbose: bool, coverage: bool) -> None:
    """Run rule tests (SPEC §2.2)."""
    _check_paths(paths)
    rules = _load(paths)
    table_set = _tables(tables)
    by_name = {r.name: r for r in rules}
    # (rules under test, label, test file): a given --tests file runs against all the
    # rules together; otherwise each rule runs its own RULE.test.yaml with its dependencies.
    plan: list[tuple[list[Any], str, Path]] = []
    if tests_file:
        if not Path(tests_file).exists():
            _fail(f"no such test file: {tests_file}", 2)
        label = rules[0].name if len(rules) == 1 else f"{len(rules)} rules"
        plan.append((rules, label, Path(tests_file)))
    else:
        sources = {str(f): f for f in rule_files(list(paths))}
        for r in rules:
            src = sources.get(r.rule.file) if r.rule is not None else None
            test_path = find_test_file(src) if src else None
            if test_path is None:
                if verbose:
                    click.echo(f"{r.name}: no test file")
                continue
            plan.append((_with_dependencies(r, by_name), r.name, test_path))
    cov = Coverage() if coverage else None
    passed = failed = 0
    for under_test, label, test_path in plan:
        try:
            cases = load_tests(test_path)
        except CompileError as exc:
            click.echo(exc.render(), err=True)
            failed += 1
            continue
        ruleset = RuleSet(under_test, table_set)
        for case in cases:
            if name_filter and name_filter.lower() not in case.name.lower():
                continue
            outcome = run_case(ruleset, case, cov)
            if outcome.passed:
                passed += 1
                if verbose:
                    click.echo(f"PASS {label}: {case.name}")
            else:
                failed += 1
                click.echo(f"FAIL {label}: {case.name}  ({case.file}:{case.line})")
                for p in outcome.problems:
                    click.echo(f"     - {p}")
                if verbose and outcome.result is not None:
                    click.echo("     result: " + V.dumps(outcome.result["result"], indent=None))
    if cov is not None:
        covered = {r.name: r for group, _, _ in plan for r in group}
        lines, full, total = cov.report(list(covered.values()))
        click.echo("coverage (seen true and false):")
        click.echo("\n".join(lines))
        click.echo(f"coverage: {full}/{total} conditions and actions exercised both ways")
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not (passed or failed) else 0)


@main.command("eval")
@click.option("--rules", "rule_paths", multiple=True, required=True,
              help="Rule file or directory (repeatable).")
@click.option("--input", "input_path", required=True, help="Input JSON file (or inline JSON).")
@click.option("--context", "context_arg", help="Context JSON (inline or a file).")
@click.option("--tables", multiple=True, help="Reference table file or directory.")
@click.option("--trace", type=click.Choice(TRACE_LEVELS), default="none", show_default=True)
@click.option("--strategy", type=click.Choice(["most_severe", "flags_need_review"]),
              default="most_severe", show_default=True)
def eval_cmd(rule_paths: tuple[str, ...], input_path: str, context_arg: str | None,
             tables: tuple[str, ...], trace: str, strategy: str) -> None:
    """Evaluate an input against rules and print the result JSON."""
    _check_paths(rule_paths)
    rules = _load(rule_paths)
    data = _read_json(input_path, "input")
    context = _read_json(context_arg, "context") if context_arg else {}
    if not isinstance(context, dict):
        _fail("context must be a JSON object", 2)
    try:
        result = RuleSet(rules, _tables(tables), strategy=strategy).evaluate(
            data, context, trace=trace)
    except InputError as exc:
        click.echo(json.dumps({"error": {"code": "VALIDATION_ERROR", "message": exc.message}},
                              indent=2))
        sys.exit(1)
    except CompileError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(1)
    click.echo(V.dumps(result.to_json()))


@rule.command("bench")
@click.argument("paths", nargs=-1, required=True)
@click.option("--input", "input_path", required=True, help="Input JSON file.")
@click.option("--context", "context_arg", help="Context JSON (inline or a file).")
@click.option("--tables", multiple=True, help="Reference table file or directory.")
@click.option("-n", "count", default=10000, show_default=True, type=click.IntRange(1, 10**8))
def rule_bench(paths: tuple[str, ...], input_path: str, context_arg: str | None,
               tables: tuple[str, ...], count: int) -> None:
    """Evaluations per second and p50/p99 latency for rules and one input, in process."""
    _check_paths(paths)
    ruleset = RuleSet(_load(paths), _tables(tables))
    data = _read_json(input_path, "input")
    context = _read_json(context_arg, "context") if context_arg else {}
    context.setdefault("timestamp", "2024-01-15T12:00:00Z")
    try:
        ruleset.evaluate(data, context)
    except InputError as exc:
        _fail(f"input rejected: {exc.message}")
    samples = []
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(count):
        t0 = clock()
        ruleset.evaluate(data, context)
        samples.append(clock() - t0)
    total = (clock() - start) / 1e9
    samples.sort()
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] / 1000  # noqa: E731
    click.echo(f"rules:        {len(ruleset.rules)}")
    click.echo(f"evaluations:  {count}")
    click.echo(f"throughput:   {count / total:,.0f} evaluations/s")
    click.echo(f"latency p50:  {p(0.50):.1f} µs")
    click.echo(f"latency p99:  {p(0.99):.1f} µs")
    click.echo(f"latency mean: {statistics.fmean(samples) / 1000:.1f} µs")


# ---------------------------------------------------------------- service commands

DATA_DIR_HELP = "Data directory of the embedded defaults (SQLite file, signing keys)."


def _config(path: str | None) -> Any:
    from arka.settings.file import ConfigError, load_config
    if not path:
        return None
    try:
        return load_config(path)
    except ConfigError as exc:
        _fail(exc.message, 2)
        raise


def _settings(data_dir: str, database_url: str | None, config_file: str | None = None) -> Any:
    """Settings from the configuration file (--config / ARKA_CONFIG) when one is named,
    else the embedded defaults in the data directory."""
    import os

    from arka.app.core import Settings
    from arka.base.errors import ArkaError as _ArkaError
    config = _config(config_file or os.environ.get("ARKA_CONFIG"))
    try:
        if config is not None:
            return Settings.from_config(config, database_url=database_url)
        return Settings.embedded(Path(data_dir), database_url)
    except _ArkaError as exc:
        _fail(exc.message, 2)
        raise


def _core(settings: Any) -> Any:
    from arka.app.core import Core
    from arka.base.errors import ArkaError as _ArkaError
    try:
        return Core(settings)
    except _ArkaError as exc:
        _fail(exc.message, 2)
        raise


@main.command("serve")
@click.option("--host", help="Listen address [default: api.host, else 0.0.0.0].")
@click.option("--port", type=click.IntRange(1, 65535),
              help="Listen port [default: api.port, else 8080].")
@click.option("--data-dir", default=".arka", show_default=True, envvar="ARKA_DATA_DIR",
              help=DATA_DIR_HELP)
@click.option("--database-url", envvar="ARKA_DATABASE_URL",
              help="SQLAlchemy URL, e.g. postgresql+psycopg://pact@db/pact (default: SQLite "
                   "in the data directory).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--blockchain", "blockchain_file", envvar="ARKA_BLOCKCHAIN_CONFIG",
              help="YAML file with the `blockchain:` block (networks to anchor tree heads on). "
                   "Without it anchoring is off.")
@click.option("--config", "config_file", envvar="ARKA_CONFIG",
              help="Configuration file (config/production.yaml layout); its api.host and "
                   "api.port apply unless --host/--port are given.")
@click.option("--no-auth", is_flag=True,
              help="Development only: every request acts as an admin of tenant 'default'. "
                   "Refused when ARKA_ENVIRONMENT is production.")
def serve(host: str | None, port: int | None, data_dir: str, database_url: str | None,
          workers: int, blockchain_file: str | None, config_file: str | None,
          no_auth: bool) -> None:
    """Run ARKA Core (HTTP API) on embedded defaults or the configured database.

    Authentication is on: on first start, with no API keys stored yet, an admin key for
    tenant 'default' is created and printed once (to stderr)."""
    import dataclasses
    import os

    import uvicorn

    from arka.interfaces.http.asgi import build_app, setup_process
    settings = _settings(data_dir, database_url, config_file)
    config = _config(config_file)
    host = host or (config.api.host if config else "0.0.0.0")
    port = port or (config.api.port if config else 8080)
    if no_auth:
        if settings.environment == "production":
            _fail("--no-auth is refused when ARKA_ENVIRONMENT is production", 2)
        settings = dataclasses.replace(settings, auth=dataclasses.replace(settings.auth,
                                                                          enabled=False))
        os.environ["ARKA_NO_AUTH"] = "1"
        click.echo("WARNING: authentication is off (--no-auth); every request is an admin "
                   "of tenant 'default'", err=True)
    if config_file:
        os.environ["ARKA_CONFIG"] = str(Path(config_file).resolve())
    if blockchain_file:
        from arka.settings.blockchain import ConfigError, load_blockchain_file
        try:
            chains, policy, poll = load_blockchain_file(blockchain_file)
        except ConfigError as exc:
            _fail(exc.message, 2)
            raise
        settings = dataclasses.replace(settings, chains=tuple(chains), anchor_policy=policy,
                                       anchor_poll_seconds=poll)
        os.environ["ARKA_BLOCKCHAIN_CONFIG"] = str(Path(blockchain_file).resolve())
    if settings.database_url.startswith("sqlite"):
        from arka.storage import Store
        Store(settings.database_url).migrate()  # the embedded database migrates itself
    if settings.auth.enabled:
        created = _core(settings).bootstrap_admin_key()
        if created is not None:  # printed, never logged
            click.echo(f"\nFirst start: created an admin API key for tenant 'default' (it is "
                       f"shown only now; keep it safe):\n\n    {created['key']}\n\nSend it as "
                       "'X-API-Key: <key>'. Create more with `arka-cli apikey create`.\n",
                       err=True)
    if workers > 1 and settings.metrics_enabled:  # one aggregated view of all workers
        import tempfile
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="arka-metrics-")
    if settings.metrics_enabled and settings.metrics_port is not None:
        from arka.observability.metrics import serve_metrics
        serve_metrics(host, settings.metrics_port, settings.metrics_path)
    if workers > 1:
        os.environ["ARKA_DATA_DIR"] = str(Path(data_dir).resolve())
        os.environ["ARKA_DATABASE_URL"] = settings.database_url
        setup_process(dataclasses.replace(settings, tracing_enabled=False))
        uvicorn.run("arka.interfaces.http.asgi:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_config=None, access_log=False)
        return
    setup_process(settings)
    uvicorn.run(build_app(settings), host=host, port=port, log_config=None, access_log=False)


@main.group()
def db() -> None:
    """Database schema: migrate and status."""


@db.command("migrate")
@click.option("--confirm", is_flag=True, help="Required: apply the migrations.")
@click.option("--data-dir", default=".arka", show_default=True, envvar="ARKA_DATA_DIR",
              help=DATA_DIR_HELP)
@click.option("--database-url", envvar="ARKA_DATABASE_URL")
def db_migrate(confirm: bool, data_dir: str, database_url: str | None) -> None:
    """Upgrade the database schema to the latest migration."""
    from arka.storage import Store
    settings = _settings(data_dir, database_url)
    store = Store(settings.database_url)
    if not confirm:
        st = store.status()
        _fail(f"refusing to migrate {st['dialect']} database from {st['current_revision']} to "
              f"{st['head_revision']} without --confirm (take a backup first)", 2)
    try:
        revision = store.migrate()
    except Exception as exc:  # noqa: BLE001 - report the database's own words
        _fail(f"migration failed: {exc}")
        raise
    click.echo(f"database is at revision {revision}")


@db.command("status")
@click.option("--data-dir", default=".arka", show_default=True, envvar="ARKA_DATA_DIR",
              help=DATA_DIR_HELP)
@click.option("--database-url", envvar="ARKA_DATABASE_URL")
def db_status(data_dir: str, database_url: str | None) -> None:
    """Show the schema revision; exit 1 when migrations are pending."""
    from arka.storage import Store
    try:
        st = Store(_settings(data_dir, database_url).database_url).status()
    except Exception as exc:  # noqa: BLE001
        _fail(f"cannot reach the database: {exc}")
        raise
    click.echo(json.dumps(st, indent=2))
    sys.exit(0 if st["up_to_date"] else 1)


@db.command("copy")
@click.option("--to", "target_url", required=True, help="SQLAlchemy URL of the target database.")
@click.option("--data-dir", default=".arka", show_default=True, envvar="ARKA_DATA_DIR",
              help=DATA_DIR_HELP)
@click.option("--database-url", envvar="ARKA_DATABASE_URL", help="Source database URL.")
def db_copy(target_url: str, data_dir: str, database_url: str | None) -> None:
    """Copy all rules, tables, rulesets and evaluations into another (empty) database."""
    from arka.storage import Store, StoreError, copy_store
    source = Store(_settings(data_dir, database_url).database_url)
    try:
        counts = copy_store(source, Store(target_url))
    except StoreError as exc:
        _fail(exc.message)
        raise
    click.echo(json.dumps(counts, indent=2))


@main.group("log")
def log_group() -> None:
    """The transparency log of a running ARKA Core: tree heads and inclusion proofs."""


API_KEY_HELP = "API key for the server (or set ARKA_API_KEY)."


def _get_json(url: str, api_key: str | None = None) -> Any:
    import httpx
    try:
        r = httpx.get(url, timeout=10, headers={"X-API-Key": api_key} if api_key else {})
    except httpx.HTTPError as exc:
        _fail(f"cannot reach {url}: {exc}", 2)
        raise
    if r.status_code != 200:
        _fail(f"{url}: HTTP {r.status_code}: {r.text}")
    return r.json()


@log_group.command("sth")
@click.option("--url", default="http://127.0.0.1:8080", show_default=True)
@click.option("--api-key", envvar="ARKA_API_KEY", help=API_KEY_HELP)
def log_sth(url: str, api_key: str | None) -> None:
    """Print the current signed tree head."""
    click.echo(json.dumps(_get_json(url.rstrip("/") + "/api/v1/log/sth", api_key), indent=2))


@log_group.command("inclusion")
@click.argument("evaluation_id")
@click.option("--url", default="http://127.0.0.1:8080", show_default=True)
@click.option("--tree-size", type=click.IntRange(1), help="A published tree size (default: now).")
@click.option("--api-key", envvar="ARKA_API_KEY", help=API_KEY_HELP)
def log_inclusion(evaluation_id: str, url: str, tree_size: int | None,
                  api_key: str | None) -> None:
    """Print an evaluation's inclusion proof with the signed tree head it leads to;
    save it for `arka-cli verify --inclusion`."""
    q = f"?evaluation_id={evaluation_id}" + (f"&tree_size={tree_size}" if tree_size else "")
    click.echo(json.dumps(_get_json(url.rstrip("/") + "/api/v1/log/inclusion" + q, api_key),
                          indent=2))


@main.group()
def rtvm() -> None:
    """The RTVM: run it as a service, debug a stored evaluation."""


@rtvm.command("serve")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8081, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256),
              envvar="ARKA_RTVM_WORKERS", help="Worker processes (the guide's workerThreads).")
@click.option("--max-stack-depth", default=1000, show_default=True,
              type=click.IntRange(16, 1_000_000), envvar="ARKA_RTVM_MAX_STACK_DEPTH")
@click.option("--max-heap-size", default="64MB", show_default=True,
              envvar="ARKA_RTVM_MAX_HEAP_SIZE", help="Per evaluation, e.g. 64MB or 8GB.")
@click.option("--max-instructions", default=10_000_000, show_default=True,
              type=click.IntRange(1000), envvar="ARKA_RTVM_MAX_INSTRUCTIONS")
@click.option("--max-execution-time", default="30s", show_default=True,
              envvar="ARKA_RTVM_MAX_EXECUTION_TIME", help="Per evaluation, e.g. 30s.")
@click.option("--redis-url", envvar="ARKA_REDIS_URL",
              help="Share validated bytecode and tables between RTVM processes and replicas.")
def rtvm_serve(host: str, port: int, workers: int, max_stack_depth: int, max_heap_size: str,
               max_instructions: int, max_execution_time: str, redis_url: str | None) -> None:
    """Run the RTVM as a gRPC service for ARKA Core (`rtvm.host` in its configuration)."""
    from arka.rpc.rtvm import RemoteError, serve
    from arka.rtvm.vm import Limits
    from arka.settings.file import _duration, _size
    try:
        limits = Limits(max_stack_depth=max_stack_depth, max_instructions=max_instructions,
                        max_heap_size=_size(max_heap_size),
                        max_execution_time=_duration(max_execution_time))
    except ValueError as exc:
        _fail(str(exc), 2)
        raise
    import os

    from arka.observability import configure_logging
    configure_logging(os.environ.get("ARKA_LOG_LEVEL", "info").lower(),
                      os.environ.get("ARKA_LOG_FORMAT", "text").lower())
    try:
        serve(host, port, workers, limits, redis_url)
    except RemoteError as exc:
        _fail(exc.message, 2)


@rtvm.command("debug")
@click.option("--evaluation-id", required=True)
@click.option("--show-trace", is_flag=True, help="Print every instruction (pc, opcode, stack top).")
@click.option("--data-dir", default=".arka", show_default=True, envvar="ARKA_DATA_DIR",
              help=DATA_DIR_HELP)
@click.option("--database-url", envvar="ARKA_DATABASE_URL")
@click.option("--tenant", default="default", show_default=True)
def rtvm_debug(evaluation_id: str, show_trace: bool, data_dir: str,
               database_url: str | None, tenant: str) -> None:
    """Re-run a stored evaluation on the bytecode interpreter with its recorded rule and
    table versions; report whether it reproduces, each rule's conditions and, with
    --show-trace, every instruction."""
    from arka.base.errors import ArkaError as _ArkaError
    try:
        out = _core(_settings(data_dir, database_url)).replay(tenant, evaluation_id,
                                                              trace="full")
    except _ArkaError as exc:
        _fail(exc.message)
        raise
    click.echo(f"evaluation {evaluation_id}: "
               f"{'reproduces' if out['match'] else 'DOES NOT REPRODUCE'} "
               f"({out['replay_output_hash']})")
    click.echo(f"decision: {out['result']['decision']}")
    for rr in out["rule_results"]:
        conds = ", ".join(f"{k}={'true' if v else 'false'}" for k, v in rr["conditions"].items())
        err = f"  error {rr['error']['code']}: {rr['error']['message']}" if "error" in rr else ""
        click.echo(f"rule {rr['rule_id']}@{rr['version']}: {rr['status']}  {conds}{err}")
    if show_trace:
        for rule in out["trace"] or []:
            click.echo(f"--- {rule['rule_id']}@{rule['version']}")
            for e in rule["events"]:
                if "op" in e:
                    top = json.dumps(e["top"], ensure_ascii=False) if e["top"] is not None else ""
                    click.echo(f"  {e['fn']:<28} {e['pc']:>5}  {e['op']:<14} {top}")
                else:
                    click.echo("  " + json.dumps(e, ensure_ascii=False))
    sys.exit(0 if out["match"] else 1)


@main.group()
def anchor() -> None:
    """The anchor contract on an EVM chain."""


@anchor.command("deploy")
@click.option("--rpc-url", required=True, help="JSON-RPC endpoint of the chain.")
@click.option("--private-key-env", default="ARKA_ANCHOR_PRIVATE_KEY", show_default=True,
              help="Environment variable holding the operator account's private key.")
def anchor_deploy(rpc_url: str, private_key_env: str) -> None:
    """Deploy the ArkaAnchor contract; prints its address for `contract_address`."""
    import os

    from arka.trust.chain import ChainAdapter, ChainConfig, ChainError
    key = os.environ.get(private_key_env)
    if not key:
        _fail(f"set the operator's private key in ${private_key_env}", 2)
    try:
        address = ChainAdapter(ChainConfig("cli", rpc_url, None, 1, key)).deploy()
    except ChainError as exc:
        _fail(str(exc))
        raise
    click.echo(address)


@main.group()
def keys() -> None:
    """Signing keys of the embedded key directory: list, rotate."""


@keys.command("list")
@click.option("--data-dir", default=".arka", show_default=True, envvar="ARKA_DATA_DIR",
              help=DATA_DIR_HELP)
def keys_list(data_dir: str) -> None:
    """Print the public keys (JWKS); the active one is named first."""
    from arka.trust.proofs import KeyRing
    ring = KeyRing.open(Path(data_dir) / "keys")
    click.echo(json.dumps({"active": ring.active_id, **ring.jwks()}, indent=2))


@keys.command("rotate")
@click.option("--data-dir", default=".arka", show_default=True, envvar="ARKA_DATA_DIR",
              help=DATA_DIR_HELP)
def keys_rotate(data_dir: str) -> None:
    """Generate a new active signing key; old keys stay published for verification.
    Running servers pick it up when restarted."""
    from arka.trust.proofs import KeyRing
    ring = KeyRing.open(Path(data_dir) / "keys")
    old = ring.active_id
    new = ring.rotate()
    click.echo(f"active key: {new} (was {old})")
    _audit_offline(data_dir, None, "signing_key.rotate", f"signing_key:{new}",
                   {"previous": old})


def _audit_offline(data_dir: str, database_url: str | None, action: str, resource: str,
                   details: dict[str, Any], tenant: str | None = None) -> None:
    """An audit event for an operator command (actor: the OS user)."""
    import getpass

    from arka.app.core import Core
    from arka.security.principal import SYSTEM_TENANT, Actor
    from arka.storage import Store
    try:
        store = Store(_settings(data_dir, database_url).database_url)
        store.append_audit(Core.audit_event(tenant or SYSTEM_TENANT, action, resource,
                                            actor=Actor(f"cli:{getpass.getuser()}"),
                                            details=details))
    except Exception as exc:  # noqa: BLE001 - the command itself succeeded
        click.echo(f"warning: could not write the audit event ({type(exc).__name__}); is the "
                   "database migrated?", err=True)


# ---------------------------------------------------------------- API keys, audit, config

@main.group()
def apikey() -> None:
    """API keys (X-API-Key): create, list, revoke. Works on the database directly, so an
    operator can make the first key of any tenant."""


def _db_options(f: Any) -> Any:
    f = click.option("--database-url", envvar="ARKA_DATABASE_URL")(f)
    f = click.option("--data-dir", default=".arka", show_default=True, envvar="ARKA_DATA_DIR",
                     help=DATA_DIR_HELP)(f)
    return click.option("--config", "config_file", envvar="ARKA_CONFIG",
                        help="Configuration file (for the database settings).")(f)


def _operator_core(data_dir: str, database_url: str | None, config_file: str | None) -> Any:
    core = _core(_settings(data_dir, database_url, config_file))
    if not core.store.status()["up_to_date"]:
        _fail("the database is not migrated; run `arka-cli db migrate --confirm`", 2)
    return core


def _operator() -> Any:
    import getpass

    from arka.security.principal import Actor
    return Actor(f"cli:{getpass.getuser()}")


@apikey.command("create")
@click.option("--name", required=True, help="What the key is for, e.g. 'payments-service'.")
@click.option("--role", "roles", multiple=True, required=True,
              help="A role (repeat for several): admin, compliance_officer, analyst, auditor, "
                   "service, viewer.")
@click.option("--tenant", default="default", show_default=True)
@click.option("--expires-in-days", type=click.IntRange(1, 3650),
              help="Expiry; without it the key does not expire.")
@click.option("--key-only", is_flag=True,
              help="Print only the key (for `export ARKA_API_KEY=$(...)`).")
@_db_options
def apikey_create(name: str, roles: tuple[str, ...], tenant: str,
                  expires_in_days: int | None, key_only: bool, data_dir: str,
                  database_url: str | None, config_file: str | None) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from datetime import UTC, datetime, timedelta

    from arka.base.errors import ArkaError as _ArkaError
    core = _operator_core(data_dir, database_url, config_file)
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        view = core.create_api_key(tenant, name, list(roles), expires, _operator())
    except _ArkaError as exc:
        _fail(exc.message, 2)
        raise
    if key_only:
        click.echo(view["key"])
        return
    click.echo(json.dumps(view, indent=2))
    click.echo("The key is shown only now; send it as 'X-API-Key: <key>'.", err=True)


@apikey.command("list")
@click.option("--tenant", default="default", show_default=True)
@_db_options
def apikey_list(tenant: str, data_dir: str, database_url: str | None,
                config_file: str | None) -> None:
    """List a tenant's API keys (never the keys themselves)."""
    core = _operator_core(data_dir, database_url, config_file)
    click.echo(json.dumps(core.list_api_keys(tenant)["items"], indent=2))


@apikey.command("revoke")
@click.argument("key_id")
@click.option("--tenant", default="default", show_default=True)
@_db_options
def apikey_revoke(key_id: str, tenant: str, data_dir: str, database_url: str | None,
                  config_file: str | None) -> None:
    """Revoke an API key by its id (running servers refuse it within seconds)."""
    from arka.base.errors import ArkaError as _ArkaError
    core = _operator_core(data_dir, database_url, config_file)
    try:
        view = core.revoke_api_key(tenant, key_id.removeprefix("arka_").split("_")[0],
                                   _operator())
    except _ArkaError as exc:
        _fail(exc.message)
        raise
    click.echo(json.dumps(view, indent=2))


@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit log: list events, verify the chains."""


@audit_group.command("verify")
@click.option("--tenant", help="One tenant's chain (default: every chain).")
@_db_options
def audit_verify(tenant: str | None, data_dir: str, database_url: str | None,
                 config_file: str | None) -> None:
    """Recompute every event's hash; exit 1 naming the first event that does not check."""
    core = _operator_core(data_dir, database_url, config_file)
    tenants = [tenant] if tenant else core.store.audit_tenants()
    bad = False
    for t in tenants:
        out = core.verify_audit(t)
        bad |= not out["valid"]
        status = "ok" if out["valid"] else "BROKEN"
        click.echo(f"{t}: {status}, {out['events']} events, head {out['head']}"
                   + (f"\n  {out['error']}" if out["error"] else ""))
    if not tenants:
        click.echo("no audit events yet")
    sys.exit(1 if bad else 0)


@audit_group.command("list")
@click.option("--tenant", default="default", show_default=True,
              help="Tenant chain; _system holds failed logins and operator events.")
@click.option("--action", help="Only this action, e.g. rule.deploy or auth.failure.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@_db_options
def audit_list(tenant: str, action: str | None, limit: int, data_dir: str,
               database_url: str | None, config_file: str | None) -> None:
    """Print the newest audit events of a tenant as JSON lines."""
    core = _operator_core(data_dir, database_url, config_file)
    items = core.audit_events(tenant, 1, limit, action, None)["items"]
    for item in items:
        click.echo(json.dumps(item, ensure_ascii=False))


@main.group("config")
def config_group() -> None:
    """Configuration files: validate, show the effective configuration."""


@config_group.command("validate")
@click.argument("path")
def config_validate(path: str) -> None:
    """Load the file with ${VAR} substitution and the ARKA_* overrides; exit 2 naming the
    first bad key."""
    from arka.app.core import Settings
    from arka.base.errors import ArkaError as _ArkaError
    config = _config(path)
    try:
        Settings.from_config(config).check()
    except _ArkaError as exc:
        _fail(f"{path}: {exc.message}", 2)
    click.echo(f"{path}: valid ({config.environment})")


@config_group.command("show")
@click.argument("path")
def config_show(path: str) -> None:
    """Print the effective configuration (defaults filled in, secrets masked) as YAML."""
    import yaml

    from arka.settings.file import masked
    click.echo(yaml.safe_dump(masked(_config(path)), sort_keys=False), nl=False)


@main.command("backup")
@click.option("--to", "directory", required=True,
              help="A new, empty directory, or s3://bucket/prefix (ARKA_S3_ENDPOINT_URL for an "
                   "S3-compatible store; credentials the usual AWS way).")
@click.option("--data-dir", default=".arka", show_default=True, envvar="ARKA_DATA_DIR",
              help=DATA_DIR_HELP)
@click.option("--database-url", envvar="ARKA_DATABASE_URL")
def backup_cmd(directory: str, data_dir: str, database_url: str | None) -> None:
    """Back up the store (SQLite online backup or pg_dump) with a checksummed manifest."""
    import tempfile

    from arka.storage import Store, StoreError
    from arka.storage.backup import backup, upload
    from arka.storage.objects import is_s3
    try:
        store = Store(_settings(data_dir, database_url).database_url)
        if is_s3(directory):
            with tempfile.TemporaryDirectory(prefix="arka-backup-") as tmp:
                manifest = backup(store, Path(tmp) / "backup")
                upload(Path(tmp) / "backup", directory)
        else:
            manifest = backup(store, Path(directory))
    except StoreError as exc:
        _fail(exc.message)
        raise
    _audit_offline(data_dir, database_url, "backup.create", directory,
                   {"counts": manifest["counts"], "log": manifest["log"]})
    click.echo(json.dumps(manifest, indent=2))


@main.command("restore")
@click.option("--from", "directory", required=True,
              help="A backup directory or s3://bucket/prefix.")
@click.option("--confirm", is_flag=True, help="Required: restore into the target database.")
@click.option("--data-dir", default=".arka", show_default=True, envvar="ARKA_DATA_DIR",
              help=DATA_DIR_HELP)
@click.option("--database-url", envvar="ARKA_DATABASE_URL",
              help="Target database (must be new and empty).")
def restore_cmd(directory: str, confirm: bool, data_dir: str, database_url: str | None) -> None:
    """Restore a backup into a new, empty database, checking it against its manifest."""
    import tempfile

    from arka.storage import Store, StoreError
    from arka.storage.backup import download, read_manifest, restore
    from arka.storage.objects import is_s3
    try:
        with tempfile.TemporaryDirectory(prefix="arka-restore-") as tmp:
            local = Path(directory)
            if is_s3(directory):
                local = Path(tmp) / "backup"
                download(directory, local)
            if not confirm:
                manifest = read_manifest(local)
                _fail(f"refusing to restore {manifest['counts']['evaluations']} evaluations "
                      "without --confirm", 2)
            manifest = restore(local, Store(_settings(data_dir, database_url).database_url))
    except StoreError as exc:
        _fail(exc.message)
        raise
    _audit_offline(data_dir, database_url, "backup.restore", directory,
                   {"counts": manifest["counts"], "log": manifest["log"]})
    click.echo(f"restored and verified: {json.dumps(manifest['counts'])}, log tree size "
               f"{manifest['log']['tree_size']}")


@main.command("verify")
@click.argument("evaluation_file")
@click.option("--key", "key_source", required=True,
              help="Public key: a JWKS/JWK/PEM file or an http(s) URL of /api/v1/keys.")
@click.option("--inclusion", "inclusion_file",
              help="Inclusion proof JSON (from `arka-cli log inclusion`): also check that the "
                   "proof is in the log under its signed tree head.")
@click.option("--anchor", "check_anchor", is_flag=True,
              help="Also read the tree head's root from the anchor contract over RPC "
                   "(needs --inclusion, --rpc-url and --contract).")
@click.option("--rpc-url", help="JSON-RPC endpoint of the anchoring chain.")
@click.option("--contract", "contract_address", help="Address of the ArkaAnchor contract.")
def verify_cmd(evaluation_file: str, key_source: str, inclusion_file: str | None,
               check_anchor: bool, rpc_url: str | None, contract_address: str | None) -> None:
    """Verify an evaluation record's trust proof offline (and its log inclusion and anchor)."""
    if check_anchor and not (inclusion_file and rpc_url and contract_address):
        _fail("--anchor needs --inclusion (for the anchored tree size), --rpc-url and "
              "--contract", 2)
    from arka.trust.proofs import (
        Check,
        SigningKeyError,
        load_public_keys,
        verify_inclusion_proof,
        verify_record,
    )
    record = _read_json(evaluation_file, "evaluation record")
    if not isinstance(record, dict):
        _fail("the evaluation record must be a JSON object", 2)
    if key_source.startswith(("http://", "https://")):
        import httpx
        try:
            key_data: Any = httpx.get(key_source, timeout=10).raise_for_status().text
        except httpx.HTTPError as exc:
            _fail(f"cannot fetch keys from {key_source}: {exc}", 2)
            raise
    else:
        try:
            key_data = Path(key_source).read_text(encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot read key file {key_source}: {exc.strerror}", 2)
            raise
    try:
        keys = load_public_keys(key_data)
    except SigningKeyError as exc:
        _fail(exc.message, 2)
        raise
    report = verify_record(V.to_json(record), keys)
    if inclusion_file is not None:
        inclusion = _read_json(inclusion_file, "inclusion proof")
        try:
            report.checks += verify_inclusion_proof(V.to_json(record), V.to_json(inclusion), keys)
        except (KeyError, TypeError, ValueError) as exc:
            report.checks.append(Check("inclusion", False, f"malformed inclusion proof: {exc}"))
        if check_anchor:
            report.checks.append(_anchor_check(inclusion, str(rpc_url), str(contract_address)))
    for check in report.checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    click.echo("VALID" if report.valid else "INVALID")
    sys.exit(0 if report.valid else 1)


def _anchor_check(inclusion: Any, rpc_url: str, contract_address: str) -> Any:
    """Is the inclusion proof's tree head root anchored on chain with the same tree size?"""
    from arka.trust.chain import ChainAdapter, ChainConfig, ChainError
    from arka.trust.proofs import Check
    try:
        head = inclusion["sth"]
        # reading needs no key; the adapter wants one for sending, a throwaway does
        adapter = ChainAdapter(ChainConfig("verify", rpc_url, contract_address, 1, "0x" + "01" * 32))
        block, size = adapter.read_anchor(bytes.fromhex(head["root_hash"]))
    except (ChainError, KeyError, TypeError, ValueError) as exc:
        return Check("anchor", False, f"cannot read the anchor: {exc}")
    if block == 0:
        return Check("anchor", False, "this tree head's root is not anchored in the contract")
    if size != int(head["tree_size"]):
        return Check("anchor", False, f"anchored with tree size {size}, the proof says "
                                      f"{head['tree_size']}")
    return Check("anchor", True, f"root anchored in block {block} with tree size {size}")


@main.command("health")
@click.option("--url", default="http://127.0.0.1:8080", show_default=True)
@click.option("--wait", type=float, default=0, help="Seconds to wait for readiness.")
def health(url: str, wait: float) -> None:
    """Check /health/ready of a running ARKA Core; exit 1 when not ready."""
    import httpx
    deadline = time.monotonic() + wait
    while True:
        try:
            r = httpx.get(url.rstrip("/") + "/health/ready", timeout=5)
            if r.status_code == 200:
                click.echo(r.text)
                sys.exit(0)
            last = f"HTTP {r.status_code}: {r.text}"
        except httpx.HTTPError as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            _fail(f"not ready: {last}")
        time.sleep(0.5)


if __name__ == "__main__":  # pragma: no cover
    main()
