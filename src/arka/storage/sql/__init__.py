"""The SQL store (SQLAlchemy Core on SQLite or PostgreSQL): one `Store` per process, a
`Database` with one adapter per aggregate.

The schema is created and upgraded only by Alembic migrations (`arka-cli db migrate
--confirm`). No code path updates or deletes an evaluation, and the database refuses it
too (triggers).
"""

from __future__ import annotations

from arka.security.sealing import RecordSealer
from arka.storage.sql.anchors import SqlAnchors
from arka.storage.sql.audit import SqlAudit
from arka.storage.sql.cases import SqlCases
from arka.storage.sql.database import SYSTEM, Database
from arka.storage.sql.evaluations import SqlEvaluations
from arka.storage.sql.keys import SqlKeys
from arka.storage.sql.log import SqlLog
from arka.storage.sql.outbox import SqlOutbox
from arka.storage.sql.registry import SqlRegistry
from arka.storage.sql.screening import SqlAllowlist
from arka.storage.sql.webhooks import SqlWebhooks

__all__ = ["SYSTEM", "Store"]


class Store(Database):
    """The database and its aggregates: `registry` (rules, tables, rulesets), `evaluations`,
    `log` (transparency log), `audit`, `keys` (API keys), `anchors`, `allowlist`
    (sanctions-screening false positives), `outbox` (events to deliver), `webhooks`
    (subscriptions and deliveries), `cases`."""

    def __init__(self, url: str, sealer: RecordSealer | None = None, *, pool_size: int = 10,
                 max_overflow: int = 20):
        super().__init__(url, pool_size=pool_size, max_overflow=max_overflow)
        self.sealer = sealer or RecordSealer()
        self.audit = SqlAudit(self)
        self.registry = SqlRegistry(self, self.audit)
        self.log = SqlLog(self)
        self.evaluations = SqlEvaluations(self, self.log, self.sealer)
        self.keys = SqlKeys(self, self.audit)
        self.allowlist = SqlAllowlist(self, self.audit)
        self.outbox = SqlOutbox(self, self.sealer)
        self.anchors = SqlAnchors(self, self.outbox)
        self.evaluations.outbox = self.outbox
        self.webhooks = SqlWebhooks(self, self.audit, self.sealer)
        self.cases = SqlCases(self, self.audit, self.outbox, self.sealer)
