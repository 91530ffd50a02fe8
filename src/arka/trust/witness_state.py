"""A witness's `State` in a SQLite file: the latest cosigned checkpoint of each log, and
the newest refused checkpoints (evidence of a log's misbehaviour).

    checkpoints(origin PRIMARY KEY, size, root, note, timestamp)
    refused(id, origin, note, old_size, reason, at)      the newest MAX_REFUSED

Compare-and-set runs in a `BEGIN IMMEDIATE` transaction, which takes the database's write
lock before reading: two threads or processes sharing the file cannot both pass the check
against the same record. The WAL journal with `synchronous=FULL` makes a commit durable
before `compare_and_set` returns, so before the witness answers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from arka.trust.witness import MAX_REFUSED, Record, Refusal, WitnessError

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    timestamp INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    note TEXT NOT NULL,
    old_size INTEGER NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL
);
"""


class SqliteState:
    """A witness `State` in the SQLite file at `path` (created if missing). A
    connection per call, so one instance serves any number of threads."""

    def __init__(self, path: str | Path, max_refused: int = MAX_REFUSED,
                 timeout: float = 30.0) -> None:
        self.path = str(path)
        self.max_refused = max_refused
        self.timeout = timeout
        try:
            with self._transaction() as con:
                version = con.execute("PRAGMA user_version").fetchone()[0]
                tables = {r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                if version not in (0, SCHEMA_VERSION) or (
                        version == 0 and tables - {"sqlite_sequence"}):
                    raise WitnessError(f"{self.path} is not a witness state file (schema "
                                       f"{version}, tables {sorted(tables)})")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise WitnessError(f"cannot open the witness state {self.path}: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                              check_same_thread=False)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = FULL")
        return con

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def latest(self, origin: str) -> Record | None:
        with closing(self._connect()) as con:
            row = con.execute("SELECT size, root, note, timestamp FROM checkpoints "
                              "WHERE origin = ?", (origin,)).fetchone()
        return None if row is None else Record(int(row[0]), bytes(row[1]), row[2], int(row[3]))

    def compare_and_set(self, origin: str, expected: Record | None, new: Record) -> bool:
        with self._transaction() as con:
            row = con.execute("SELECT size, root FROM checkpoints WHERE origin = ?",
                              (origin,)).fetchone()
            current = None if row is None else (int(row[0]), bytes(row[1]))
            if current != (None if expected is None else (expected.size, expected.root)):
                return False
            con.execute("INSERT OR REPLACE INTO checkpoints (origin, size, root, note, "
                        "timestamp) VALUES (?, ?, ?, ?, ?)",
                        (origin, new.size, new.root, new.checkpoint, new.timestamp))
        return True

    def record_refused(self, refusal: Refusal) -> None:
        with self._transaction() as con:
            con.execute("INSERT INTO refused (origin, note, old_size, reason, at) "
                        "VALUES (?, ?, ?, ?, ?)", (refusal.origin, refusal.checkpoint,
                                                   refusal.old_size, refusal.reason,
                                                   refusal.at))
            con.execute("DELETE FROM refused WHERE id <= (SELECT MAX(id) FROM refused) - ?",
                        (self.max_refused,))

    def refused(self, origin: str | None = None, limit: int = 100) -> list[Refusal]:
        query = "SELECT origin, note, old_size, reason, at FROM refused"
        args: tuple[object, ...] = ()
        if origin is not None:
            query, args = query + " WHERE origin = ?", (origin,)
        with closing(self._connect()) as con:
            rows = con.execute(query + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [Refusal(r[0], r[1], int(r[2]), r[3], int(r[4])) for r in rows]
