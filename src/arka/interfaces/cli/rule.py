"""`arka-cli rule validate|compile|disasm|test|bench` and `arka-cli eval`: rule files,
in process, no service."""

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
from arka.engine import RuleSet, load_rules, rule_files, schema_paths
from arka.interfaces.cli.common import fail, fail_compile, read_json
from arka.interfaces.cli.plugin import PLUGIN_CONFIG_HELP, make_host
from arka.rtvm.disasm import disassemble
from arka.rtvm.vm import TRACE_LEVELS
from arka.rules.schemas import SchemaSet
from arka.rules.tables import TableSet, load_tables
from arka.testing import Coverage, find_test_file, load_tests, run_case
from arka.testing.data import DataCoverage

TABLES_HELP = "Reference table file or directory."
SCHEMAS_HELP = ("Named schema file or directory (repeatable). Default: the schema documents "
                "among the rules and a 'schemas' directory beside them.")
STRICT_HELP = "Treat warnings (such as fields read through an untyped input) as errors."
CONTEXT_HELP = "Context JSON (inline or a file)."


def _schemas(explicit: tuple[str, ...], rule_paths: tuple[str, ...]) -> SchemaSet:
    _check_paths(explicit)
    paths = [Path(p) for p in explicit] if explicit else schema_paths(list(rule_paths))
    try:
        return SchemaSet.from_paths(paths)
    except CompileError as exc:
        fail_compile(exc)


def _tables(paths: tuple[str, ...]) -> TableSet:
    try:
        return load_tables(list(paths)) if paths else TableSet()
    except CompileError as exc:
        fail_compile(exc)
    except ArkaError as exc:
        fail(exc.message)


def _load(paths: tuple[str, ...], schemas: tuple[str, ...] = ()) -> list[Any]:
    try:
        rules = load_rules(list(paths), schemas=_schemas(schemas, paths))
    except CompileError as exc:
        click.echo(exc.render(), err=True)
        fail(f"{len(exc.diagnostics)} error(s); nothing was evaluated")
    if not rules:
        fail(f"no rule files found in {', '.join(paths)}", 2)
    return rules


def _check_paths(paths: tuple[str, ...]) -> None:
    for p in paths:
        if not Path(p).exists():
            fail(f"no such file or directory: {p}", 2)


def _context(context_arg: str | None) -> Any:
    return read_json(context_arg, "context") if context_arg else {}


@click.group()
def rule() -> None:
    """Work with rule files: validate, test, compile, disassemble, benchmark."""


@rule.command("validate")
@click.argument("files", nargs=-1, required=True)
@click.option("--schemas", multiple=True, help=SCHEMAS_HELP)
@click.option("--strict", is_flag=True, help=STRICT_HELP)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rule_validate(files: tuple[str, ...], schemas: tuple[str, ...], strict: bool,
                  output: str) -> None:
    """Check rule files without running them; exit 1 if any has errors (or, with --strict,
    warnings). Every problem is printed with file, line, column and the source line."""
    _check_paths(files)
    schema_set = _schemas(schemas, files)
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
                _, diags = check_source(text, str(f), schemas=schema_set)
        except ArkaError as exc:
            diags = [Diagnostic(exc.code, Span(str(f), 1, 1), exc.message)]
        except (OSError, UnicodeDecodeError) as exc:
            diags = [Diagnostic("E_IO", Span(str(f), 1, 1), f"cannot read: {exc}")]
        errors = [d for d in diags if d.severity == "error" or strict]
        warnings = [d for d in diags if d.severity == "warning"]
        failed |= bool(errors)
        report.append({"file": str(f), "valid": not errors,
                       "errors": [d.to_dict() for d in errors],
                       "warnings": [d.to_dict() for d in warnings]})
        if output == "text":
            if diags:
                click.echo("\n".join(d.render(text) for d in diags))
            if not errors:
                click.echo(f"{f}: ok" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    if output == "json":
        click.echo(json.dumps({"valid": not failed, "files": report}, indent=2))
    sys.exit(1 if failed else 0)


@rule.command("compile")
@click.argument("file")
@click.option("-o", "--output", "out", required=True, help="Where to write the .rtvm bytecode.")
@click.option("--schemas", multiple=True, help=SCHEMAS_HELP)
@click.option("--strict", is_flag=True, help=STRICT_HELP)
def rule_compile(file: str, out: str, schemas: tuple[str, ...], strict: bool) -> None:
    """Compile one rule file to RTVM bytecode and print its bytecode_hash (the same hash
    the service computes for the same rule content and schemas)."""
    _check_paths((file,))
    try:
        compiled = compile_file(file, schemas=_schemas(schemas, (file,)), strict=strict)
    except CompileError as exc:
        fail_compile(exc)
    for w in compiled.warnings:
        click.echo(w.render(compiled.rule.source if compiled.rule else None), err=True)
    Path(out).write_bytes(compiled.bytecode)
    click.echo(f"{out}: {len(compiled.bytecode)} bytes, {compiled.bytecode_hash}")


@rule.command("disasm")
@click.argument("file")
@click.option("--schemas", multiple=True, help=SCHEMAS_HELP)
def rule_disasm(file: str, schemas: tuple[str, ...]) -> None:
    """Disassemble a rule file or a compiled .rtvm file."""
    _check_paths((file,))
    try:
        if file.endswith(".rtvm"):
            compiled = load_bytecode(Path(file).read_bytes())
        else:
            compiled = compile_file(file, schemas=_schemas(schemas, (file,)))
    except CompileError as exc:
        fail_compile(exc)
    except ArkaError as exc:
        fail(f"{file}: {exc.code} {exc.message}")
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
@click.option("--tables", multiple=True, help=TABLES_HELP)
@click.option("--schemas", multiple=True, help=SCHEMAS_HELP)
@click.option("--verbose", "-v", is_flag=True, help="Show every test and failing results.")
@click.option("--coverage", is_flag=True, help="Report conditions and actions seen true and "
              "false, and input fields a rule reads that no test supplies.")
@click.option("--plugin-config", help=PLUGIN_CONFIG_HELP)
def rule_test(paths: tuple[str, ...], tests_file: str | None, name_filter: str | None,
              tables: tuple[str, ...], schemas: tuple[str, ...], verbose: bool,
              coverage: bool, plugin_config: str | None) -> None:
    """Run rule tests: each rule's RULE.test.yaml beside it, or --tests FILE against all
    the rules (the test file format is in docs/language.md)."""
    _check_paths(paths)
    rules = _load(paths, schemas)
    table_set = _tables(tables)
    by_name = {r.name: r for r in rules}
    # (rules under test, label, test file): a given --tests file runs against all the
    # rules together; otherwise each rule runs its own RULE.test.yaml with its dependencies.
    plan: list[tuple[list[Any], str, Path]] = []
    if tests_file:
        if not Path(tests_file).exists():
            fail(f"no such test file: {tests_file}", 2)
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
    data_cov = DataCoverage() if coverage else None
    host = make_host(plugin_config)
    passed = failed = 0
    for under_test, label, test_path in plan:
        try:
            cases = load_tests(test_path)
        except CompileError as exc:
            click.echo(exc.render(), err=True)
            failed += 1
            continue
        ruleset = RuleSet(under_test, table_set, plugins=host)
        for case in cases:
            if name_filter and name_filter.lower() not in case.name.lower():
                continue
            outcome = run_case(ruleset, case, cov)
            if data_cov is not None:
                data_cov.add(under_test, case.input)
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
        if data_cov is not None:
            missing, supplied, reads = data_cov.report(list(covered.values()))
            if missing:
                click.echo("input fields read but never supplied by a test:")
                click.echo("\n".join(missing))
            click.echo(f"data coverage: {supplied}/{reads} input fields read are supplied by "
                       "a test")
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not (passed or failed) else 0)


