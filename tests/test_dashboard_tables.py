"""Reference tables in the dashboard, in a real Chromium against a real Core: a table's
versions, a new version written in the browser (its errors shown at their line and
column, deployed once fixed), approved by a second person, and compared with the first
version (a summary naming the changed rows, and the line diff); and what a user without
`rules:write` is offered."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dashboard_fixtures import Dashboard, go, settle, sign_in, sign_out

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under ARKA_REQUIRE_SERVICES=1)
    expect = None

NAME = "ref-thresholds"
TABLE = """\
table:
  name: {name}
  version: {version}
  kind: threshold
  description: Reporting thresholds for the dashboard tests
  rows:
    - {{ jurisdiction: US, type: ctr, value: {ctr}, effective_date: 2024-01-01 }}
    - {{ jurisdiction: ALL, type: occasional_cdd, value: 15000{extra} }}
"""
FIRST = TABLE.format(name=NAME, version="1.0.0", ctr=10000, extra="")
# the new version as first typed: a value that is text, not a number, and a misspelt key
BAD = TABLE.format(name=NAME, version="1.1.0", ctr='"12000"', extra=", expires: 2027-01-01")
GOOD = TABLE.format(name=NAME, version="1.1.0", ctr=12000, extra=", expiry_date: 2027-01-01")


@pytest.fixture(scope="module")
def table(dash: Dashboard) -> str:
    """Version 1.0.0 of the table, deployed by the compliance officer and approved by
    another person (the test server has no tables of its own)."""
    officer = dash.client("compliance_officer")
    r = officer.post("/api/v1/tables", content=FIRST,
                     headers={"Content-Type": "application/x-yaml"})
    assert r.status_code == 201, r.text
    reviewer = dash.jwt_client("reviewer@example.com", ["compliance_officer"])
    r = reviewer.post(f"/api/v1/tables/{NAME}/versions/1.0.0/approve",
                      json={"note": "seeded by the dashboard table tests"})
    assert r.status_code == 200, r.text
    return NAME


def _where(text: str, needle: str) -> str:
    """`line L, column C` of the first `needle` in `text` (both 1-based)."""
    lines = text.splitlines()
    i = next(n for n, s in enumerate(lines) if needle in s)
    return f"line {i + 1}, column {lines[i].index(needle) + 1}"


def _type_source(page: Any, text: str) -> None:
    """Replace the editor's text as a user selecting all and typing over it would."""
    source = page.get_by_label("Table source", exact=True)
    source.click()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.insert_text(text)
    expect(source).to_contain_text(text.splitlines()[-1].strip())


