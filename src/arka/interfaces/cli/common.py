"""What the `arka-cli` command modules share: failing with an exit code, JSON arguments,
compile error output, and the store options (`--data-dir`, `--database-url`, `--config`)
with the settings, Core and operator audit events built from them.

Service modules are imported inside the functions that need them, so that the rule
commands start without loading the service (SQLAlchemy, web3, ...).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from arka.base import values as V
from arka.base.boundary import BoundaryError
from arka.base.errors import ArkaError, CompileError

if TYPE_CHECKING:
    from arka.app.core import Core
    from arka.security.principal import Actor
    from arka.settings import Settings
    from arka.settings.file import Config

DATA_DIR_HELP = "Data directory of the embedded defaults (SQLite file, signing keys)."
CONFIG_HELP = "Configuration file (for the database settings)."
SERVER_URL = "http://127.0.0.1:8080"


def fail(message: str, code: int = 1) -> NoReturn:
    """`error: MESSAGE` on stderr, then exit with `code` (1 failure, 2 usage error)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def fail_compile(exc: CompileError) -> NoReturn:
    """Every diagnostic with its source line on stderr, then exit 1."""
    click.echo(exc.render(), err=True)
    sys.exit(1)


def read_json(text_or_path: str, what: str) -> Any:
    """A JSON argument: inline JSON, or a path to a JSON file. Numbers become decimals."""
    text = text_or_path
    if not text_or_path.lstrip().startswith(("{", "[")):
        try:
            text = Path(text_or_path).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"cannot read {what} {text_or_path!r}: {exc.strerror}", 2)
    try:
        return V.load_json_text(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", 2)
    except BoundaryError as exc:  # outside the input bounds (nesting, numbers, keys, text)
        where = "" if exc.path == "body" else f" at {exc.path}"
        verb = " is" if exc.reason.startswith("not ") else ":"
        fail(f"{what}{where}{verb} {exc.reason} ({exc.code})", 2)
    except ArkaError as exc:
        fail(f"{what}: {exc.message} ({exc.code})", 2)


def read_config(path: str) -> Config:
    """A configuration file, validated; exit 2 naming the first bad key."""
    from arka.settings.file import ConfigError, load_config
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(exc.message, 2)


def operator() -> Actor:
    """The actor of an operator command: the OS user."""
    import getpass

    from arka.security.principal import Actor
    return Actor(f"cli:{getpass.getuser()}")


def build_core(settings: Settings) -> Core:
    """ARKA Core on these settings; exit 2 when they are refused (e.g. in production)."""
    from arka.app.core import Core
    try:
        return Core(settings)
    except ArkaError as exc:
        fail(exc.message, 2)


def record_operator_event(settings: Settings, action: str, resource: str,
                          details: dict[str, Any], tenant: str | None = None) -> None:
    """An audit event for an operator command that worked on the store directly (actor:
    the OS user). Only a warning when it cannot be written: the command itself succeeded."""
    from arka.app.audit import audit_event
    from arka.security.principal import SYSTEM_TENANT
    from arka.storage import Store
    try:
        Store(settings.database_url).audit.append(audit_event(
            tenant or SYSTEM_TENANT, action, resource, actor=operator(), details=details))
    except Exception as exc:  # noqa: BLE001 - the command itself succeeded
        click.echo(f"warning: could not write the audit event ({type(exc).__name__}); is the "
                   "database migrated?", err=True)


@dataclass(frozen=True)
class StoreOptions:
    """The values of `--data-dir`, `--database-url` and `--config` (see `store_options`)."""

    data_dir: str
    database_url: str | None
    config_file: str | None

    def settings(self, blockchain_file: str | None = None) -> Settings:
        """`arka.settings.load`: the configuration file when one is named (--config or
        ARKA_CONFIG), else the embedded defaults in the data directory; exit 2 naming what
        is wrong."""
        from arka.settings import load
        try:
            return load(self.data_dir, self.database_url, self.config_file, blockchain_file)
        except ArkaError as exc:
            fail(exc.message, 2)

    def core(self) -> Core:
        return build_core(self.settings())

    def operator_core(self) -> Core:
        """Core for an operator command; exit 2 when the database is not migrated."""
        core = self.core()
        if not core.store.status()["up_to_date"]:
            fail("the database is not migrated; run `arka-cli db migrate --confirm`", 2)
        return core


def store_options(*, database_url_help: str | None = None, config_help: str = CONFIG_HELP
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The store options of a command: `--data-dir`, `--database-url` and `--config`
    (environment: ARKA_DATA_DIR, ARKA_DATABASE_URL, ARKA_CONFIG). The command receives
    them as one `store: StoreOptions` argument."""
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def with_store(*args: Any, data_dir: str, database_url: str | None,
                       config_file: str | None, **kwargs: Any) -> Any:
            return command(*args, store=StoreOptions(data_dir, database_url, config_file),
                           **kwargs)
        with_store = click.option("--config", "config_file", envvar="ARKA_CONFIG",
                                  help=config_help)(with_store)
        with_store = click.option("--database-url", envvar="ARKA_DATABASE_URL",
                                  help=database_url_help)(with_store)
        return click.option("--data-dir", default=".arka", show_default=True,
                            envvar="ARKA_DATA_DIR", help=DATA_DIR_HELP)(with_store)
    return decorate
