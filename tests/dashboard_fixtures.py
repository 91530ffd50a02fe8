"""The web dashboard in a real Chromium (Python Playwright, sync API) against a real ARKA
Core (`tests.live_server`), for tests/test_dashboard*.py.

    with dashboard(tmp) as dash, browser() as b:
        page = new_page(b)
        sign_in(page, dash, dash.key("viewer"))

Which build is tested:
- by default Core's own `/ui/` (the packaged build in `arka/interfaces/http/ui_static`);
- with `ARKA_DASHBOARD_BUILD=DIR` (a `vite build --outDir DIR`), DIR is served by a static
  server on another origin, its `config.json` pointing at Core, and Core allows that origin
  by CORS: the product's "static build on its own origin" deployment
  (`dashboard(tmp, separate=True)` does the same with the packaged build).

Chromium: `$ARKA_CHROMIUM` or /usr/bin/chromium. A missing browser, Playwright or build
skips the tests with the reason, or fails them under `ARKA_REQUIRE_SERVICES=1`.
Screenshots go to `$ARKA_SCREENSHOT_DIR` or `test-artifacts/screenshots/` at the repo root.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import LiveServer, free_port, live_server
from tests.service_fixtures import _require_or_skip

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ROOT / "src" / "arka" / "interfaces" / "http" / "ui_static"
CHROMIUM = os.environ.get("ARKA_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "ui" / "node_modules" / "axe-core" / "axe.min.js"
LISTS = ROOT / "examples" / "screening" / "lists.ftm.json"
SHOTS = Path(os.environ.get("ARKA_SCREENSHOT_DIR") or ROOT / "test-artifacts" / "screenshots")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
JWT_SECRET = "dashboard-tests-hs256-secret-0123456789abcdef"
# The keys every dashboard server has, one per role, in tenant t1.
ROLES = ("admin", "compliance_officer", "analyst", "auditor", "viewer")
TIMEOUT_MS = 15_000


# ------------------------------------------------------------------ what is available

def require_browser() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        _require_or_skip(f"Python Playwright is not installed ({exc})")
    if not os.access(CHROMIUM, os.X_OK):
        _require_or_skip(f"no Chromium at {CHROMIUM} (set ARKA_CHROMIUM)")


def build_dir() -> Path:
    """The dashboard build under test: $ARKA_DASHBOARD_BUILD, else the packaged one."""
    env = os.environ.get("ARKA_DASHBOARD_BUILD")
    path = Path(env) if env else PACKAGED
    if not (path / "index.html").is_file():
        _require_or_skip(f"no dashboard build at {path} (build it: cd ui && npm run build, "
                         "or point ARKA_DASHBOARD_BUILD at a `vite build --outDir` folder)")
    return path


# ------------------------------------------------------------------ the servers

class _Static(http.server.SimpleHTTPRequestHandler):
    """A static host with the headers a careful deployment sends (as Core does at /ui/),
    allowing connections to the API's origin only."""

    csp = ""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass


@contextmanager
def static_site(build: Path, api_base: str, port: int) -> Iterator[str]:
    """Serve a copy of `build` on 127.0.0.1:`port` with `config.json` naming `api_base`."""
    root = Path(tempfile.mkdtemp(prefix="arka-dash-"))
    site = root / "site"
    shutil.copytree(build, site)
    (site / "config.json").write_text(json.dumps({"api_base": api_base}))
    csp = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
           f"img-src 'self' data:; font-src 'self'; connect-src 'self' {api_base}; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    handler = type("Handler", (_Static,), {"csp": csp})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(handler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Dashboard:
    srv: LiveServer
    url: str  # the dashboard's index, ending with "/"
    separate: bool  # served on its own origin (not Core's /ui/)
    extra_keys: dict[str, str] = field(default_factory=dict)
    seeded: Seed | None = None  # what `seed()` stored, when a module seeds

    def key(self, role: str) -> str:
        return self.srv.keys[("t1", role)]

    def client(self, role: str = "admin") -> httpx.Client:
        return self.srv.client(role, "t1")

    def person_key(self, owner: str, role: str = "compliance_officer") -> str:
        """A key of another person (`arka-cli apikey create --owner`): with it, four-eyes
        approval accepts a review of what the role keys deployed."""
        if owner not in self.extra_keys:
            done = self.srv.cli("apikey", "create", "--name", owner, "--role", role,
                                "--tenant", "t1", "--owner", owner, "--key-only")
            self.extra_keys[owner] = done.stdout.strip().splitlines()[-1]
        return self.extra_keys[owner]

    def jwt(self, sub: str, roles: list[str], tenant: str = "t1", ttl: int = 900) -> str:
        """An HS256 token as auth.py accepts it: `sub`, `exp`, the tenant and roles claims."""
        import jwt
        now = int(time.time())
        return jwt.encode({"sub": sub, "tenant": tenant, "roles": roles, "iat": now,
                           "exp": now + ttl}, JWT_SECRET, algorithm="HS256")

    def jwt_client(self, sub: str, roles: list[str]) -> httpx.Client:
        return httpx.Client(base_url=self.srv.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.jwt(sub, roles)}"})

    def at(self, route: str = "/") -> str:
        """The dashboard URL of a hash route (`/rules/x` -> `.../#/rules/x`)."""
        return f"{self.url}#{route}"


