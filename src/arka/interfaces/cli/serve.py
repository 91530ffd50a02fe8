"""`arka-cli serve`: ARKA Core's HTTP API under uvicorn."""

from __future__ import annotations

import click

from arka.interfaces.cli.common import (
    StoreOptions,
    build_core,
    fail,
    read_config,
    store_options,
)


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
@click.option("--no-auth", is_flag=True,
              help="Development only: every request acts as an admin of tenant 'default'. "
                   "Refused when ARKA_ENVIRONMENT is production.")
def serve(host: str | None, port: int | None, workers: int, blockchain_file: str | None,
          no_auth: bool, store: StoreOptions) -> None:
    """Run ARKA Core (HTTP API) on embedded defaults or the configured database.

    Authentication is on: on first start, with no API keys stored yet, an admin key for
    tenant 'default' is created and printed once (to stderr)."""
    import dataclasses
    import os

    import uvicorn

    from arka.base.errors import ArkaError
    from arka.interfaces.http.asgi import build_app, setup_process
    from arka.settings import WORKER_ENV
    settings = store.settings(blockchain_file)
    config = read_config(store.config_file) if store.config_file else None
    host = host or (config.api.host if config else "0.0.0.0")
    port = port or (config.api.port if config else 8080)
    if no_auth:
        try:
            settings = settings.without_auth()
        except ArkaError as exc:
            fail(exc.message, 2)
        click.echo("WARNING: authentication is off (--no-auth); every request is an admin "
                   "of tenant 'default'", err=True)
    if settings.database_url.startswith("sqlite"):
        from arka.storage import Store
        Store(settings.database_url).migrate()  # the embedded database migrates itself
    if settings.auth.enabled:
        created = build_core(settings).apikeys.bootstrap()
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
                    workers=workers, log_config=None, access_log=False)
        return
    setup_process(settings)
    uvicorn.run(build_app(settings), host=host, port=port, log_config=None, access_log=False)
