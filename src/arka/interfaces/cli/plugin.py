"""`arka-cli plugin list | info NAME | test NAME FUNCTION --args JSON`: the plugins rules
may call (installed here, or on a plugin host with `--host`), and one call made by hand.

`--plugin-config FILE` (here and on `rule test`, `eval`, `rule bench`) is a YAML file
whose `plugins:` section holds each plugin's settings by name, as in the service's
configuration file, e.g. `plugins: {sanctions: {datasets: [lists/sdn.ftm.json]}}`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from arka.base import values as V
from arka.interfaces.cli.common import fail, read_json

if TYPE_CHECKING:
    from arka.plugins import Host

PLUGIN_CONFIG_HELP = ("YAML file with a `plugins:` section: each plugin's settings by name "
                      "(the service configuration file works too).")
HOST_HELP = "A plugin host (HOST:PORT, `arka-cli plugin-host serve`) instead of the plugins " \
            "installed here."


def plugin_settings(path: str | None) -> dict[str, dict[str, Any]]:
    """Each plugin's settings from a `--plugin-config` file (exit 2 naming the problem)."""
    if path is None:
        return {}
    from pydantic import ValidationError

    from arka.base.boundary import BoundaryError, load_yaml
    from arka.settings.blockchain import ConfigError
    from arka.settings.file import Plugins
    try:
        doc = load_yaml(Path(path).read_text(encoding="utf-8"), path)
    except OSError as exc:
        fail(f"cannot read the plugin configuration {path!r}: {exc.strerror}", 2)
    except BoundaryError as exc:
        fail(f"{path}: {exc.message}", 2)
    if not isinstance(doc, dict) or not isinstance(doc.get("plugins", {}), dict):
        fail(f"{path}: expected a mapping with a `plugins:` mapping of plugin settings", 2)
    try:
        return Plugins.model_validate(doc.get("plugins", {})).plugin_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"{path}: plugins.{where}: {first['msg']}", 2)
    except ConfigError as exc:
        fail(f"{path}: {exc.message}", 2)


def make_host(plugin_config: str | None = None, host: str | None = None) -> Host:
    from arka.plugins import LocalHost
    if host:
        from arka.rpc.plugins import RemoteHost
        return RemoteHost(host)
    return LocalHost(config=plugin_settings(plugin_config))


def _service(plugin_config: str | None, host: str | None) -> Any:
    from arka.app.plugins import Plugins
    return Plugins(make_host(plugin_config, host))


@click.group()
def plugin() -> None:
    """Plugins rules call as plugin.<name>.<function>(...)."""


@plugin.command("list")
@click.option("--host", help=HOST_HELP)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plugin_list(host: str | None, output: str) -> None:
    """The installed plugins, with their functions, and entry points that did not load."""
    service = _service(None, host)
    try:
        data = service.list(1, 10_000)
    finally:
        service.host.close()
    if output == "json":
        click.echo(V.dumps(data))
        return
    if not data["items"]:
        click.echo("no plugins installed (a plugin registers a class in the entry-point "
                   "group arka.plugins)")
    for m in data["items"]:
        trust = "trusted, in process" if m["runs"] == "in process" else "in worker processes"
        click.echo(f"{m['name']} {m['version']} ({trust}): {m['description']}")
        for f in m["functions"]:
            click.echo(f"  {f['signature']}")
    for name, problem in data.get("problems", {}).items():
        click.echo(f"not loaded: {name}: {problem}", err=True)


@plugin.command("info")
@click.argument("name")
@click.option("--host", help=HOST_HELP)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plugin_info(name: str, host: str | None, output: str) -> None:
    """One plugin's manifest: functions with typed parameters and result, permissions."""
    from arka.base.errors import NotFound
    service = _service(None, host)
    try:
        m = service.get(name)
    except NotFound as exc:
        fail(exc.message)
    finally:
        service.host.close()
    if output == "json":
        click.echo(V.dumps(m))
        return
    click.echo(f"{m['name']} {m['version']}  ({m['distribution'] or 'no distribution'})")
    if m["description"]:
        click.echo(m["description"])
    click.echo(f"trusted: {'yes' if m['trusted'] else 'no'}; runs {m['runs']} "
               f"(host: {m['host']})")
    p = m["permissions"]
    click.echo(f"permissions: network {'yes' if p['network'] else 'no'}; secrets "
               f"{', '.join(p['secrets']) or 'none'}; files {', '.join(p['files']) or 'none'}; "
               f"max_time {p['max_time']:g}s; max_memory {p['max_memory'] // (1024 * 1024)} MiB")
    click.echo("functions:")
    for f in m["functions"]:
        click.echo(f"  {f['signature']}")
        if f["doc"]:
            click.echo(f"      {f['doc']}")


@plugin.command("test")
@click.argument("name")
@click.argument("function")
@click.option("--args", "args_arg", default="{}", show_default=True,
              help="The arguments: a JSON object of parameter name to value (or a file).")
@click.option("--plugin-config", help=PLUGIN_CONFIG_HELP)
@click.option("--host", help=HOST_HELP)
def plugin_test(name: str, function: str, args_arg: str, plugin_config: str | None,
                host: str | None) -> None:
    """Call one plugin function as a rule would and print the call's record (arguments,
    result or error, plugin and data versions). Exit 1 when the call fails."""
    from arka.base.errors import ArkaError
    args = read_json(args_arg, "--args")
    service = _service(plugin_config, host)
    try:
        record = service.call(name, function, args)
    except ArkaError as exc:
        fail(exc.message, 2)
    finally:
        service.host.close()
    click.echo(json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False))
    sys.exit(1 if "error" in record else 0)
