"""Persistence: the ports the application uses (`arka.storage.ports`), the SQL adapters
that implement them (`arka.storage.sql`), and object storage for large artefacts
(`arka.storage.objects`)."""

from __future__ import annotations

from arka.base.errors import Conflict, NotFound, StoreError
from arka.storage.records import RuleRow
from arka.storage.sql import SYSTEM, Store
from arka.storage.sql.copy import copy_store
from arka.storage.sql.schema import DEFAULT_TENANT
from arka.storage.sql.screening import AllowlistEntryError

__all__ = ["DEFAULT_TENANT", "SYSTEM", "AllowlistEntryError", "Conflict", "NotFound",
           "RuleRow", "Store", "StoreError", "copy_store"]
