"""Cases (placeholder: being written)."""

from __future__ import annotations

from typing import Any


class Cases:
    def __init__(self, store: Any, evaluations: Any, policy: Any, events: Any, keys: Any,
                 transparency: Any, vault: Any, require_approval: bool = False):
        self.store = store

    def from_evaluation(self, tenant: str, record: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def refresh_metrics(self) -> None:
        return None
