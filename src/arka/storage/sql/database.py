"""The database connection: one SQLAlchemy engine per process, tenant scoping for
row-level security, the write discipline of SQLite, and the schema (Alembic)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, select

from arka.storage.records import ts  # noqa: F401 - re-exported for the adapters

SYSTEM = "*"  # the scope for work across tenants (row-level security)
MIGRATIONS = Path(__file__).parent / "migrations"


def now() -> datetime:
    return datetime.now(UTC)


def placeholder(conn: Connection) -> str:
    """The DB-API parameter marker, for the few hot statements sent without SQLAlchemy."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 20):
        self.url = url
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)
        self.engine: Engine = create_engine(url, **kwargs)
        # SQLite has one writer: writers of this process queue here instead of sleeping in
        # SQLite's busy handler, and a write transaction starts with BEGIN IMMEDIATE so that
        # what it reads (e.g. the log size) cannot change under it from another process.
        # PostgreSQL writers need neither.
        self._write_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if url.startswith("sqlite") else contextlib.nullcontext())
        self._write_engine = self.engine
        self.postgres = self.engine.dialect.name == "postgresql"
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
            self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def connections_available(self) -> float:
        """Free connections in this process's pool (size + overflow - checked out)."""
        pool = self.engine.pool
        size = getattr(pool, "size", lambda: 5)()
        overflow = max(getattr(pool, "_max_overflow", 0), 0)
        checked_out = getattr(pool, "checkedout", lambda: 0)()
        return float(size + overflow - checked_out)

    @contextlib.contextmanager
    def write(self, tenant: str = SYSTEM) -> Iterator[Connection]:
        with self._write_lock, self._write_engine.begin() as conn:
            self.scope(conn, tenant)
            yield conn

    @contextlib.contextmanager
    def read(self, tenant: str = SYSTEM) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            self.scope(conn, tenant)
            yield conn

    def scope(self, conn: Connection, tenant: str) -> None:
        """On PostgreSQL, name the tenant for row-level security (transaction-local)."""
        if self.postgres:
            conn.exec_driver_sql("SELECT set_config('arka.tenant', %s, true)", (tenant,))

    # ------------------------------------------------------------ schema
    def _alembic(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg

    def migrate(self) -> str:
        cfg = self._alembic()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return self.head_revision()

    def head_revision(self) -> str:
        return str(ScriptDirectory.from_config(self._alembic()).get_current_head())

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def status(self) -> dict[str, Any]:
        current = self.current_revision()
        head = self.head_revision()
        return {"dialect": self.dialect, "current_revision": current, "head_revision": head,
                "up_to_date": current == head}

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except Exception:  # noqa: BLE001 - readiness must report, not raise
            return False


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN " + conn.get_execution_options().get("sqlite_begin", "DEFERRED"))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun by _sqlite_begin
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