def _config(tmp: Path, origin: str | None) -> Path:
    cfg = {
        "governance": {"require_approval": True},
        # the browser tests make a few hundred calls a minute from one key
        "api": {"rate_limiting": {"enabled": False},
                **({"cors": {"allowed_origins": [origin]}} if origin else {})},
        "plugins": {"sanctions": {"datasets": [str(LISTS)]}},
        "cases": {"open_on": ["escalation", "flag:high", "flag:critical"]},
    }
    path = tmp / "dashboard.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return path


@contextmanager
def dashboard(tmp: Path, separate: bool | None = None) -> Iterator[Dashboard]:
    """A Core with four-eyes approval, a JWT secret, sanctions lists, one key per role in
    t1, and the dashboard at `Dashboard.url` (see the module docstring)."""
    require_browser()
    build = build_dir()
    if separate is None:
        separate = bool(os.environ.get("ARKA_DASHBOARD_BUILD"))
    port = free_port() if separate else None
    origin = f"http://127.0.0.1:{port}" if port else None
    with live_server(tmp, config=_config(tmp, origin), env={"ARKA_JWT_SECRET": JWT_SECRET},
                     keys=[("t1", r) for r in ROLES]) as srv:
        if separate:
            assert port is not None
            with static_site(build, srv.url, port) as url:
                yield Dashboard(srv, url, True)
        else:
            r = httpx.get(srv.url + "/ui/", timeout=10)
            if r.status_code != 200:
                _require_or_skip(f"Core does not serve the dashboard at /ui/ ({r.status_code})")
            yield Dashboard(srv, srv.url + "/ui/", False)


# ------------------------------------------------------------------ the browser

@contextmanager
def browser() -> Iterator[Any]:
    """One headless Chromium (a fresh temporary profile each launch)."""
    require_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Watchdog:
    fired: bool = False


@contextmanager
def guarded_browser(shared: Any, seconds: float) -> Iterator[tuple[Any, Watchdog]]:
    """Beside the `shared` browser (from `browser()`), a Chromium of its own that is killed after `seconds`: a page stuck in a JavaScript
    loop never answers input events, and Playwright's keyboard then waits for ever. Its
    processes are found by a marker argument unique to this launch and killed by pid."""
    import signal
    import uuid
    marker = f"--arka-dashboard-test={uuid.uuid4().hex}"
    dog = Watchdog()

    def ours() -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
        return pids

    def kill() -> None:
        dog.fired = True
        for pid in ours():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    b = shared.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                   args=[*LAUNCH_ARGS, marker])
    timer = threading.Timer(seconds, kill)
    timer.start()
    try:
        yield b, dog
    finally:
        timer.cancel()
        try:
            b.close()
        except Exception:  # noqa: BLE001 - killed by the watchdog
            pass


@dataclass
class Problems:
    """What went wrong in the page: uncaught exceptions and CSP violations."""
    errors: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.errors, "the page reported:\n" + "\n".join(self.errors)


PROBLEMS: dict[int, Problems] = {}


def new_page(b: Any, **context: Any) -> Any:
    """A page in a new browser context (no cookies or storage from other tests), 1280×800."""
    from playwright.sync_api import expect
    expect.set_options(timeout=TIMEOUT_MS)
    ctx = b.new_context(viewport=VIEWPORT, **context)
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    probs = PROBLEMS.setdefault(id(page), Problems())
    page.on("pageerror", lambda exc: probs.errors.append(f"uncaught: {exc}"))
    page.on("console", lambda m: probs.errors.append(f"console: {m.text}")
            if m.type == "error" and "Content Security Policy" in m.text else None)
    return page


def problems(page: Any) -> Problems:
    return PROBLEMS.setdefault(id(page), Problems())


# The pytest fixtures of the dashboard tests (tests/conftest.py registers this module):
# one Chromium and one seeded dashboard server per test module, and a fresh page per test
# whose problems fail it.

@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as b:
        yield b


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
         chromium: Any) -> Iterator[Dashboard]:
    """The module's dashboard server, seeded (`seed()`); a module may override it."""
    with dashboard(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])) as d:
        d.seeded = seed(d)
        yield d


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    p = new_page(chromium)
    yield p
    try:
        problems(p).check()
    finally:
        p.context.close()


def sign_in(page: Any, dash: Dashboard, credential: str, kind: str = "api_key",
            route: str = "/") -> None:
    """Sign in through the form and wait for the main navigation."""
    from playwright.sync_api import expect
    page.goto(dash.at(route))
    form_sign_in(page, credential, kind)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def form_sign_in(page: Any, credential: str, kind: str = "api_key") -> None:
    if kind == "jwt":
        page.get_by_role("radio", name="JWT (bearer token)", exact=True).check()
        page.get_by_role("textbox", name="Token", exact=True).fill(credential)
    else:
        page.get_by_role("radio", name="API key", exact=True).check()
        page.get_by_role("textbox", name="API key", exact=True).fill(credential)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(page: Any) -> None:
    from playwright.sync_api import expect
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()


