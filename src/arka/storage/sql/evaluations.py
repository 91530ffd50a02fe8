"""Evaluation records: append-only, each with its log leaf in the same transaction.

Records are sealed by the `RecordSealer` the store is given (JSON text, encrypted when a
key is configured); rows also carry the fields queries filter on. The first sealed write
marks the store (`store_marks.records_sealed_from`, written once): from that row on every
record must be sealed, so an unsealed row there is an integrity fault, never data, and a
process without the key may not write plaintext into it.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, false, func, or_, select
from sqlalchemy.exc import IntegrityError

from arka.base.batching import Batcher
from arka.base.errors import ArkaError, Conflict, NotFound
from arka.security.crypto import KeyError_
from arka.security.sealing import RecordSealer
from arka.storage.records import StoredEvaluation
from arka.storage.sql import schema as S
from arka.storage.sql.database import SYSTEM, Database, now
from arka.storage.sql.log import SqlLog
from arka.storage.sql.outbox import SqlOutbox

GROUP_MAX = 256
Events = builtins.list[dict[str, Any]]  # the outbox events (CloudEvents) of one evaluation
SEALED_FROM = "records_sealed_from"  # the store mark: seq from which records are sealed


class SqlEvaluations:
    def __init__(self, db: Database, log: SqlLog, sealer: RecordSealer):
        self.db = db
        self.log = log
        self.sealer = sealer
        self._group: Batcher[tuple[str, dict[str, Any], bytes, Events], None] = Batcher(
            self._write_group, GROUP_MAX)
        self.outbox: SqlOutbox | None = None  # events written with their evaluation
        self._sealed_from: int | None = None  # the mark, once seen (it never changes)

    # ------------------------------------------------------------ sealing mark
    def sealed_from(self, conn: Connection | None = None) -> int | None:
        """The seq from which every record is sealed, or None (nothing sealed yet)."""
        if self._sealed_from is None:
            if conn is None:
                with self.db.read() as own:
                    return self.sealed_from(own)
            m = S.store_marks.c
            value = conn.execute(select(m.value).where(m.name == SEALED_FROM)).scalar()
            self._sealed_from = None if value is None else int(value)
        return self._sealed_from

    def _mark_in(self, conn: Connection) -> None:
        """Inside a write transaction that holds the log's append lock: a sealing writer
        marks the store on its first sealed record; a writer without the key refuses to
        add plaintext to a store that seals."""
        mark = self.sealed_from(conn)
        if self.sealer.cipher is None:
            if mark is not None:
                raise KeyError_(f"this store seals its evaluation records (from #{mark} on), "
                                "but no encryption key is configured; configure the store's "
                                "encryption key (ARKA_ENCRYPTION_KEY)")
            return
        if mark is None:
            e = S.evaluations.c
            first = int(conn.execute(select(func.coalesce(func.max(e.seq), 0) + 1))
                        .scalar_one())
            conn.execute(S.store_marks.insert(),  # cached once read back after commit
                         {"name": SEALED_FROM, "value": first, "at": now().isoformat()})

    def _open(self, conn: Connection, seq: int, text: str, key_id: str | None,
              evaluation_id: str) -> dict[str, Any]:
        plaintext_ok = False
        if key_id is None and self.sealer.cipher is not None:
            mark = self.sealed_from(conn)
            plaintext_ok = mark is None or seq < mark
        return self.sealer.open(text, key_id, evaluation_id, plaintext_ok=plaintext_ok)

    def _row(self, tenant: str, record: dict[str, Any], idempotency_key: str | None,
             request_hash: str | None) -> dict[str, Any]:
        text, key_id = self.sealer.seal(record)
        return dict(id=record["evaluation_id"], tenant=tenant, timestamp=record["timestamp"],
                    created_at=now(), decision=record["result"]["decision"],
                    rule_ids=_rule_ids(record), flags=_flags(record),
                    entities=self._entities(tenant, record, 0),
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    output_hash=record["trust_proof"]["output_hash"], record=text,
                    key_id=key_id)

    def _events_in(self, conn: Connection, tenant: str, events: Events) -> None:
        if events:
            if self.outbox is None:
                raise RuntimeError("evaluation events need the store's outbox")
            self.outbox.add_in(conn, tenant, events)

    def put_keyed(self, tenant: str, record: dict[str, Any], entry: bytes,
                  idempotency_key: str, request_hash: str, events: Events | None = None
                  ) -> tuple[dict[str, Any], bool]:
        """Append an evaluation under an idempotency key the caller has looked up and holds
        (`find_idempotent` found nothing), with its outbox events. If another writer stored
        the key meanwhile, its record is returned (same request) or Conflict raised (a
        different one)."""
        try:
            with self.db.write(tenant) as conn:
                record["log_index"] = self.log.append_in(
                    conn, [(record["evaluation_id"], entry)])
                self._mark_in(conn)
                conn.execute(S.evaluations.insert(),
                             self._row(tenant, record, idempotency_key, request_hash))
                self._events_in(conn, tenant, events or [])
        except IntegrityError:
            prior = self.find_idempotent(tenant, idempotency_key, request_hash)
            if prior is not None:
                return prior, False
            raise
        return record, True

    def append(self, tenant: str, record: dict[str, Any], entry: bytes,
               events: Events | None = None) -> None:
        """Append one evaluation (no idempotency key) and its outbox events, committed
        together with whatever
        other threads of this process are appending at the same moment (group commit):
        one transaction and one log append for the whole group. Returns once it is
        durable, with `log_index` set."""
        self._group.submit((tenant, record, entry, events or []))

    def _write_group(self, group: list[tuple[str, dict[str, Any], bytes, Events]]
                     ) -> list[None]:
        self.put_many([t for t, _, _, _ in group], [r for _, r, _, _ in group],
                      [h for _, _, h, _ in group], [e for _, _, _, e in group])
        return [None] * len(group)

    def put_many(self, tenants: list[str], records: list[dict[str, Any]],
                 entries: list[bytes], events: list[Events] | None = None) -> None:
        """Append many evaluations (no idempotency keys; each of its tenant), their log
        leaves (`entries`: each one's leaf bytes) and their outbox events, atomically."""
        if not records:
            return
        scope = tenants[0] if len(set(tenants)) == 1 else SYSTEM
        with self.db.write(scope) as conn:
            first = self.log.append_in(conn, [(r["evaluation_id"], b) for r, b in
                                              zip(records, entries, strict=True)])
            for k, r in enumerate(records):
                r["log_index"] = first + k
            self._mark_in(conn)
            rows = [self._row(t, r, None, None) for t, r in zip(tenants, records, strict=True)]
            conn.execute(S.evaluations.insert(), rows)
            for t, e in zip(tenants, events or [], strict=False):
                self._events_in(conn, t, e)

    def find_idempotent(self, tenant: str, key: str, request_hash: str | None
                        ) -> dict[str, Any] | None:
        e = S.evaluations.c
        with self.db.read(tenant) as conn:
            row = conn.execute(select(e.seq, e.id, e.record, e.key_id, e.request_hash).where(
                e.tenant == tenant, e.idempotency_key == key)).first()
            if row is None:
                return None
            if row.request_hash != request_hash:
                raise Conflict(f"idempotency key {key!r} was used for a different request")
            return self._open(conn, row.seq, row.record, row.key_id, row.id)

    def get(self, tenant: str, evaluation_id: str) -> dict[str, Any]:
        e = S.evaluations.c
        with self.db.read(tenant) as conn:
            row = conn.execute(select(e.seq, e.record, e.key_id).where(
                e.tenant == tenant, e.id == evaluation_id)).first()
            if row is None:
                raise NotFound(f"evaluation {evaluation_id} not found")
            return self._open(conn, row.seq, row.record, row.key_id, evaluation_id)

    def list(self, tenant: str, *, decision: str | None = None, rule_id: str | None = None,
             flag: str | None = None, entity: str | None = None,
             start: str | None = None, end: str | None = None, page: int = 1,
             per_page: int = 20, newest_first: bool = False
             ) -> tuple[list[dict[str, Any]], int]:
        e = S.evaluations.c
        cond = [e.tenant == tenant]
        if decision:
            cond.append(e.decision == decision)
        if rule_id:
            cond.append(_ran(e.rule_ids, rule_id))
        if flag:
            cond.append(_ran(e.flags, flag))
        if entity:
            cond.append(or_(*(e.entities.contains(f" {token} ")
                              for token in self.sealer.index_tokens(tenant, entity))))
        if start:
            cond.extend(_at_or_after(e.timestamp, start))
        if end:
            cond.extend(_at_or_before(e.timestamp, end))
        with self.db.read(tenant) as conn:
            total = conn.execute(select(func.count()).select_from(S.evaluations)
                                 .where(*cond)).scalar_one()
            rows = conn.execute(select(e.seq, e.id, e.record, e.key_id).where(*cond)
                                .order_by(e.seq.desc() if newest_first else e.seq)
                                .limit(per_page)
                                .offset((page - 1) * per_page)).all()
            return [self._open(conn, r.seq, r.record, r.key_id, r.id) for r in rows], \
                int(total)

    def tally(self, tenant: str, start: str, end: str, period: int
              ) -> tuple[builtins.list[tuple[str, str, int]], dict[str, int], dict[str, int]]:
        """Evaluations of `tenant` with a timestamp in [start, end]: counts per
        (timestamp prefix of `period` characters, decision), and how many evaluations each
        rule ran in and each flag category was raised in (rows stored before flag
        categories were indexed count for no category)."""
        e = S.evaluations.c
        cond = [e.tenant == tenant, *_at_or_after(e.timestamp, start),
                *_at_or_before(e.timestamp, end)]
        bucket = func.substr(e.timestamp, 1, period)
        rules: dict[str, int] = {}
        flags: dict[str, int] = {}
        with self.db.read(tenant) as conn:
            series = [(r.bucket, r.decision, int(r.n)) for r in conn.execute(
                select(bucket.label("bucket"), e.decision, func.count().label("n"))
                .where(*cond).group_by(bucket, e.decision).order_by(bucket, e.decision))]
            rows = conn.execution_options(yield_per=5000).execute(
                select(e.rule_ids, e.flags).where(*cond))
            for r in rows:
                for name in r.rule_ids.split():
                    rules[name] = rules.get(name, 0) + 1
                for cat in (r.flags or "").split():
                    flags[cat] = flags.get(cat, 0) + 1
        return series, rules, flags

    def count(self, tenant: str = SYSTEM) -> int:
        cond = [] if tenant == SYSTEM else [S.evaluations.c.tenant == tenant]
        with self.db.read(tenant) as conn:
            return int(conn.execute(select(func.count()).select_from(S.evaluations)
                                    .where(*cond)).scalar_one())

    # ------------------------------------------------------------ integrity (db check)
    def by_ids(self, evaluation_ids: builtins.list[str]) -> dict[str, StoredEvaluation]:
        """The stored rows of these evaluations (any tenant), each opened: the record, or
        the integrity fault that keeps it from being served."""
        e = S.evaluations.c
        out: dict[str, StoredEvaluation] = {}
        if not evaluation_ids:
            return out
        with self.db.read() as conn:
            rows = conn.execute(select(e.seq, e.id, e.tenant, e.timestamp, e.decision,
                                       e.rule_ids, e.flags, e.entities, e.output_hash,
                                       e.record, e.key_id)
                                .where(e.id.in_(evaluation_ids))).all()
            for r in rows:
                record: dict[str, Any] | None = None
                fault: str | None = None
                try:
                    record = self._open(conn, r.seq, r.record, r.key_id, r.id)
                except ArkaError as exc:
                    fault = exc.message
                out[r.id] = StoredEvaluation(
                    seq=int(r.seq), id=r.id, tenant=r.tenant, timestamp=r.timestamp,
                    decision=r.decision, rule_ids=r.rule_ids, flags=r.flags,
                    entities=r.entities, output_hash=r.output_hash,
                    sealed=r.key_id is not None, record=record, fault=fault)
        return out

    def ids(self, batch: int = 1000) -> Iterator[builtins.list[str]]:
        """Every evaluation id in seq order, `batch` at a time (keyset paging: bounded
        memory on any number of rows)."""
        e = S.evaluations.c
        after = None
        while True:
            q = select(e.seq, e.id).order_by(e.seq).limit(batch)
            if after is not None:
                q = q.where(e.seq > after)
            with self.db.read() as conn:
                rows = conn.execute(q).all()
            if not rows:
                return
            after = rows[-1].seq
            yield [r.id for r in rows]

    def indexed_fields(self, record: dict[str, Any]) -> dict[str, str]:
        """The row columns a record implies (what listing filters read), but for the
        entity tokens, which depend on the key (`entities_match`)."""
        return {"timestamp": record["timestamp"], "decision": record["result"]["decision"],
                "rule_ids": _rule_ids(record), "flags": _flags(record),
                "output_hash": record["trust_proof"]["output_hash"]}

    def _entities(self, tenant: str, record: dict[str, Any], key: int) -> str:
        ids = entity_ids(record.get("input"))
        return " " + " ".join(sorted({self.sealer.index_tokens(tenant, v)[key]
                                      for v in ids})) + " "

    def entities_match(self, tenant: str, record: dict[str, Any], stored: str | None
                       ) -> bool:
        """Whether a row's entity tokens are the record's, under one of the configured
        keys (rows keep the tokens of the key current when they were written). NULL:
        a row stored before the column existed."""
        if stored is None:
            return True
        keys = len(self.sealer.index_tokens(tenant, ""))
        return any(stored == self._entities(tenant, record, k) for k in range(keys))

    def index_drift(self, tenant: str, evaluation_id: str, record: dict[str, Any]
                    ) -> builtins.list[str]:
        """Where the stored row's query columns disagree with its record (as `_row` writes
        them): a row whose columns were edited answers filters with a record it does not
        hold. Empty when they agree."""
        e = S.evaluations.c
        with self.db.read(tenant) as conn:
            row = conn.execute(select(e.id, e.timestamp, e.decision, e.rule_ids, e.flags,
                                      e.entities, e.output_hash)
                               .where(e.tenant == tenant, e.id == evaluation_id)
                               ).mappings().first()
        if row is None:
            return [f"no row for evaluation {evaluation_id}"]
        try:
            expected = dict(id=record["evaluation_id"], **self.indexed_fields(record))
            entities_ok = self.entities_match(tenant, record, row["entities"])
        except (KeyError, TypeError, AttributeError):
            return ["the record lacks the fields its row is indexed by"]
        if row["flags"] is None:  # stored before the column existed
            expected.pop("flags")
        drift = [f"column {k} is {row[k]!r}, the record implies {v!r}"
                 for k, v in expected.items() if row[k] != v]
        if not entities_ok:
            drift.append("column entities does not hold the tokens of the record's "
                         "entity ids")
        return drift


ENTITY_KEYS_MAX = 32  # entity ids indexed per evaluation
ENTITY_ID_MAX = 200  # longer values are not ids


def entity_ids(value: Any) -> list[str]:
    """The entity ids of an input: the values of its `id` and `*_id` keys, at the top
    level and in its top-level objects (`transaction.id`, `transaction.customer_id`,
    `customer.id`), that are text or integers; at most ENTITY_KEYS_MAX, sorted."""
    found: set[str] = set()
    if not isinstance(value, dict):
        return []
    scopes = [value, *(v for v in value.values() if isinstance(v, dict))]
    for scope in scopes:
        for k, v in scope.items():
            if not (k == "id" or k.endswith("_id")) or isinstance(v, bool):
                continue
            if isinstance(v, int) or (isinstance(v, str) and 0 < len(v) <= ENTITY_ID_MAX
                                      and not any(c.isspace() for c in v)):
                found.add(str(v))
    return sorted(found)[:ENTITY_KEYS_MAX]


def _flags(record: dict[str, Any]) -> str:
    """The categories of the result's flags, space-delimited for `flag` filtering."""
    cats = {f.get("category") for f in record.get("result", {}).get("flags", [])
            if isinstance(f, dict) and isinstance(f.get("category"), str)}
    return " " + " ".join(sorted(c for c in cats if c and not any(x.isspace() for x in c))
                          ) + " "


def _rule_ids(record: dict[str, Any]) -> str:
    """Names of the rules that ran, space-delimited for `rule_id` filtering."""
    return " " + " ".join(r["rule_id"] for r in record.get("rule_results", [])
                          if r.get("status") != "skipped") + " "


# ------------------------------------------------------------------ listing filters
# `rule_id` is an exact name: `%`, `_` and the escape character match only themselves,
# and a name with white space (which no rule has) matches nothing rather than spanning
# two names of " a b ". Timestamps are canonical RFC 3339 text ending in Z, whose order
# as text is time order only without that Z ("...:00Z" sorts after "...:00.5Z"): each
# bound is a range on the indexed column (to the whole second) and an exact comparison
# of the text without its Z.

def _ran(column: Any, rule_id: str) -> Any:
    if any(c.isspace() for c in rule_id):
        return false()
    return column.contains(f" {rule_id} ", autoescape=True)


def _without_z(column: Any) -> Any:
    return func.substr(column, 1, func.length(column) - 1)


def _at_or_after(column: Any, start: str) -> list[Any]:
    return [column >= start[:19], _without_z(column) >= start.removesuffix("Z")]


def _at_or_before(column: Any, end: str) -> list[Any]:
    return [column <= end[:19] + "Z", _without_z(column) <= end.removesuffix("Z")]
