"""The dashboard's shell in a real Chromium: signing in (API key, JWT) and out, where the
credential is kept, what each role is shown, the keyboard, and the static build on its own
origin. Elements are found by role and accessible name, as a user of assistive technology
finds them. The servers and the browser are shared by the module (tests/dashboard_fixtures.py).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.dashboard_fixtures import (
    JWT_SECRET,
    Dashboard,
    dashboard,
    form_sign_in,
    go,
    new_page,
    problems,
    sign_in,
    sign_out,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under ARKA_REQUIRE_SERVICES=1)
    expect = None


def storage(page: Any) -> dict[str, str]:
    return page.evaluate("""() => ({local: JSON.stringify({...localStorage}),
                                    session: JSON.stringify({...sessionStorage})})""")


def api_error(dash: Dashboard, headers: dict[str, str]) -> str:
    """What the API itself answers to this credential (the page must show the same)."""
    r = httpx.get(dash.srv.url + "/api/v1/me", headers=headers, timeout=10)
    assert r.status_code == 401, r.text
    return str(r.json()["error"]["message"])


def nav(page: Any) -> Any:
    return page.get_by_role("navigation", name="Main")


# ------------------------------------------------------------------ signing in

def test_api_key_sign_in_keeps_the_key_in_this_tab_only(page: Any, dash: Dashboard) -> None:
    key = dash.key("compliance_officer")
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/api/v1/" in r.url else None)
    page.goto(dash.at("/"))
    expect(page.get_by_role("heading", name="Sign in to ARKA Engine")).to_be_visible()
    # with no credential kept there is no session to resume: no call (and no 401)
    assert calls == [], calls
    expect(page.get_by_role("radio", name="API key", exact=True)).to_be_checked()
    expect(page.get_by_role("textbox", name="API key", exact=True)).to_have_attribute("type", "password")
    form_sign_in(page, key)
    expect(nav(page)).to_be_visible()
    expect(page.get_by_text("t1 · compliance_officer")).to_be_visible()
    # the key: in sessionStorage (this tab), never in a cookie or in localStorage
    assert page.context.cookies() == []
    kept = storage(page)
    assert key in kept["session"] and key not in kept["local"], kept
    page.reload()  # the tab keeps the session
    expect(nav(page)).to_be_visible()
    sign_out(page)
    expect(nav(page)).to_have_count(0)
    kept = storage(page)
    assert key not in kept["session"] and key not in kept["local"], kept
    assert page.context.cookies() == []
    calls.clear()
    page.reload()  # and signed out stays signed out
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    assert calls == [], calls


def test_a_wrong_key_shows_the_api_error_and_stays_on_the_form(page: Any,
                                                                dash: Dashboard) -> None:
    wrong = "arka_000000000000_" + "x" * 43
    said = api_error(dash, {"X-API-Key": wrong})
    page.goto(dash.at("/"))
    form_sign_in(page, wrong)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(said)
    expect(alert).to_contain_text("AUTHENTICATION_ERROR")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(nav(page)).to_have_count(0)
    assert wrong not in storage(page)["session"]


def test_a_kept_credential_the_api_refuses_signs_out_and_says_why(page: Any,
                                                                   dash: Dashboard) -> None:
    """A key revoked (or a token expired) while the tab kept it: on the next start the
    page drops it and says what the API answered, instead of a bare sign-in form."""
    sign_in(page, dash, dash.key("analyst"))
    revoked = "arka_000000000000_" + "y" * 43
    said = api_error(dash, {"X-API-Key": revoked})
    page.evaluate("""k => sessionStorage.setItem('arka.session',
        JSON.stringify({kind: 'api_key', value: k}))""", revoked)
    page.reload()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Signed out")
    expect(alert).to_contain_text(said)
    expect(nav(page)).to_have_count(0)
    assert revoked not in storage(page)["session"]


def test_jwt_sign_in(page: Any, dash: Dashboard) -> None:
    import jwt
    forged = jwt.encode({"sub": "mallory", "tenant": "t1", "roles": ["admin"],
                         "exp": 4_000_000_000}, "not-" + JWT_SECRET, algorithm="HS256")
    said = api_error(dash, {"Authorization": f"Bearer {forged}"})
    page.goto(dash.at("/"))
    form_sign_in(page, forged, kind="jwt")
    expect(page.get_by_role("alert")).to_contain_text(said)
    expect(nav(page)).to_have_count(0)

    form_sign_in(page, dash.jwt("jane@example.com", ["analyst"]), kind="jwt")
    expect(nav(page)).to_be_visible()
    expect(page.get_by_text("t1 · analyst")).to_be_visible()
    expect(nav(page).get_by_role("link", name="Evaluations")).to_be_visible()
    assert page.context.cookies() == []
    sign_out(page)


# ------------------------------------------------------------------ roles

def test_a_viewer_sees_only_what_the_role_may_read(page: Any, dash: Dashboard) -> None:
    sign_in(page, dash, dash.key("viewer"))
    links = nav(page).get_by_role("link")
    expect(links).to_have_count(2)
    expect(nav(page).get_by_role("link", name="Overview")).to_be_visible()
    expect(nav(page).get_by_role("link", name="Rules")).to_be_visible()
    for hidden in ("Evaluations", "Cases", "Screening"):
        expect(nav(page).get_by_role("link", name=hidden)).to_have_count(0)
    for route, permission in (("/evaluations", "evaluations:read"), ("/cases", "cases:read"),
                              ("/screening", "screening:read")):
        go(page, dash, route)
        refusal = page.get_by_role("main").get_by_role("alert")
        expect(refusal).to_contain_text("do not grant")
        expect(refusal).to_contain_text(permission)


def test_an_analyst_is_not_offered_deploying(page: Any, dash: Dashboard) -> None:
    assert dash.seeded
    rule = dash.seeded.rule
    sign_in(page, dash, dash.key("analyst"), route="/rules")
    main = page.get_by_role("main")
    expect(main.get_by_role("link", name=rule).first).to_be_visible()  # the list is there
    for name in ("New rule", "Deploy"):
        expect(main.get_by_role("link", name=name)).to_have_count(0)
        expect(main.get_by_role("button", name=name)).to_have_count(0)
    go(page, dash, f"/rules/rule/{rule}")
    expect(main.get_by_role("heading", name=f"Rule {rule}")).to_be_visible()
    expect(main.get_by_role("button", name="Deploy")).to_have_count(0)
    expect(main.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)
    go(page, dash, "/rules/new")  # typed in by hand: validating only, and why
    expect(main.get_by_role("button", name="Validate", exact=True)).to_be_visible()
    expect(main).to_contain_text("do not include rules:write")
    expect(main.get_by_role("button", name="Deploy")).to_have_count(0)


def test_a_compliance_officer_is_offered_a_new_rule(page: Any, dash: Dashboard) -> None:
    sign_in(page, dash, dash.key("compliance_officer"), route="/rules")
    main = page.get_by_role("main")
    expect(main.get_by_role("link", name="New rule").or_(
        main.get_by_role("button", name="New rule")).first).to_be_visible()


# ------------------------------------------------------------------ keyboard

def test_skip_link_and_tab_order_reach_the_navigation(page: Any, dash: Dashboard) -> None:
    sign_in(page, dash, dash.key("analyst"))
    skip = page.get_by_role("link", name="Skip to content")
    skip.focus()
    expect(skip).to_be_focused()
    box = skip.bounding_box()  # shown when focused (it may hide off-screen otherwise)
    assert box and box["y"] >= 0 and box["x"] >= 0 and box["width"] > 0, box
    # it is the first stop: nothing focusable before it
    page.keyboard.press("Shift+Tab")
    expect(skip).not_to_be_focused()
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    # forward from it, Tab reaches the main navigation's links in order
    seen = []
    for _ in range(4):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("""() => { const e = document.activeElement;
            return [e.closest('nav')?.getAttribute('aria-label') || '', e.textContent.trim()]; }"""))
    in_nav = [text for where, text in seen if where == "Main"]
    assert in_nav[:2] == ["Overview", "Rules"], seen
    # Enter on the skip link moves the focus to the content
    skip.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()


def test_tabs_switch_with_the_arrow_keys(page: Any, dash: Dashboard) -> None:
    assert dash.seeded
    ev = dash.seeded.evaluation_id
    sign_in(page, dash, dash.key("analyst"), route=f"/evaluations/{ev}")
    tabs = page.get_by_role("tablist", name="Evaluation views")
    first = tabs.get_by_role("tab", name="Explanation")
    expect(first).to_have_attribute("aria-selected", "true")
    first.focus()
    page.keyboard.press("ArrowRight")
    trace = tabs.get_by_role("tab", name="Trace")
    expect(trace).to_have_attribute("aria-selected", "true")
    expect(trace).to_be_focused()
    expect(page.get_by_role("tabpanel")).to_be_visible()
    assert "tab=trace" in page.url
    page.keyboard.press("ArrowLeft")
    expect(first).to_be_focused()
    page.keyboard.press("ArrowLeft")  # wraps round to the last tab
    last = tabs.get_by_role("tab").last
    expect(last).to_have_attribute("aria-selected", "true")
    expect(last).to_be_focused()
    expect(first).to_have_attribute("tabindex", "-1")  # one tab stop for the whole list
    page.keyboard.press("Home")  # and Home goes back to the first
    expect(first).to_have_attribute("aria-selected", "true")
    expect(first).to_be_focused()


# ------------------------------------------------------------------ deployment

def test_the_static_build_on_its_own_origin(chromium: Any, dash: Dashboard,
                                            tmp_path: Any) -> None:
    """The build served by another host, its config.json naming Core: the page calls the
    API cross-origin (Core's CORS allows the page's origin) with the key as a header."""
    if dash.separate:
        run_on_own_origin(chromium, dash)
    else:
        with dashboard(tmp_path, separate=True) as other:
            run_on_own_origin(chromium, other)


def run_on_own_origin(chromium: Any, dash: Dashboard) -> None:
    page = new_page(chromium)
    try:
        api_calls: list[Any] = []
        page.on("request", lambda r: api_calls.append(r) if "/api/v1/" in r.url else None)
        page.goto(dash.at("/"))
        expect(page.get_by_text(f"API: {dash.srv.url}")).to_be_visible()
        sign_in(page, dash, dash.key("analyst"), route="/evaluations")
        expect(page.get_by_role("main").get_by_role("heading", level=1)).to_be_visible()
        assert not page.url.startswith(dash.srv.url)
        assert api_calls and all(r.url.startswith(dash.srv.url + "/api/v1/")
                                 for r in api_calls), [r.url for r in api_calls]
        me = next(r for r in api_calls if r.url.endswith("/api/v1/me") and r.method == "GET"
                  and r.headers.get("x-api-key"))
        assert "cookie" not in me.headers and me.response().status == 200
        assert page.context.cookies() == []
        problems(page).check()
    finally:
        page.context.close()
