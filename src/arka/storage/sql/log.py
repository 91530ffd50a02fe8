"""The transparency log's storage: leaves (their bytes and hashes), the subtree hashes
each append completes (RFC 9162 hashing from `arka.trust.merkle`), signed tree heads,
their C2SP checkpoints and witnesses' cosignatures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from arka.base.errors import NotFound, StoreError
from arka.storage.sql import schema as S
from arka.storage.sql.database import Database, placeholder
from arka.trust import merkle
from arka.trust.merkle import NodeKey

_INDEX_MASK = (1 << 48) - 1


def _node_key(key: NodeKey) -> int:
    level, index = key
    return (level << 48) | index


class SqlLog:
    def __init__(self, db: Database):
        self.db = db

    def append_in(self, conn: Connection, items: list[tuple[str, bytes]]) -> int:
        """Append leaves (evaluation id, leaf bytes) in order within an open write
        transaction; stores each leaf's bytes and hash and every subtree they complete.
        Returns the first index."""
        if self.db.postgres:  # one appender at a time, across processes
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(6962)")
        start = int(conn.execute(select(func.coalesce(func.max(S.log_leaves.c.idx) + 1, 0)))
                    .scalar_one())
        wanted: set[NodeKey] = set()
        for k in range(len(items)):
            level, i = 0, start + k
            while i & 1:
                if ((i - 1) + 1) << level <= start:  # completed before this batch: stored
                    wanted.add((level, i - 1))
                level, i = level + 1, i >> 1
        nodes = self._fetch_nodes(conn, wanted)
        leaf_rows: list[tuple[int, str, bytes]] = []
        node_rows: list[tuple[int, bytes]] = []
        for k, (evaluation_id, entry) in enumerate(items):
            idx = start + k
            leaf = merkle.leaf_hash(entry)
            leaf_rows.append((idx, evaluation_id, leaf))
            for key, h in merkle.nodes_completed_by_append(idx, leaf, nodes.__getitem__):
                nodes[key] = h
                node_rows.append((_node_key(key), h))
        # The log is the hottest write path: plain DB-API executemany on SQLite, COPY on
        # PostgreSQL (one stream per table instead of a statement per row).
        if self.db.postgres:
            self._copy(conn, "COPY log_leaves (idx, evaluation_id, leaf_hash) FROM STDIN",
                       leaf_rows)
            self._copy(conn, "COPY log_nodes (key, hash) FROM STDIN", node_rows)
            return start
        p = placeholder(conn)
        conn.exec_driver_sql(f"INSERT INTO log_leaves (idx, evaluation_id, leaf_hash) "
                             f"VALUES ({p}, {p}, {p})", leaf_rows)
        conn.exec_driver_sql(f"INSERT INTO log_nodes (key, hash) VALUES ({p}, {p})",
                             node_rows)
        return start

    @staticmethod
    def _copy(conn: Connection, statement: str, rows: list[Any]) -> None:
        """COPY rows in the connection's transaction; psycopg's errors become SQLAlchemy's
        (a duplicate key is an IntegrityError, as from any other statement)."""
        import psycopg
        raw: Any = conn.connection.dbapi_connection  # psycopg's, in this transaction
        try:
            with raw.cursor() as cur, cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as exc:
            lost = bool(raw.broken or raw.closed)  # the server went away: drop the connection
            if lost:
                conn.invalidate(exc)
            raise DBAPIError.instance(statement, None, exc, psycopg.Error,
                                      connection_invalidated=lost) from exc

    @staticmethod
    def _fetch_nodes(conn: Connection, keys: set[NodeKey]) -> dict[NodeKey, bytes]:
        out: dict[NodeKey, bytes] = {}
        if not keys:
            return out
        # plain DB-API: proofs are read on a hot path and need no statement compilation
        p = placeholder(conn)
        params = [_node_key(k) for k in keys]
        rows = conn.exec_driver_sql(
            f"SELECT key, hash FROM log_nodes WHERE key IN ({', '.join([p] * len(params))})",
            tuple(params))
        for key, h in rows:
            out[(key >> 48, key & _INDEX_MASK)] = bytes(h)
        missing = keys - out.keys()
        if missing:
            raise StoreError(f"the log is missing subtree hashes {sorted(missing)[:3]}")
        return out

    @staticmethod
    def _present_nodes(conn: Connection, keys: list[int]) -> dict[NodeKey, bytes]:
        out: dict[NodeKey, bytes] = {}
        p = placeholder(conn)
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            for key, h in conn.exec_driver_sql(
                    f"SELECT key, hash FROM log_nodes WHERE key IN ({', '.join([p] * len(part))})",
                    tuple(part)):
                out[(key >> 48, key & _INDEX_MASK)] = bytes(h)
        return out

    def stored_nodes(self, keys: list[NodeKey]) -> dict[NodeKey, bytes]:
        """The stored subtree hashes among `keys` (missing ones are left out)."""
        with self.db.read() as conn:
            return self._present_nodes(conn, [_node_key(k) for k in keys])

    def leaves(self, batch: int = 1000, start: int = 0) -> Iterator[list[tuple[int, str, bytes]]]:
        """(index, evaluation id, leaf hash) in index order from `start`, `batch` at a
        time (keyset paging: bounded memory on any size)."""
        after = start - 1
        while True:
            with self.db.read() as conn:
                p = placeholder(conn)
                rows = [(int(i), e, bytes(h)) for i, e, h in conn.exec_driver_sql(
                    f"SELECT idx, evaluation_id, leaf_hash FROM log_leaves WHERE idx > {p} "
                    f"ORDER BY idx LIMIT {int(batch)}", (after,))]
            if not rows:
                return
            after = rows[-1][0]
            yield rows

    def indices_of(self, evaluation_ids: list[str]) -> dict[str, int]:
        """The leaf index of each of these evaluations that has one."""
        out: dict[str, int] = {}
        with self.db.read() as conn:
            p = placeholder(conn)
            for i in range(0, len(evaluation_ids), 500):
                part = evaluation_ids[i:i + 500]
                for idx, e in conn.exec_driver_sql(
                        f"SELECT idx, evaluation_id FROM log_leaves WHERE evaluation_id IN "
                        f"({', '.join([p] * len(part))})", tuple(part)):
                    out[e] = int(idx)
        return out

    def leaf_count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(S.log_leaves)).scalar_one())

    def heads(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every signed tree head, smallest first."""
        h = S.log_heads.c
        after = -1
        while True:
            with self.db.read() as conn:
                rows = [dict(r) for r in conn.execute(
                    select(S.log_heads).where(h.tree_size > after).order_by(h.tree_size)
                    .limit(batch)).mappings()]
            if not rows:
                return
            after = int(rows[-1]["tree_size"])
            yield from rows

    def nodes(self, keys: set[NodeKey]) -> dict[NodeKey, bytes]:
        with self.db.read() as conn:
            return self._fetch_nodes(conn, keys)

    def size(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.coalesce(func.max(S.log_leaves.c.idx) + 1, 0)))
                       .scalar_one())

    def leaf(self, evaluation_id: str) -> tuple[int, bytes]:
        with self.db.read() as conn:
            p = placeholder(conn)
            row = conn.exec_driver_sql(f"SELECT idx, leaf_hash FROM log_leaves WHERE "
                                       f"evaluation_id = {p}", (evaluation_id,)).first()
        if row is None:
            raise NotFound(f"evaluation {evaluation_id} is not in the log")
        return int(row.idx), bytes(row.leaf_hash)

    def latest_head(self) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(select(S.log_heads).order_by(S.log_heads.c.tree_size.desc())
                               .limit(1)).mappings().first()
        return dict(row) if row else None

    def head(self, tree_size: int) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(select(S.log_heads).where(S.log_heads.c.tree_size == tree_size)
                               ).mappings().first()
        return dict(row) if row else None

    def put_head(self, head: dict[str, Any]) -> dict[str, Any]:
        """Store a signed tree head; if one for that size exists already, that one stands."""
        try:
            with self.db.write() as conn:
                conn.execute(S.log_heads.insert(), head)
        except IntegrityError:
            existing = self.head(int(head["tree_size"]))
            assert existing is not None
            return existing
        return head

    # ------------------------------------------------------------------ C2SP

    def entries(self, start: int, end: int) -> list[tuple[int, str, bytes]]:
        """(index, evaluation id, leaf hash) of leaves [start, end), in index order."""
        with self.db.read() as conn:
            p = placeholder(conn)
            return [(int(i), e, bytes(h)) for i, e, h in conn.exec_driver_sql(
                f"SELECT idx, evaluation_id, leaf_hash FROM log_leaves "
                f"WHERE idx >= {p} AND idx < {p} ORDER BY idx", (start, end))]

    def checkpoint(self, origin: str, tree_size: int | None = None) -> dict[str, Any] | None:
        """The stored checkpoint of the log `origin` of that size (default: the largest)."""
        c = S.log_checkpoints.c
        q = select(S.log_checkpoints).where(c.origin == origin)
        q = q.where(c.tree_size == tree_size) if tree_size is not None else \
            q.order_by(c.tree_size.desc()).limit(1)
        with self.db.read() as conn:
            row = conn.execute(q).mappings().first()
        return dict(row) if row else None

    def put_checkpoint(self, origin: str, tree_size: int, note: str, key_id: str
                       ) -> dict[str, Any]:
        """Store a checkpoint; if one of that origin and size exists already, that one
        stands."""
        row = {"origin": origin, "tree_size": tree_size, "note": note, "key_id": key_id}
        try:
            with self.db.write() as conn:
                conn.execute(S.log_checkpoints.insert(), row)
        except IntegrityError:
            existing = self.checkpoint(origin, tree_size)
            assert existing is not None
            return existing
        return row

    def cosignatures(self, origin: str, tree_size: int) -> list[dict[str, Any]]:
        c = S.log_cosignatures.c
        with self.db.read() as conn:
            return [dict(r) for r in conn.execute(
                select(S.log_cosignatures).where(c.origin == origin, c.tree_size == tree_size)
                .order_by(c.witness)).mappings()]

    def witnessed(self, origin: str, quorum: int, witnesses: list[str]) -> int | None:
        """The largest checkpoint size cosigned by at least `quorum` of `witnesses`."""
        c = S.log_cosignatures.c
        with self.db.read() as conn:
            size = conn.execute(
                select(c.tree_size).where(c.origin == origin, c.witness.in_(witnesses))
                .group_by(c.tree_size).having(func.count() >= quorum)
                .order_by(c.tree_size.desc()).limit(1)).scalar()
        return None if size is None else int(size)

    def add_cosignature(self, origin: str, tree_size: int, witness: str, signature: str,
                        timestamp: int, at: str) -> None:
        """Record a witness's cosignature (and that it has now seen `tree_size`)."""
        c = S.log_cosignatures.c
        with self.db.write() as conn:
            exists = conn.execute(select(func.count()).select_from(S.log_cosignatures).where(
                c.origin == origin, c.tree_size == tree_size, c.witness == witness)
            ).scalar_one()
            if not exists:
                conn.execute(S.log_cosignatures.insert(), {
                    "origin": origin, "tree_size": tree_size, "witness": witness,
                    "signature": signature, "timestamp": timestamp, "at": at})
            self._witness_in(conn, origin, witness, tree_size, at, None)

    def set_witness(self, origin: str, witness: str, size: int | None, at: str,
                    error: str | None) -> None:
        """The size a witness says it has (None: unchanged) and the last error, if any."""
        with self.db.write() as conn:
            self._witness_in(conn, origin, witness, size, at, error)

    @staticmethod
    def _witness_in(conn: Connection, origin: str, witness: str, size: int | None, at: str,
                    error: str | None) -> None:
        w = S.log_witnesses.c
        which = (w.origin == origin, w.witness == witness)
        current = conn.execute(select(w.size).where(*which)).scalar()
        if current is None:
            conn.execute(S.log_witnesses.insert(), {
                "origin": origin, "witness": witness, "size": size or 0, "updated_at": at,
                "last_error": error})
            return
        values: dict[str, Any] = {"updated_at": at, "last_error": error}
        if size is not None:
            values["size"] = size
        conn.execute(S.log_witnesses.update().where(*which).values(**values))

    def witnesses(self, origin: str) -> dict[str, dict[str, Any]]:
        """The log's view of each witness of `origin`: {name: {size, updated_at, ...}}."""
        w = S.log_witnesses.c
        with self.db.read() as conn:
            return {r["witness"]: dict(r) for r in conn.execute(
                select(S.log_witnesses).where(w.origin == origin)).mappings()}