def test_new_version_errors_deploy_approve_and_compare(page: Any, dash: Dashboard,
                                                       table: str) -> None:
    main = page.get_by_role("main")
    page.on("dialog", lambda d: d.accept())

    # the officer finds the table on the Tables tab and reads its one version
    sign_in(page, dash, dash.key("compliance_officer"), route="/rules")
    main.get_by_role("tab", name="Tables").click()
    main.get_by_role("link", name=table, exact=True).click()
    expect(main.get_by_role("heading", name=f"Table {table}", exact=True)).to_be_visible()
    versions = main.get_by_role("navigation", name=f"Versions of {table}")
    expect(versions.get_by_role("link", name="1.0.0", exact=True)).to_have_attribute(
        "aria-current", "page")
    expect(main.get_by_role("heading", name=re.compile(r"^Version 1\.0\.0"))).to_be_visible()
    rows = main.get_by_role("table", name=f"Rows of {table} 1.0.0")
    expect(rows.get_by_role("row").filter(has_text="occasional_cdd")).to_contain_text("15000")

    # a new version, from the latest source; Deploy finds both errors at their places
    main.get_by_role("link", name="New version", exact=True).click()
    expect(main.get_by_role("heading", name=f"New version of table {table}")).to_be_visible()
    expect(page.get_by_label("Table source", exact=True)).to_contain_text("version: 1.0.0")
    _type_source(page, BAD)
    main.get_by_role("button", name="Deploy", exact=True).click()
    alert = main.get_by_role("alert")
    expect(alert).to_contain_text("The table has errors")
    type_error = alert.get_by_role("button").filter(has_text="value must be a number")
    expect(type_error).to_contain_text(_where(BAD, '"12000"'))
    key_error = alert.get_by_role("button").filter(has_text="unknown key 'expires'")
    expect(key_error).to_contain_text(_where(BAD, "expires"))
    # ... and in the editor's gutter
    expect(page.locator(".cm-lint-marker-error")).to_have_count(2)
    assert dash.client("admin").get(f"/api/v1/tables/{table}").json()["versions"] == ["1.0.0"]

    # fixed and deployed: with four-eyes approval it waits for a second person
    _type_source(page, GOOD)
    main.get_by_role("button", name="Deploy", exact=True).click()
    expect(main.get_by_role("status").filter(has_text="Deployed")).to_contain_text(
        f"Deployed {table} 1.1.0, pending approval")
    expect(main.get_by_role("alert")).to_have_count(0)
    latest = dash.client("admin").get(f"/api/v1/tables/{table}").json()
    assert (latest["version"], latest["status"]) == ("1.1.0", "pending"), latest

    # its deployer is not offered the review
    go(page, dash, f"/rules/table/{table}/1.1.0")
    expect(main.get_by_role("heading", name="Review this version")).to_be_visible()
    expect(main).to_contain_text("another person with rules:approve must approve")
    expect(main.get_by_role("button", name="Approve", exact=True)).to_have_count(0)

    # another person approves it on the version's page
    sign_out(page)
    sign_in(page, dash, dash.person_key("carol@example.com"), route=f"/rules/table/{table}/1.1.0")
    expect(main.get_by_text("pending approval").first).to_be_visible()
    main.get_by_label(re.compile("^Note")).fill("Four eyes: new CTR threshold checked")
    main.get_by_role("button", name="Approve", exact=True).click()
    expect(main.get_by_text("active", exact=True).first).to_be_visible()
    expect(main.get_by_role("heading", name="Review this version")).to_have_count(0)
    latest = dash.client("admin").get(f"/api/v1/tables/{table}").json()
    assert latest["status"] == "active", latest

    # 1.0.0 compared with 1.1.0: the changed rows by name, and the line diff
    main.get_by_role("link", name="Compare versions", exact=True).click()
    expect(main.get_by_role("heading", name=f"Compare versions of table {table}")).to_be_visible()
    expect(main.get_by_label("From version")).to_have_value("1.0.0")
    expect(main.get_by_label("To version")).to_have_value("1.1.0")
    summary = page.get_by_role("region", name="What changed from 1.0.0 to 1.1.0")
    expect(summary).to_contain_text("2 changed")
    ctr = summary.get_by_role("listitem").filter(has_text="US · ctr · from 2024-01-01").first
    expect(ctr).to_contain_text("value")
    expect(ctr).to_contain_text("10000")
    expect(ctr).to_contain_text("12000")
    cdd = summary.get_by_role("listitem").filter(
        has_text="ALL · occasional_cdd · no effective date").first
    expect(cdd).to_contain_text("expiry_date")
    expect(summary.get_by_role("listitem").filter(has_text="version").first).to_contain_text("1.1.0")
    lines = main.get_by_role("table", name=re.compile("^Source lines, 1.0.0"))
    expect(lines.get_by_role("row").filter(has_text="value: 12000").first).to_contain_text("added")
    expect(lines.get_by_role("row").filter(has_text="value: 10000").first).to_contain_text("removed")

    # and back on the table page, the first version is still there to read
    go(page, dash, f"/rules/table/{table}/1.0.0")
    expect(main.get_by_role("heading", name=re.compile(r"^Version 1\.0\.0"))).to_be_visible()
    expect(main.get_by_role("table", name=f"Rows of {table} 1.0.0")).to_contain_text("10000")


def test_an_analyst_may_read_tables_not_deploy_them(page: Any, dash: Dashboard,
                                                   table: str) -> None:
    main = page.get_by_role("main")
    sign_in(page, dash, dash.key("analyst"), route="/rules?tab=tables")
    expect(main.get_by_role("link", name=table, exact=True)).to_be_visible()
    expect(main.get_by_role("link", name="New table", exact=True)).to_have_count(0)
    main.get_by_role("link", name=table, exact=True).click()
    expect(main.get_by_role("heading", name=f"Table {table}", exact=True)).to_be_visible()
    settle(page)
    expect(main.get_by_role("link", name="New version", exact=True)).to_have_count(0)
    # typed in by hand, the editor says why it is not there
    for route in (f"/rules/table/{table}/edit", "/rules/table-new"):
        go(page, dash, route)
        expect(main.get_by_role("alert")).to_contain_text("do not include rules:write")
        expect(page.get_by_label("Table source", exact=True)).to_have_count(0)
