"""`arka-cli plugin-host serve|health`: the plugins installed in this environment as a gRPC
service for ARKA Core and the RTVM (`plugins.host` in their configuration)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from arka.interfaces.cli.common import fail

if TYPE_CHECKING:
    from arka.settings.file import Plugins


def read_plugins(path: str) -> Plugins:
    """The `plugins:` section of a configuration file (`${VAR}` references resolved from
    the environment), read as ARKA Core reads it; exit 2 naming what is wrong. The other
    sections are not read: the plugin host may share Core's file."""
    from pydantic import ValidationError

    from arka.base.boundary import BoundaryError, load_yaml
    from arka.settings.blockchain import ConfigError, substitute
    from arka.settings.file import Plugins
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read configuration file {path}: {exc.strerror}", 2)
    try:
        doc = load_yaml(text, path)
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            fail(f"{path}: the configuration must be a mapping of sections", 2)
        section = substitute(doc.get("plugins") or {}, os.environ, "plugins")
        plugins = Plugins.model_validate(section)
        plugins.plugin_settings()
    except BoundaryError as exc:
        fail(f"{path}: {exc.reason} ({exc.code})", 2)
    except ConfigError as exc:
        fail(f"{path}: {exc.message}", 2)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in ("plugins", *first["loc"]))
        fail(f"{path}: {where}: {first['msg']}", 2)
    return plugins


def plugin_settings(plugins: Plugins) -> dict[str, dict[str, Any]]:
    """Each plugin's settings by name as plain JSON data (worker processes receive them
    as JSON)."""
    import simplejson
    return {name: json.loads(simplejson.dumps(settings, use_decimal=True, default=str))
            for name, settings in plugins.plugin_settings().items()}


@click.group("plugin-host")
def plugin_host() -> None:
    """The plugin host: run installed plugins as a gRPC service, check one."""


@plugin_host.command("serve")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8082, show_default=True, type=click.IntRange(1, 65535),
              envvar="ARKA_PLUGIN_HOST_PORT")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256),
              envvar="ARKA_PLUGIN_HOST_WORKERS", help="gRPC server processes sharing the port.")
@click.option("--plugin-workers", type=click.IntRange(1, 256), envvar="ARKA_PLUGIN_WORKERS",
              help="Worker processes per untrusted plugin, in each server process "
              "[default: plugins.workers of --config, else 2].")
@click.option("--config", "config_file", envvar="ARKA_CONFIG",
              type=click.Path(dir_okay=False),
              help="YAML file whose plugins: section holds each plugin's settings by name.")
@click.option("--isolate-all", is_flag=True, default=None, envvar="ARKA_PLUGIN_ISOLATE_ALL",
              help="Run trusted plugins in worker processes too "
              "[default: plugins.isolate_all of --config].")
def plugin_host_serve(host: str, port: int, workers: int, plugin_workers: int | None,
                      config_file: str | None, isolate_all: bool | None) -> None:
    """Serve the plugins installed in this environment over gRPC until SIGTERM."""
    from arka.observability import configure_logging
    from arka.rpc.plugins import PluginHostError, serve
    from arka.settings.file import Plugins
    plugins = read_plugins(config_file) if config_file else Plugins()
    config = plugin_settings(plugins)
    plugin_workers = plugin_workers if plugin_workers is not None else plugins.workers
    isolate_all = isolate_all if isolate_all is not None else plugins.isolate_all
    configure_logging(os.environ.get("ARKA_LOG_LEVEL", "info").lower(),
                      os.environ.get("ARKA_LOG_FORMAT", "text").lower())
    try:
        serve(host, port, workers, config, plugin_workers=plugin_workers,
              isolate_all=isolate_all)
    except PluginHostError as exc:
        fail(exc.message, 2)


@plugin_host.command("health")
@click.option("--target", default="127.0.0.1:8082", show_default=True,
              envvar="ARKA_PLUGIN_HOST", help="host:port of the plugin host.")
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.1, 600))
def plugin_host_health(target: str, timeout: float) -> None:
    """Ask a plugin host whether it is serving and print its plugins; exit 1 if not."""
    from arka.rpc.plugins import PluginHostError, RemoteHost
    remote = RemoteHost(target, timeout=timeout)
    try:
        health = remote.health()
        catalog = remote.catalog()
    except PluginHostError as exc:
        fail(exc.message, 1)
    finally:
        remote.close()
    click.echo(json.dumps({**health, "plugins": {n: m.version for n, m in
                                                 sorted(catalog.manifests.items())},
                           "problems": catalog.problems}, indent=2, sort_keys=True))


if __name__ == "__main__":  # pragma: no cover - until arka-cli registers the group
    plugin_host()
