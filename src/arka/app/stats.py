"""Figures for people: evaluations per decision over time, the rules and flag categories
seen most, and the service's error rate and latency (the dashboard's overview)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from arka.base.errors import InputError
from arka.observability import metrics as M
from arka.storage.ports import EvaluationStore

Bucket = Literal["hour", "day"]
# bucket -> (its length, the timestamp prefix naming it, the default and longest window)
BUCKETS: dict[str, tuple[timedelta, int, timedelta, timedelta]] = {
    "hour": (timedelta(hours=1), 13, timedelta(hours=24), timedelta(days=7)),
    "day": (timedelta(days=1), 10, timedelta(days=30), timedelta(days=366)),
}
TOP = 10
SERVICE_SCOPE = "service-wide (all tenants) since the service started"


def _text(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _floor(at: datetime, bucket: str) -> datetime:
    at = at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if bucket == "day" else at


def _top(counts: dict[str, int], key: str) -> list[dict[str, Any]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    return [{key: name, "evaluations": n} for name, n in ranked]


def evaluation_stats(store: EvaluationStore, tenant: str, start: str | None,
                     end: str | None, bucket: str, now: datetime | None = None
                     ) -> dict[str, Any]:
    """Counts of `tenant`'s evaluations whose timestamp (the time in their context) is
    in the window, per UTC `bucket`; `start` and `end` are canonical RFC 3339 text or None
    (the default window, ending now). The window starts at the beginning of its first
    bucket."""
    if bucket not in BUCKETS:
        raise InputError(f"bucket must be one of {', '.join(BUCKETS)}, not {bucket!r}")
    step, period, default, longest = BUCKETS[bucket]
    high = datetime.fromisoformat(end) if end else (now or datetime.now(UTC))
    try:
        asked = datetime.fromisoformat(start) if start else high - default
    except OverflowError:  # `to` at the first instant there is
        asked = datetime.min.replace(tzinfo=UTC)
    if asked > high:
        raise InputError("from is after to: give a window that starts before it ends")
    if high - asked > longest:  # measured before `from` moves to its bucket's start
        raise InputError(f"a window of {bucket}s may be at most {longest.days} days long; "
                         "shorten it" + (" or use bucket=day" if bucket == "hour" else ""))
    low = _floor(asked, bucket)
    series, rules, flags = store.tally(tenant, _text(low), end or _text(high), period)
    per: dict[str, dict[str, int]] = {}
    decisions: dict[str, int] = {}
    for name, decision, n in series:
        per.setdefault(name, {})[decision] = n
        decisions[decision] = decisions.get(decision, 0) + n
    buckets = []
    at = low
    while at <= high:
        buckets.append({"start": _text(at), "counts": per.get(_text(at)[:period], {})})
        if high - at < step:  # the last bucket (and no overflow past the year 9999)
            break
        at += step
    return {"from": _text(low), "to": end or _text(high), "bucket": bucket,
            "total": sum(decisions.values()), "decisions": dict(sorted(decisions.items())),
            "series": buckets, "top_rules": _top(rules, "rule"),
            "top_flags": _top(flags, "category"),
            "service": {"scope": SERVICE_SCOPE, **M.evaluation_summary()}}
