"""The database connection: one SQLAlchemy engine per process, tenant scoping for
row-level security, the write discipline of SQLite, the schema (Alembic), and outages.

Outages are translated here, once, for every caller: a driver error of the connection
class (PostgreSQL unreachable or gone mid-request, a pool timeout, SQLite busy, locked,
read-only, out of space, an I/O error, its file removed or never migrated) becomes
`DatabaseUnavailable` (SERVICE_UNAVAILABLE, 503 with Retry-After over HTTP). Data errors
(integrity, data, programming) pass unchanged. A connection that failed is invalidated and
the pool pings before each checkout, so the first request after the database is back
succeeds without a restart.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext, make_url

from arka.base.errors import ServiceUnavailable
from arka.storage.records import ts  # noqa: F401 - re-exported for the adapters

SYSTEM = "*"  # the scope for work across tenants (row-level security)
MIGRATIONS = Path(__file__).parent / "migrations"
CONNECT_TIMEOUT = 10  # seconds to open a PostgreSQL connection (unless the URL sets one)
POOL_TIMEOUT = 10  # seconds to wait for a free pooled connection
SQLITE_BUSY_SECONDS = 30  # SQLite: how long a writer waits for the write lock


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached or cannot take the request now (503)."""

    code = "E_DATABASE_UNAVAILABLE"


# SQLite result codes that mean "not now" rather than "this statement is wrong"
_SQLITE_OUTAGES = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_CANTOPEN",
                   "SQLITE_READONLY", "SQLITE_FULL", "SQLITE_PROTOCOL", "SQLITE_NOLFS")


def outage(exc: BaseException) -> DatabaseUnavailable | None:
    """The outage `exc` reports, or None when it is not one (data errors, bugs)."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no free connection in time
        return DatabaseUnavailable(f"the database is overloaded: no connection free within "
                                   f"{POOL_TIMEOUT} s; retry later")
    if isinstance(exc, sa_exc.DisconnectionError):
        return DatabaseUnavailable("the database connection was lost; retry later")
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return _unavailable(orig)
    name = getattr(orig, "sqlite_errorname", None)
    if name is not None:  # sqlite3 (Python 3.11+ names the result code)
        text = str(orig)
        if str(name).startswith(_SQLITE_OUTAGES):
            return _unavailable(orig)
        if text.startswith("no such table"):
            return DatabaseUnavailable(f"the database has no schema ({text}); run "
                                       "`arka-cli db migrate --confirm`", retry_after=30)
        return None
    module = type(orig).__module__.split(".")[0]
    if module == "sqlite3":  # a closed or unusable connection has no result code
        import sqlite3
        return _unavailable(orig) if isinstance(
            orig, sqlite3.OperationalError | sqlite3.InterfaceError) else None
    if getattr(orig, "sqlstate", None) == "42P01":  # PostgreSQL: undefined table
        return DatabaseUnavailable(f"the database has no schema ({_first_line(orig)}); run "
                                   "`arka-cli db migrate --confirm`", retry_after=30)
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return _unavailable(orig)  # connection refused or lost, server shutting down, ...
    if module == "psycopg":  # raised outside SQLAlchemy's wrapping
        import psycopg
        if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
            return _unavailable(orig)
    return None


def _first_line(orig: BaseException | None) -> str:
    if orig is None:
        return "no detail"
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]


def _unavailable(orig: BaseException | None) -> DatabaseUnavailable:
    return DatabaseUnavailable(f"the database is unavailable ({_first_line(orig)}); "
                               "retry later")


def _translate(ctx: ExceptionContext) -> None:
    """Engine hook: raise the outage in place of the driver's error. A pre-ping failure
    is left to the pool, which then reconnects."""
    if ctx.is_pre_ping:
        return
    found = outage(ctx.sqlalchemy_exception or ctx.original_exception)
    if found is not None:
        raise found


def now() -> datetime:
    return datetime.now(UTC)


def placeholder(conn: Connection) -> str:
    """The DB-API parameter marker, for the few hot statements sent without SQLAlchemy."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 20):
        self.url = url
        kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
        if make_url(url).database not in (None, "", ":memory:"):  # a pool with a queue
            kwargs["pool_timeout"] = POOL_TIMEOUT
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS,
                                      "check_same_thread": False}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow)
            if url.startswith("postgresql") and "connect_timeout" not in make_url(url).query:
                kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
        self.engine: Engine = create_engine(url, **kwargs)
        event.listen(self.engine, "handle_error", _translate)
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
            SqliteFile.watch(self.engine)

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
        """One transaction: all of it is stored or, on any error (an outage included),
        none of it."""
        with _outages(), self._writer(), self._write_engine.begin() as conn:
            self.scope(conn, tenant)
            yield conn

    @contextlib.contextmanager
    def read(self, tenant: str = SYSTEM) -> Iterator[Connection]:
        with _outages(), self.engine.connect() as conn:
            self.scope(conn, tenant)
            yield conn

    @contextlib.contextmanager
    def _writer(self) -> Iterator[None]:
        """This process's turn to write (SQLite), waiting at most SQLITE_BUSY_SECONDS."""
        if isinstance(self._write_lock, contextlib.nullcontext):
            yield
            return
        if not self._write_lock.acquire(timeout=SQLITE_BUSY_SECONDS):
            raise DatabaseUnavailable(f"the database is busy: no write slot within "
                                      f"{SQLITE_BUSY_SECONDS} s; retry later")
        try:
            yield
        finally:
            self._write_lock.release()

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
        return self.probe() is None

    def probe(self) -> str | None:
        """None when the database answers, else why not (one line, no secrets)."""
        try:
            with self.read() as conn:
                conn.execute(select(1))
            return None
        except DatabaseUnavailable as exc:
            return exc.message
        except Exception as exc:  # noqa: BLE001 - readiness must report, not raise
            return f"{type(exc).__name__}: {_first_line(exc)}"

    def wait(self, seconds: float, on_retry: Any = None, interval: float = 1.0) -> str | None:
        """Probe until the database answers or `seconds` have passed; None when it
        answered, else the last reason. `on_retry(reason, attempt, left)` is called before
        each pause (the caller logs it); pauses double up to 5 s."""
        deadline = time.monotonic() + max(seconds, 0.0)
        attempt = 0
        while True:
            reason = self.probe()
            attempt += 1
            left = deadline - time.monotonic()
            if reason is None or left <= 0:
                return reason
            pause = min(interval * 2 ** min(attempt - 1, 3), 5.0, left)
            if on_retry is not None:
                on_retry(reason, attempt, left)
            time.sleep(pause)
            self.engine.dispose()  # nothing half-open is kept from the failed attempts


