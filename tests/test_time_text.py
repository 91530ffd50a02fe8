"""Datetimes as text are the same on every platform: four-digit years before 1000
(strftime's %Y does not pad them everywhere), and filter bounds at the calendar's edges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

import arka.base.values as V
from arka.base.errors import InputError
from arka.compiler import compile_rule
from arka.engine import RuleSet
from arka.interfaces.http.deps import instant


def test_years_before_1000_have_four_digits() -> None:
    assert V.datetime_text(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
    assert V.datetime_text(datetime(987, 6, 5, 4, 3, 2, 100, tzinfo=UTC)) == \
        "0987-06-05T04:03:02.0001Z"
    assert V.parse_datetime(V.datetime_text(datetime(99, 1, 1, tzinfo=UTC))).year == 99
    rule = compile_rule("""rule:
  metadata: {name: t, version: 1.0.0}
  inputs: [{name: e, schema: {type: object, properties: {d: {type: date}}}}]
  conditions: [{id: c, expression: 'format_date(e.d, "%Y|%%Y|%d") == "0099|%Y|02"'}]
  actions: [{trigger: c, type: flag, config: {category: X, severity: low}}]
""")
    res = RuleSet([rule]).evaluate({"e": {"d": "0099-01-02"}}, {"timestamp": "2024-01-01T00:00:00Z"})
    assert res.decision == "non_compliant"
    assert date(99, 1, 2).isoformat() == "0099-01-02"


def test_filter_bounds_beyond_the_calendar_in_utc_are_its_edges() -> None:
    assert instant("0001-01-01T00:21:19+10:47", "from") == "0001-01-01T00:00:00Z"
    assert instant("9999-12-31T23:00:00-05:00", "to") == "9999-12-31T23:59:59Z"
    assert instant("2024-01-01T00:00:00+01:00", "from") == "2023-12-31T23:00:00Z"
    for bad in ("0001-02-30T00:00:00+01:00", "yesterday", "0001-01-01T00:00:00+25:00"):
        with pytest.raises(InputError):
            instant(bad, "from")
