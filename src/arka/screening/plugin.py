"""The `sanctions` plugin: name screening against FollowTheMoney entity lists, for rules
(`plugin.sanctions.screen(...)`), `POST /api/v1/screen` and the allowlist.

Settings (`plugins.sanctions` in the configuration file):

    datasets: [lists/us_ofac_sdn.ftm.json, {path: lists/eu_fsf.ftm.json.gz, name: eu_fsf}]
    reload_seconds: 10     # how often the files are checked for a change

The lists are loaded when the plugin starts. A file that changes (size or modification
time) is loaded again in the background and replaces the index when it is ready, so no
call waits for a reload; each call reports the versions it was answered from
(`data_version`: each dataset's name, content hash and record count).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from arka.plugins.sdk import Permissions, Plugin, PluginError, export
from arka.screening.ftm import load_dataset
from arka.screening.screener import Query, Screener, ScreeningError

log = logging.getLogger("arka.screening")

_EXPLANATION = {"type": "object", "properties": {
    "feature": "string", "query": "any", "candidate": "any", "contribution": "decimal"}}
_MATCH = {"type": "object", "properties": {
    "entity_id": "string", "caption": "string", "schema": "string", "score": "decimal",
    "datasets": "list<string>", "sources": "list<string>", "topics": "list<string>",
    "countries": "list<string>", "birth_dates": "list<string>", "entity_hash": "string",
    "explanation": {"type": "list", "items": _EXPLANATION}}}
_QUERY = {"type": "object", "properties": {
    "name": "string", "schema": "string", "birth_date": "any", "countries": "list<string>",
    "topics": "list<string>", "threshold": "decimal", "limit": "integer"}}
_ALLOWLISTED = {"type": "object", "properties": {
    "entity_id": "string", "score": "decimal", "allowlist_id": "string", "reason": "string",
    "decided_by": "any", "decided_at": "any"}}
_REOPENED = {"type": "object", "properties": {
    "entity_id": "string", "allowlist_id": "string", "reason": "string", "decided_at": "any"}}
SCREEN_RESULT = {"type": "object", "properties": {
    "query": _QUERY, "hit": "boolean", "score": "decimal",
    "matches": {"type": "list", "items": _MATCH},
    "allowlisted": {"type": "list", "items": _ALLOWLISTED},
    "reopened": {"type": "list", "items": _REOPENED}}}
ENTITY_RESULT = {"type": "object", "properties": {
    "found": "boolean", "entity_id": "string", "caption": "any", "schema": "any",
    "entity_hash": "any", "datasets": "list<string>", "topics": "list<string>",
    "countries": "list<string>", "birth_dates": "list<string>", "names": "list<string>"}}


def _dataset_specs(config: Mapping[str, Any]) -> list[tuple[Path, str | None]]:
    raw = config.get("datasets", [])
    if isinstance(raw, str) or not isinstance(raw, list):
        raise PluginError("plugins.sanctions.datasets must list dataset files (paths, or "
                          "{path, name})")
    out: list[tuple[Path, str | None]] = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            out.append((Path(item), None))
        elif isinstance(item, Mapping) and isinstance(item.get("path"), str) and \
                isinstance(item.get("name", ""), str):
            out.append((Path(item["path"]), item.get("name") or None))
        else:
            raise PluginError(f"plugins.sanctions.datasets[{i}] must be a path or "
                              "{path, name}")
    return out


def _stamp(paths: Sequence[Path]) -> tuple[tuple[int, int], ...]:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((-1, -1))
    return tuple(out)


class SanctionsPlugin(Plugin):
    """Sanctions and PEP screening against FollowTheMoney entity lists."""

    name = "sanctions"
    version = "1.0.0"
    trusted = True  # first party; one index in the process rather than one per worker
    permissions = Permissions(max_time=10.0, max_memory=8 * 1024 ** 3)

    def __init__(self, config: Mapping[str, Any] | None = None):
        super().__init__(config)
        self.specs = _dataset_specs(self.config)
        reload = self.config.get("reload_seconds", 10)
        if isinstance(reload, bool) or not isinstance(reload, int | float | Decimal) or \
                reload < 0:
            raise PluginError("plugins.sanctions.reload_seconds must be seconds (0: never)")
        self.reload_seconds = float(reload)
        self._lock = threading.Lock()
        self._screener: Screener | None = None
        self._stamp: tuple[tuple[int, int], ...] = ()
        self._checked = 0.0
        self._building = False
        self._by_id: tuple[Screener | None, dict[str, Any]] = (None, {})
        self.reload_error: str | None = None
        if self.specs:
            self._screener, self._stamp = self._build()

    # ------------------------------------------------------------------ data
    def _build(self) -> tuple[Screener, tuple[tuple[int, int], ...]]:
        paths = [p for p, _ in self.specs]
        stamp = _stamp(paths)
        started = time.perf_counter()
        datasets = [load_dataset(p, name) for p, name in self.specs]
        screener = Screener(datasets)
        log.info("sanctions: %d entities from %d dataset(s) indexed in %.1f s", len(screener),
                 len(datasets), time.perf_counter() - started)
        return screener, stamp

    def _rebuild(self) -> None:
        try:
            screener, stamp = self._build()
        except Exception as exc:  # noqa: BLE001 - keep answering from the previous lists
            self.reload_error = f"{type(exc).__name__}: {exc}"
            log.error("sanctions: reloading the lists failed, still answering from the "
                      "previous version: %s", self.reload_error)
            with self._lock:
                self._building = False
                self._stamp = _stamp([p for p, _ in self.specs])  # retry after a change
            return
        with self._lock:
            self._screener, self._stamp, self._building = screener, stamp, False
            self.reload_error = None

    def screener(self) -> Screener:
        """The current index, starting a background reload when a file changed."""
        if not self.specs:
            raise PluginError("no sanctions lists are configured (plugins.sanctions.datasets)")
        now = time.monotonic()
        with self._lock:
            due = self.reload_seconds > 0 and now - self._checked >= self.reload_seconds
            if due and not self._building:
                self._checked = now
                if _stamp([p for p, _ in self.specs]) != self._stamp:
                    self._building = True
                    threading.Thread(target=self._rebuild, name="arka-sanctions-reload",
                                     daemon=True).start()
            screener = self._screener
        assert screener is not None
        return screener

    def wait_for_reload(self, timeout: float = 60.0) -> None:
        """Block until a reload in progress has finished (for tests and operators)."""
        deadline = time.monotonic() + timeout
        while self._building and time.monotonic() < deadline:
            time.sleep(0.01)

    def data_version(self) -> dict[str, Any] | None:
        if self._screener is None:
            return None
        return {"datasets": self._screener.versions}

    # ------------------------------------------------------------------ exports
    @export(params={"name": "string", "schema": "string", "birth_date": "any",
                    "countries": "list<string>", "threshold": "decimal",
                    "topics": "list<string>", "limit": "integer", "subject_id": "any"},
            returns=SCREEN_RESULT)
    def screen(self, name: str, schema: str = "Person", birth_date: Any = None,
               countries: Sequence[str] = (), threshold: Decimal = Decimal("0.8"),
               topics: Sequence[str] = ("sanction",), limit: int = 10,
               subject_id: Any = None) -> dict[str, Any]:
        """Screen a name against the configured lists: the matches at or above
        `threshold` (0-1), best first, each with its score and why it matched. `topics`
        defaults to sanctions; PEP screening asks for `["role.pep"]`. A birth date
        (YYYY, YYYY-MM or YYYY-MM-DD) and countries support or rule out a match.
        `subject_id` (your customer's id) applies the allowlist decisions recorded for
        that customer."""
        if birth_date is not None and not isinstance(birth_date, str):
            raise ScreeningError("birth_date must be a date or YYYY, YYYY-MM or YYYY-MM-DD "
                                 "text")
        query = Query(name=name, schema=schema, birth_date=birth_date,
                      countries=tuple(countries or ()), topics=tuple(topics or ("sanction",)),
                      threshold=Decimal(threshold), limit=_whole(limit, "limit"))
        out = self.screener().screen(query).to_json()
        out["allowlisted"] = []
        out["reopened"] = []
        return out

    @export(returns=ENTITY_RESULT)
    def entity(self, entity_id: str) -> dict[str, Any]:
        """One listed entity as the lists hold it now (with its content hash), for
        recording an allowlist decision."""
        screener = self.screener()
        with self._lock:
            if self._by_id[0] is not screener:
                self._by_id = (screener, {e.id: e for e in screener.entities})
            e = self._by_id[1].get(entity_id)
        if e is not None:
            return {"found": True, "entity_id": e.id, "caption": e.caption,
                    "schema": e.schema, "entity_hash": e.content_hash,
                    "datasets": list(e.datasets), "topics": list(e.topics),
                    "countries": list(e.countries), "birth_dates": list(e.birth_dates),
                    "names": list(e.names)}
        return {"found": False, "entity_id": entity_id, "caption": None, "schema": None,
                "entity_hash": None, "datasets": [], "topics": [], "countries": [],
                "birth_dates": [], "names": []}


def _whole(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int | Decimal) or v != int(v):
        raise ScreeningError(f"{what} must be a whole number")
    return int(v)