@click.command("eval")
@click.option("--rules", "rule_paths", multiple=True, required=True,
              help="Rule file or directory (repeatable).")
@click.option("--input", "input_path", required=True, help="Input JSON file (or inline JSON).")
@click.option("--context", "context_arg", help=CONTEXT_HELP)
@click.option("--tables", multiple=True, help=TABLES_HELP)
@click.option("--schemas", multiple=True, help=SCHEMAS_HELP)
@click.option("--trace", type=click.Choice(TRACE_LEVELS), default="none", show_default=True)
@click.option("--strategy", type=click.Choice(["most_severe", "flags_need_review"]),
              default="most_severe", show_default=True)
@click.option("--plugin-config", help=PLUGIN_CONFIG_HELP)
def eval_cmd(rule_paths: tuple[str, ...], input_path: str, context_arg: str | None,
             tables: tuple[str, ...], schemas: tuple[str, ...], trace: str,
             strategy: str, plugin_config: str | None) -> None:
    """Evaluate an input against rules and print the result JSON."""
    _check_paths(rule_paths)
    rules = _load(rule_paths, schemas)
    data = read_json(input_path, "input")
    context = _context(context_arg)
    if not isinstance(context, dict):
        fail("context must be a JSON object", 2)
    try:
        result = RuleSet(rules, _tables(tables), strategy=strategy,
                         plugins=make_host(plugin_config)).evaluate(data, context, trace=trace)
    except InputError as exc:
        click.echo(json.dumps({"error": {"code": "VALIDATION_ERROR", "message": exc.message}},
                              indent=2))
        sys.exit(1)
    except CompileError as exc:
        fail_compile(exc)
    click.echo(V.dumps(result.to_dict()))


@rule.command("bench")
@click.argument("paths", nargs=-1, required=True)
@click.option("--input", "input_path", required=True, help="Input JSON file.")
@click.option("--context", "context_arg", help=CONTEXT_HELP)
@click.option("--tables", multiple=True, help=TABLES_HELP)
@click.option("--schemas", multiple=True, help=SCHEMAS_HELP)
@click.option("-n", "count", default=10000, show_default=True, type=click.IntRange(1, 10**8))
@click.option("--plugin-config", help=PLUGIN_CONFIG_HELP)
def rule_bench(paths: tuple[str, ...], input_path: str, context_arg: str | None,
               tables: tuple[str, ...], schemas: tuple[str, ...], count: int,
               plugin_config: str | None) -> None:
    """Evaluations per second and p50/p99 latency for rules and one input, in process."""
    _check_paths(paths)
    ruleset = RuleSet(_load(paths, schemas), _tables(tables), plugins=make_host(plugin_config))
    data = read_json(input_path, "input")
    context = _context(context_arg)
    context.setdefault("timestamp", "2024-01-15T12:00:00Z")
    try:
        ruleset.evaluate(data, context)
    except InputError as exc:
        fail(f"input rejected: {exc.message}")
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