def go(page: Any, dash: Dashboard, route: str) -> None:
    """Navigate the signed-in app to a hash route (no reload: the session stays)."""
    page.evaluate("h => { location.hash = h }", route)
    settle(page)


# Nothing is loading: no busy region and no "Loading…"/"Verifying…" status left.
_SETTLED = """() => !document.querySelector('[aria-busy="true"]') &&
  ![...document.querySelectorAll('[role="status"]')]
     .some(e => e.textContent.trim().endsWith('…'))"""


def settle(page: Any) -> None:
    page.wait_for_function(_SETTLED, timeout=TIMEOUT_MS)


def set_theme(page: Any, theme: str) -> None:
    """Switch with the header's button (when it offers the switch to `theme`)."""
    button = page.get_by_role("button", name=f"Switch to {theme} theme", exact=True)
    if button.count():
        button.click()
    page.wait_for_function("t => document.documentElement.dataset.theme === t", arg=theme)


# ------------------------------------------------------------------ axe and screenshots

def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")
                   ) -> list[dict[str, Any]]:
    """Run axe-core in the page (the context needs `bypass_csp=True`: the script is
    injected inline); the violations of the given impacts."""
    if not AXE.is_file():
        _require_or_skip(f"axe-core is not installed at {AXE} (cd ui && npm ci)")
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
          url: v.helpUrl, nodes: v.nodes.map(n => ({target: n.target.join(' '),
          html: n.html.slice(0, 200), summary: n.failureSummary}))}));
    }""")
    return [v for v in result if v["impact"] in impacts]


def format_violations(where: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{where}: {len(violations)} accessibility violation(s)"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['url']})")
        for n in v["nodes"][:6]:
            lines.append(f"      at {n['target']}: {n['html']}")
            lines += [f"         {s}" for s in (n["summary"] or "").splitlines()]
    return "\n".join(lines)


def screenshot(page: Any, name: str) -> Path:
    """Save the viewport as SHOTS/name (e.g. `03-rules.png`)."""
    assert re.fullmatch(r"\d\d-[a-z0-9-]+\.png", name), name
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=False, animations="disabled", caret="hide")
    return path


def copy_screenshots(dest: Path, names: list[str] | None = None) -> list[Path]:
    """Copy saved screenshots (all, or `names`) to `dest` (e.g. docs/images/dashboard)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sorted(SHOTS.glob("*.png")):
        if names is None or src.name in names:
            out.append(Path(shutil.copy2(src, dest / src.name)))
    missing = set(names or []) - {p.name for p in out}
    assert not missing, f"no screenshot {sorted(missing)} in {SHOTS}"
    return out


# ------------------------------------------------------------------ data

RULE = """\
rule:
  metadata:
    name: {name}
    version: {version}
    description: Flag cash transactions of more than {limit} USD
    jurisdiction: US
    domain: AML
  inputs:
    - name: transaction
      type: object
      required: true
  conditions:
    - id: large_cash
      expression: transaction.amount > {limit} AND transaction.type == "cash"
  actions:
    - trigger: large_cash
      type: flag
      config:
        severity: high
        category: LARGE_CASH
        message: "Cash transaction of more than {limit} USD"
"""
CONTEXT = {"jurisdiction": "US", "domain": "AML", "timestamp": "2026-01-15T14:00:00Z"}
INPUT = {"transaction": {"id": "tx-1", "amount": 15000, "currency": "USD", "type": "cash"}}


def rule_source(name: str, version: str = "1.0.0", limit: int = 10000) -> str:
    return RULE.format(name=name, version=version, limit=limit)


@dataclass
class Seed:
    rule: str
    versions: list[str]
    evaluation_id: str


def seed(dash: Dashboard, rule: str = "big-cash") -> Seed:
    """Two approved versions of `rule` (deployed by the compliance officer, approved by
    another person) and one evaluation that flags (and so opens a case)."""
    officer = dash.client("compliance_officer")
    reviewer = dash.jwt_client("reviewer@example.com", ["compliance_officer"])
    versions = [("1.0.0", 10000), ("1.1.0", 9000)]
    for version, limit in versions:
        r = officer.post("/api/v1/rules", content=rule_source(rule, version, limit),
                         headers={"Content-Type": "application/x-yaml"})
        assert r.status_code == 201, r.text
        r = reviewer.post(f"/api/v1/rules/{rule}/versions/{version}/approve",
                          json={"note": "seeded by the dashboard tests"})
        assert r.status_code == 200, r.text
    r = officer.post("/api/v1/evaluate", json={"context": CONTEXT, "input": INPUT})
    assert r.status_code in (200, 201), r.text
    # the event dispatcher opens the case from the stored evaluation, shortly after
    deadline = time.monotonic() + 30
    while officer.get("/api/v1/cases").json()["total"] == 0:
        assert time.monotonic() < deadline, "no case opened from the flagged evaluation"
        time.sleep(0.2)
    return Seed(rule, [v for v, _ in versions], r.json()["evaluation_id"])
