"""Time: dates, datetimes, durations, calendar parts and business-day arithmetic over the
jurisdiction's public-holiday calendar (docs: "Time")."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import holidays

from arka.base import values as V
from arka.base.errors import EvalError
from arka.lang import types as T
from arka.lang.builtins.declaration import (
    TIME,
    B,
    Builtin,
    D,
    P,
    Runtime,
    S,
    const,
    meter,
    need,
    need_int,
    text_cost,
)


def _as_datetime(v: Any, fname: str) -> datetime:
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime.combine(v, time(0), tzinfo=UTC)
    raise EvalError(f"{fname}() needs a date or datetime, got {V.a_type_name(v)}", code="E_TYPE")


def _as_date(v: Any, fname: str) -> date:
    if isinstance(v, datetime):
        return v.astimezone(UTC).date()
    if isinstance(v, date):
        return v
    raise EvalError(f"{fname}() needs a date or datetime, got {V.a_type_name(v)}", code="E_TYPE")


def _now(rt: Runtime) -> datetime:
    return rt.now


def _date(rt: Runtime, s: Any) -> date:
    if isinstance(s, datetime | date):
        return _as_date(s, "date")
    return V.parse_date(need(s, str, "date", "argument"))


def _datetime(rt: Runtime, s: Any) -> datetime:
    if isinstance(s, datetime | date):
        return _as_datetime(s, "datetime")
    return V.parse_datetime(need(s, str, "datetime", "argument"))


def _duration(rt: Runtime, s: Any) -> timedelta:
    return V.parse_duration(need(s, str, "duration", "argument"))


def _parse_date(rt: Runtime, s: Any, fmt: Any = "%Y-%m-%d") -> date:
    text = need(s, str, "parse_date", "text")
    meter(rt).step(text_cost(text))
    try:
        return datetime.strptime(text, need(fmt, str, "parse_date", "format")).date()
    except ValueError:
        raise EvalError(f"parse_date(): {text!r} does not match format {fmt!r}",
                        code="E_ARGUMENT") from None


def _format_date(rt: Runtime, d: Any, fmt: Any = "%Y-%m-%d") -> str:
    if not isinstance(d, datetime | date):
        raise EvalError(f"format_date() needs a date or datetime, got {V.a_type_name(d)}",
                        code="E_TYPE")
    f = need(fmt, str, "format_date", "format")
    meter(rt).step(text_cost(f))
    if any(code in f for code in ("%c", "%x", "%X", "%a", "%A", "%b", "%B", "%p")):
        raise EvalError("format_date(): locale-dependent directives are not allowed",
                        code="E_ARGUMENT")
    # %Y with four digits on every platform (strftime pads years before 1000 only on some)
    f = re.sub(r"%(.)", lambda m: f"{d.year:04d}" if m.group(1) == "Y" else m.group(0), f)
    return d.strftime(f)


def _part(name: str, fn: Callable[[datetime], int]) -> Callable[..., Decimal]:
    def impl(rt: Runtime, d: Any) -> Decimal:
        return Decimal(fn(_as_datetime(d, name)))
    return impl


def _same_day(rt: Runtime, a: Any, b: Any) -> bool:
    return _as_date(a, "same_day") == _as_date(b, "same_day")


def _between(unit_seconds: int, name: str) -> Callable[..., Decimal]:
    def impl(rt: Runtime, a: Any, b: Any) -> Decimal:
        if type(a) is date and type(b) is date:
            delta = (b - a).days * 86400
        else:
            d = _as_datetime(b, name) - _as_datetime(a, name)
            delta = d.days * 86400 + d.seconds
        q = abs(delta) // unit_seconds
        return Decimal(q if delta >= 0 else -q)
    return impl


def _months_between(rt: Runtime, a: Any, b: Any) -> Decimal:
    x, y = _as_datetime(a, "months_between"), _as_datetime(b, "months_between")
    sign = 1
    if y < x:
        x, y, sign = y, x, -1
    months = (y.year - x.year) * 12 + (y.month - x.month)
    if (y.day, y.time()) < (x.day, x.time()):
        months -= 1
    return Decimal(sign * months)


@functools.lru_cache(maxsize=256)
def holiday_calendar(jurisdiction: str | None) -> Any:
    """The public-holiday calendar of a jurisdiction (`US`, `US-CA`); None = weekends only."""
    if not jurisdiction or jurisdiction.upper() == "ALL":
        return None
    country, _, subdiv = jurisdiction.upper().partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdiv or None)
    except NotImplementedError:
        raise EvalError(f"no holiday calendar for jurisdiction {jurisdiction!r}",
                        code="E_ARGUMENT") from None


def _is_business_day(d: date, cal: Any) -> bool:
    return d.weekday() < 5 and (cal is None or d not in cal)


def _business_days_between(rt: Runtime, a: Any, b: Any, jurisdiction: Any = None) -> Decimal:
    cal = holiday_calendar(jurisdiction if jurisdiction is not None else rt.jurisdiction)
    x, y = _as_date(a, "business_days_between"), _as_date(b, "business_days_between")
    sign = 1
    if y < x:
        x, y, sign = y, x, -1
    if (y - x).days > 366 * 200:
        raise EvalError("business_days_between(): range longer than 200 years",
                        code="E_ARGUMENT")
    step = meter(rt).step
    count = 0
    for i in range(1, (y - x).days + 1):  # one instruction per day looked at
        step()
        if _is_business_day(x + timedelta(i), cal):
            count += 1
    return Decimal(sign * count)


def _add_days(rt: Runtime, d: Any, n: Any) -> Any:
    return V.add(need(d, (datetime, date), "add_days", "date"), timedelta(days=need_int(n, "add_days",
                                                                                   "days")))


def _add_hours(rt: Runtime, d: Any, n: Any) -> datetime:
    return V.add(_as_datetime(d, "add_hours"), timedelta(hours=need_int(n, "add_hours",
                                                                          "hours")))


def _add_business_days(rt: Runtime, d: Any, n: Any, jurisdiction: Any = None) -> Any:
    cal = holiday_calendar(jurisdiction if jurisdiction is not None else rt.jurisdiction)
    steps = need_int(n, "add_business_days", "days")
    if abs(steps) > 100_000:
        raise EvalError("add_business_days(): too many days", code="E_ARGUMENT")
    start = need(d, (datetime, date), "add_business_days", "date")
    day = _as_date(start, "add_business_days")
    step = 1 if steps >= 0 else -1
    remaining = abs(steps)
    tick = meter(rt).step
    try:
        while remaining:  # one instruction per day looked at
            tick()
            day += timedelta(days=step)
            if _is_business_day(day, cal):
                remaining -= 1
    except OverflowError:
        raise EvalError("add_business_days(): date out of range", code="E_NUMERIC") from None
    if isinstance(start, datetime):
        return datetime.combine(day, start.timetz())
    return day


def _fiscal_quarter(rt: Runtime, d: Any, start_month: Any = V.ONE) -> Decimal:
    month = _as_datetime(d, "fiscal_quarter").month
    first = need_int(start_month, "fiscal_quarter", "start_month")
    if not 1 <= first <= 12:
        raise EvalError("fiscal_quarter() start_month must be 1..12", code="E_ARGUMENT")
    return Decimal((month - first) % 12 // 3 + 1)


BUILTINS: tuple[Builtin, ...] = (
    Builtin("now", (), const(T.DATETIME),
            "The evaluation's context timestamp (never the wall clock).", _now),
    Builtin("date", (P("value", T.ANY),), const(T.DATE),
            "Date from YYYY-MM-DD text or from a datetime (UTC).", _date, null_in_null_out=True),
    Builtin("datetime", (P("value", T.ANY),), const(T.DATETIME),
            "Datetime from RFC 3339 text (no offset = UTC) or from a date (midnight UTC).",
            _datetime, null_in_null_out=True),
    Builtin("duration", (P("text", S),), const(T.DURATION),
            "Duration from ISO 8601 text: P30D, PT12H, P1W, P1DT2H30M.", _duration,
            null_in_null_out=True),
    Builtin("parse_date", (P("text", S), P("format", S, True)), const(T.DATE),
            'Date from text in a strptime format (default "%Y-%m-%d").', _parse_date,
            null_in_null_out=True),
    Builtin("format_date", (P("value", TIME), P("format", S, True)), const(S),
            'Date or datetime as text in a strftime format (default "%Y-%m-%d").', _format_date,
            null_in_null_out=True),
    Builtin("year", (P("value", TIME),), const(D), "Calendar year (UTC).",
            _part("year", lambda t: t.year), null_in_null_out=True),
    Builtin("month", (P("value", TIME),), const(D), "Month 1-12 (UTC).",
            _part("month", lambda t: t.month), null_in_null_out=True),
    Builtin("day", (P("value", TIME),), const(D), "Day of month 1-31 (UTC).",
            _part("day", lambda t: t.day), null_in_null_out=True),
    Builtin("day_of_week", (P("value", TIME),), const(D), "ISO weekday: 1 = Monday … 7 = Sunday.",
            _part("day_of_week", lambda t: t.isoweekday()), null_in_null_out=True),
    Builtin("hour_of_day", (P("value", TIME),), const(D), "Hour 0-23 (UTC).",
            _part("hour_of_day", lambda t: t.hour), null_in_null_out=True),
    Builtin("same_day", (P("a", TIME), P("b", TIME)), const(B),
            "Same UTC calendar day.", _same_day, null_in_null_out=True),
    Builtin("days_between", (P("from", TIME), P("to", TIME)), const(D),
            "Whole days from `from` to `to` (to − from, truncated toward zero).",
            _between(86400, "days_between"), null_in_null_out=True),
    Builtin("hours_between", (P("from", TIME), P("to", TIME)), const(D),
            "Whole hours from `from` to `to`, truncated toward zero.",
            _between(3600, "hours_between"), null_in_null_out=True),
    Builtin("minutes_between", (P("from", TIME), P("to", TIME)), const(D),
            "Whole minutes from `from` to `to`, truncated toward zero.",
            _between(60, "minutes_between"), null_in_null_out=True),
    Builtin("months_between", (P("from", TIME), P("to", TIME)), const(D),
            "Whole calendar months from `from` to `to`, truncated toward zero.",
            _months_between, null_in_null_out=True),
    Builtin("business_days_between",
            (P("from", TIME), P("to", TIME), P("jurisdiction", S, True)), const(D),
            "Business days d with from < d ≤ to (negative if to < from), skipping weekends and "
            "the jurisdiction's public holidays (default: context.jurisdiction).",
            _business_days_between, null_in_null_out=True),
    Builtin("add_days", (P("value", TIME), P("days", D)), lambda a: a[0] if a else T.ANY,
            "Date or datetime plus whole days (negative allowed).", _add_days,
            null_in_null_out=True),
    Builtin("add_hours", (P("value", TIME), P("hours", D)), const(T.DATETIME),
            "Datetime plus whole hours (negative allowed).", _add_hours, null_in_null_out=True),
    Builtin("add_business_days", (P("value", TIME), P("days", D), P("jurisdiction", S, True)),
            lambda a: a[0] if a else T.ANY,
            "Steps whole business days forward or back (weekends and holidays skipped).",
            _add_business_days, null_in_null_out=True),
    Builtin("fiscal_quarter", (P("value", TIME), P("start_month", D, True)), const(D),
            "Fiscal quarter 1-4 for a fiscal year starting in `start_month` (default 1).",
            _fiscal_quarter, null_in_null_out=True),)
