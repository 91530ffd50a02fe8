"""`arka-cli serve`: ARKA Core's HTTP API under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from arka.base.errors import ArkaError
from arka.interfaces.cli.common import (
    StoreOptions,
    build_core,
    fail,
    read_config,
    store_options,
)

if TYPE_CHECKING:
    from arka.app.core import Core
    from arka.settings import Settings


@click.command("serve")
@click.option("--host", help="Listen address [default: api.host, else 0.0.0.0].")
@click.option("--port", type=click.IntRange(1, 65535),
              help="Listen port [default: api.port, else 8080].")
@store_options(
    database_url_help="SQLAlchemy URL, e.g. postgresql+psycopg://pact@db/pact (default: "
                      "SQLite in the data directory).",
    config_help="Configuration file (config/production.yaml layout); its api.host and "
                "api.port apply unless --host/--port are given.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--blockchain", "blockchain_file", envvar="ARKA_BLOCKCHAIN_CONFIG",
              help="YAML file with the `blockchain:` block (networks to anchor tree heads on). "
                   "Without it anchoring is off.")
@click.option("--demo", is_flag=True,
              help="Try ARKA out: a new temporary database (deleted at exit) with the "
                   "example rules, tables, schemas and rulesets deployed, a day of sample "
                   "evaluations and one API key per role (printed); new rule versions need "
                   "a second person's approval; listens on 127.0.0.1 unless --host is "
                   "given. Not with --config or --database-url.")
@click.option("--examples", "examples_dir", default="examples", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="With --demo: the examples folder to deploy (schemas/, tables/, rules/, "
                   "rulesets/, screening/).")
@click.option("--no-auth", is_flag=True,
              help="Development only: every request acts as an admin of tenant 'default'. "
                   "Refused when ARKA_ENVIRONMENT is production.")
def serve(host: str | None, port: int | None, workers: int, blockchain_file: str | None,
          demo: bool, examples_dir: Path, no_auth: bool, store: StoreOptions) -> None:
    """Run ARKA Core (HTTP API) on embedded defaults or the configured database; its web
    dashboard is at /ui/.

    Authentication is on: on first start, with no API keys stored yet, an admin key for
    tenant 'default' is created and printed once (to stderr)."""
    if not demo:
        settings = store.settings(blockchain_file)
        config = read_config(store.config_file) if store.config_file else None
        _run(settings, host or (config.api.host if config else "0.0.0.0"),
             port or (config.api.port if config else 8080), workers, no_auth)
        return
    if store.config_file or store.database_url:
        fail("--demo runs on a temporary database of its own: leave out --config and "
             "--database-url (and ARKA_CONFIG, ARKA_DATABASE_URL)", 2)
    if not (examples_dir / "rules").is_dir():
        fail(f"--demo deploys the examples, but {examples_dir} has no rules/ folder: run it "
             "from a checkout of ARKA Engine or pass --examples DIR", 2)
    import shutil
    import signal
    import sys
    import tempfile
    data = Path(tempfile.mkdtemp(prefix="arka-demo-"))
    # uvicorn re-raises the SIGTERM that stopped it once it has shut down: exit through
    # Python then, so that the temporary data is removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        _run(_demo_settings(data, examples_dir, blockchain_file), host or "127.0.0.1",
             port or 8080, workers, no_auth, demo=examples_dir)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _demo_settings(data: Path, examples: Path, blockchain_file: str | None) -> Settings:
    import dataclasses

    from arka.app.demo import plugin_settings
    from arka.settings import load
    try:
        settings = load(str(data), None, None, blockchain_file)
    except ArkaError as exc:
        fail(exc.message, 2)
    return dataclasses.replace(settings, plugin_settings=plugin_settings(examples),
                               require_approval=True)


def _seed_demo(core: Core, examples: Path, url: str) -> None:
    from arka.app.demo import seed
    try:
        made = seed(core, examples)
    except ArkaError as exc:
        fail(f"the demo could not deploy the examples: {exc.message}", 1)
    lines = [f"\nDemo: {', '.join(f'{len(v)} {k}' for k, v in made.deployed.items())} "
             f"deployed, {made.evaluations} sample evaluations stored (tenant 'default').",
             f"Dashboard: {url}/ui/   API: {url}/api/v1/   (the data is deleted at exit)",
             "API keys (sign in with one; two compliance officers, so one can approve "
             "what the other deploys):"]
    lines += [f"    {role:<19} {person:<11} {key}" for role, person, key in made.keys]
    click.echo("\n".join(lines) + "\n", err=True)


def _run(settings: Settings, host: str, port: int, workers: int, no_auth: bool,
         demo: Path | None = None) -> None:
    import dataclasses
    import os

    import uvicorn

    from arka.interfaces.http.asgi import build_app, http_protocol, setup_process
    from arka.settings import WORKER_ENV
    if no_auth:
        try:
            settings = settings.without_auth()
        except ArkaError as exc:
            fail(exc.message, 2)
        click.echo("WARNING: authentication is off (--no-auth); every request is an admin "
                   "of tenant 'default'", err=True)
    core = _wait_for_database(settings)
    try:
        if settings.database_url.startswith("sqlite"):
            core.store.migrate()  # the embedded database migrates itself
        if demo is not None:
            _seed_demo(core, demo, f"http://{host}:{port}")
        created = core.apikeys.bootstrap() if settings.auth.enabled else None
    except ArkaError as exc:  # e.g. the database went away again
        fail(exc.message, 1)
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
    if workers > 1:  # the workers take these settings whole (`asgi.app_from_env`)
        os.environ[WORKER_ENV] = settings.to_env()
        setup_process(dataclasses.replace(settings, tracing_enabled=False))
        uvicorn.run("arka.interfaces.http.asgi:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_config=None, access_log=False,
                    http=http_protocol(settings))
        return
    setup_process(settings)
    uvicorn.run(build_app(settings), host=host, port=port, log_config=None, access_log=False,
                http=http_protocol(settings))


def _wait_for_database(settings: Settings) -> Core:
    """Start-up's first contact with the database: retried with a log line each time
    for up to database.startup_timeout (default 60 s); then exit 1 with the reason."""
    from arka import observability
    observability.configure_logging(settings.log_level, settings.log_format,
                                    settings.log_output)
    core = build_core(settings)
    reason = core.wait_for_database()
    if reason is not None:
        fail(f"the database did not answer within {settings.db_startup_timeout:g} s "
             f"(database.startup_timeout): {reason}", 1)
    return core