@contextlib.contextmanager
def _outages() -> Iterator[None]:
    """What the engine hook cannot see (pool timeouts, errors outside a statement)."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        found = outage(exc)
        if found is None:
            raise
        raise found from exc


class SqliteFile:
    """A SQLite file that disappears or is replaced under a running process (removed,
    restored from a backup) must not be written in the void, nor silently re-created
    empty: a pooled connection whose file is gone or different is dropped at checkout,
    and a new one is refused while the file is missing (DatabaseUnavailable)."""

    def __init__(self, path: str):
        self.path = path
        self.seen = os.path.exists(path)

    @classmethod
    def watch(cls, engine: Engine) -> None:
        path = engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return
        watcher = cls(path)
        event.listen(engine, "do_connect", watcher.connecting)
        event.listen(engine, "connect", watcher.connected)
        event.listen(engine, "checkout", watcher.checkout)

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def connecting(self, *_args: Any) -> None:
        if self.seen and self._identity() is None:
            raise DatabaseUnavailable(f"the database file {os.path.basename(self.path)} is "
                                      "missing (removed?); restore it from a backup, or run "
                                      "`arka-cli db migrate --confirm` for an empty one",
                                      retry_after=30)

    def connected(self, _dbapi_conn: Any, record: Any) -> None:
        self.seen = True
        record.info["sqlite_file"] = self._identity()

    def checkout(self, _dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if record.info.get("sqlite_file") != self._identity():
            raise sa_exc.DisconnectionError("the database file was removed or replaced")


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN " + conn.get_execution_options().get("sqlite_begin", "DEFERRED"))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun by _sqlite_begin
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
