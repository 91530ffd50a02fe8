"""The dashboard's Overview in a real Chromium against a real ARKA Core: a chart per
section, each with the sentence that describes it, whose data tables say what the API
answers; a viewer sees only the transparency log; no serious accessibility violation in
either theme (tests/dashboard_fixtures.py)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.dashboard_fixtures import (
    CONTEXT,
    INPUT,
    Dashboard,
    axe_violations,
    dashboard,
    format_violations,
    new_page,
    problems,
    screenshot,
    seed,
    set_theme,
    settle,
    sign_in,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under ARKA_REQUIRE_SERVICES=1)
    expect = None


def _evaluate_recent(dash: Dashboard) -> None:
    """A few evaluations in the last hours (the Overview's default window is 24 hours of
    the evaluations' own timestamps), compliant and not; then wait for the cases the
    flagged ones open (the event dispatcher opens them shortly after)."""
    officer = dash.client("compliance_officer")
    cases = officer.get("/api/v1/cases").json()["total"]
    now = datetime.now(UTC).replace(microsecond=0)
    amounts = [15000, 200, 12000, 50, 20000]
    for i, amount in enumerate(amounts):
        at = _rfc3339(now - timedelta(hours=i % 3, minutes=5))
        tx = {**INPUT["transaction"], "id": f"ov-{i}", "amount": amount}
        r = officer.post("/api/v1/evaluate", json={"context": {**CONTEXT, "timestamp": at},
                                                   "input": {"transaction": tx}})
        assert r.status_code in (200, 201), r.text
    flagged = sum(1 for a in amounts if a > 10000)
    deadline = time.monotonic() + 30
    while officer.get("/api/v1/cases").json()["total"] < cases + flagged:
        assert time.monotonic() < deadline, "the flagged evaluations opened no case"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[Dashboard]:
    with dashboard(tmp_path_factory.mktemp("dashboard-overview")) as d:
        d.seeded = seed(d)
        _evaluate_recent(d)
        yield d


def _rfc3339(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _num(text: str) -> int:
    return int(text.replace(",", "").strip())


def _table(page: Any, caption: re.Pattern[str]) -> list[list[str]]:
    """Unfold the data table whose caption matches and read its body: [row header, cells]."""
    details = page.locator("main details").filter(
        has=page.locator("caption", has_text=caption))
    expect(details).to_have_count(1)
    if details.get_attribute("open") is None:
        details.get_by_text("Data table", exact=True).click()
    table = page.get_by_role("table", name=caption)
    expect(table).to_be_visible()
    return table.evaluate("""t => [...t.tBodies[0].rows].map(r =>
        [...r.cells].map(c => c.textContent.trim()))""")


def _canvas_labels(page: Any) -> list[str]:
    return page.locator("main canvas[role='img']").evaluate_all(
        "cs => cs.map(c => c.getAttribute('aria-label'))")


def test_the_overview(chromium: Any, dash: Dashboard) -> None:
    page = new_page(chromium)
    try:
        with page.expect_response(re.compile(r"/api/v1/stats/evaluations\?")) as answered:
            sign_in(page, dash, dash.key("compliance_officer"))
        set_theme(page, "light")
        stats = answered.value.json()
        main = page.get_by_role("main")
        expect(main.get_by_role("heading", level=1)).to_have_text("Overview")
        for name in ("Evaluations", "Case queues", "Transparency log"):
            expect(main.get_by_role("heading", level=2, name=name, exact=True)).to_be_visible()
        settle(page)

        # the API's answer, asked again for the same window, is what the page was given
        query = {k: v[0] for k, v in parse_qs(urlparse(answered.value.url).query).items()}
        assert query["bucket"] == "hour"
        officer = dash.client("compliance_officer")
        again = officer.get("/api/v1/stats/evaluations", params=query).json()
        assert again["decisions"] == stats["decisions"] and again["total"] == stats["total"]
        assert stats["total"] >= 5, stats  # the recent evaluations, not the seeded one

        # a chart per section with the sentence that describes it
        labels = _canvas_labels(page)
        series = [x for x in labels if x.startswith("Stacked bar chart of evaluations per hour")]
        assert len(series) == 1 and f"{stats['total']} evaluations" in series[0], labels
        assert any(x.startswith("Stacked bar chart of open cases per queue") for x in labels)
        assert any(x.startswith("Horizontal bar chart of entries: the log has") for x in labels)
        assert any(x.startswith("Horizontal bar chart of top rules") for x in labels)
        expect(main.locator("canvas[role='img']").first).to_have_attribute("width", re.compile(r"[1-9]"))

        # the series' data table: every bucket, the API's counts per decision
        rows = _table(page, re.compile(r"^Evaluations per hour \(UTC\) by decision"))
        assert len(rows) == len(stats["series"])
        heads = ["compliant", "needs_review", "non_compliant"]
        for row, bucket in zip(rows, stats["series"], strict=True):
            assert row[0] == bucket["start"][:10] + " " + bucket["start"][11:16] + " UTC"
            assert [_num(c) for c in row[1:4]] == [bucket["counts"].get(d, 0) for d in heads]
            assert _num(row[-1]) == sum(bucket["counts"].values())
        for i, d in enumerate(heads):
            assert sum(_num(r[1 + i]) for r in rows) == stats["decisions"].get(d, 0)
        top = _table(page, re.compile(r"^Top rules"))
        assert [[r[0], _num(r[1])] for r in top] == [[t["rule"], t["evaluations"]]
                                                      for t in stats["top_rules"]]

        # the queues: the API's open cases per queue, each a link to its cases
        queues = officer.get("/api/v1/queues").json()["items"]
        assert queues, "the seeded evaluation opens a case"
        rows = _table(page, re.compile(r"^Open cases per queue"))
        states = ("open", "in_review", "escalated", "pending_approval")
        assert [[r[0], _num(r[1]), _num(r[3])] for r in rows] == [
            [q["queue"], sum(q[s] for s in states), q["sla_breached"]] for q in queues]
        link = main.get_by_role("list", name="Queues").get_by_role("link", name=queues[0]["queue"])
        expect(link).to_have_attribute("href", f"#/cases?queue={queues[0]['queue']}")

        # the log: its size and head as the API signs it; no chain configured here
        sth = officer.get("/api/v1/log/sth").json()
        rows = _table(page, re.compile(r"^Entries in the log"))
        assert _num(rows[0][1]) == sth["tree_size"]
        expect(main.get_by_text(f"{sth['tree_size']:,} entries", exact=True)).to_be_visible()
        expect(main.get_by_text("No chain is configured for anchoring")).to_be_visible()

        # another window: by day, and the chart says so
        main.get_by_label("Window", exact=True).select_option("30d")
        expect(main.locator("canvas[aria-label^='Stacked bar chart of evaluations per day']")
               ).to_have_count(1)
        settle(page)
        main.get_by_label("Window", exact=True).select_option("24h")
        settle(page)
        unfolded = page.locator("main details[open] summary")
        while unfolded.count():
            unfolded.first.click()  # fold the tables again for the picture
        page.evaluate("() => window.scrollTo(0, 0)")
        screenshot(page, "02-overview.png")
        problems(page).check()
    finally:
        page.context.close()

    # a viewer may read the log only: the other sections are left out
    page = new_page(chromium)
    try:
        sign_in(page, dash, dash.key("viewer"))
        main = page.get_by_role("main")
        expect(main.get_by_role("heading", level=2, name="Transparency log")).to_be_visible()
        settle(page)
        assert main.get_by_role("heading", level=2).all_inner_texts() == ["Transparency log"]
        expect(main.locator("canvas[role='img']")).to_have_count(1)
        problems(page).check()
    finally:
        page.context.close()

    # accessibility, in both themes (axe is injected inline: the context bypasses the CSP)
    found: list[str] = []
    for theme in ("light", "dark"):
        page = new_page(chromium, bypass_csp=True, color_scheme=theme)
        try:
            sign_in(page, dash, dash.key("compliance_officer"))
            settle(page)
            folded = page.locator("main details:not([open]) summary")
            while folded.count():
                folded.first.click()  # the data tables too
            if v := axe_violations(page):
                found.append(format_violations(f"overview ({theme})", v))
        finally:
            page.context.close()
    assert not found, "\n\n".join(found)


def test_the_api_answers_the_overviews_windows(dash: Dashboard) -> None:
    """The windows the page asks for stay within the API's limits, on and off the hour."""
    officer = dash.client("compliance_officer")
    now = datetime.now(UTC).replace(microsecond=0)
    hour = now.replace(minute=0, second=0)
    day = hour.replace(hour=0)
    for first, bucket, n in [(hour - timedelta(hours=23), "hour", 24),
                             (hour - timedelta(hours=167), "hour", 168),
                             (day - timedelta(days=29), "day", 30)]:
        r = officer.get("/api/v1/stats/evaluations",
                        params={"from": _rfc3339(first), "to": _rfc3339(now), "bucket": bucket})
        assert r.status_code == 200, r.text
        assert len(r.json()["series"]) == n, json.dumps(r.json())[:300]
