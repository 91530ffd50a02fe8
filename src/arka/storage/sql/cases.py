"""Cases (placeholder: being written)."""

from __future__ import annotations

from typing import Any


class SqlCases:
    def __init__(self, db: Any, audit: Any, outbox: Any, sealer: Any):
        self.db = db
        self.audit = audit
        self.outbox = outbox
        self.sealer = sealer
