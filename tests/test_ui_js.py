"""The dashboard's JavaScript tests (vitest, every ui/test/*.test.js), run with the vectors
of the in-browser verifier made here by the Python engine (tests/ui_vectors.py): the
JavaScript verifier must report every real and tampered record as the Python one does.
Then the same vectors in headless Chromium, under the dashboard's Content-Security-Policy,
with the browser's own WebCrypto (SHA-256, Ed25519)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.service_fixtures import _require_or_skip
from tests.ui_vectors import write_vectors

UI = Path(__file__).resolve().parent.parent / "ui"

RUNNER = """// Runs every vector through the verifier as the dashboard ships it.
import { canonicalText, digest, verifyAll } from "./verify.js";

async function run() {
  const v = await (await fetch("./vectors.json")).json();
  const out = { records: {}, canonical: {}, subtle: Boolean(globalThis.crypto?.subtle) };
  for (const r of v.records) {
    const report = await verifyAll({ record: JSON.parse(r.record_text), jwks: r.jwks,
      inclusion: r.inclusion, anchors: r.anchors });
    out.records[r.name] = { verdict: report.verdict,
      checks: report.checks.map((c) => [c.check, c.status]) };
  }
  for (const c of v.canonical) {
    const value = JSON.parse(c.text);
    out.canonical[c.name] = [canonicalText(value), await digest(value)];
  }
  return out;
}
run().then((out) => { window.__results = out; },
  (exc) => { window.__results = { error: String(exc && exc.stack || exc) }; });
"""

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>verify</title>
<link rel="icon" href="data:,"><script type="module" src="./run.js"></script></head><body></body></html>
"""


def _tools() -> str:
    npx = shutil.which("npx")
    if npx is None or shutil.which("node") is None:
        _require_or_skip("node and npx are needed for the dashboard's JavaScript tests")
    if not (UI / "node_modules" / ".bin" / "vitest").exists():
        _require_or_skip("ui/node_modules is missing (run `npm ci` in ui/)")
    return str(npx)


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("ui-vectors") / "verify-vectors.json"
    made = write_vectors(path)
    assert any(v.get("tampered") for v in made["records"])
    return path, made


def test_ui_javascript_tests_with_engine_vectors(vectors: tuple[Path, dict[str, Any]]) -> None:
    npx = _tools()
    path, made = vectors
    env = {**os.environ, "ARKA_UI_VECTORS": str(path), "CI": "1", "NO_COLOR": "1"}
    proc = subprocess.run([npx, "vitest", "run", "--reporter=verbose"], cwd=UI, env=env,
                          capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"vitest failed ({proc.returncode}):\n{output[-20000:]}"
    # the vectors ran (not skipped): one test per record vector
    for v in made["records"]:
        assert f"reports {v['name']} as the Python verifier does" in output, v["name"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_verifier_in_chromium_matches_python(vectors: tuple[Path, dict[str, Any]],
                                              tmp_path: Path) -> None:
    from tests.dashboard_fixtures import TIMEOUT_MS, browser, require_browser, static_site
    npx = _tools()
    require_browser()
    path, made = vectors
    out = tmp_path / "site"
    config = tmp_path / "verify-lib.config.mjs"  # plain object: nothing to resolve from tmp
    config.write_text("export default " + json.dumps({
        "root": str(UI), "logLevel": "warn", "configFile": False, "publicDir": False,
        "build": {"outDir": str(out), "emptyOutDir": True,
                  "lib": {"entry": str(UI / "src" / "verify" / "index.js"),
                          "formats": ["es"], "fileName": "verify"}}}) + ";\n")
    proc = subprocess.run([npx, "vite", "build", "--config", str(config)], cwd=UI,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"vite build of the verifier failed:\n{proc.stdout}{proc.stderr}"
    built = sorted(p.name for p in out.glob("verify*.js"))
    assert built, f"no verifier bundle in {out}: {sorted(p.name for p in out.iterdir())}"
    (out / "run.js").write_text(RUNNER.replace("./verify.js", f"./{built[0]}"))
    (out / "index.html").write_text(PAGE)
    shutil.copy(path, out / "vectors.json")
    with static_site(out, "", _free_port()) as url, browser() as b:
        page = b.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "index.html")
        page.wait_for_function("window.__results !== undefined", timeout=TIMEOUT_MS * 4)
        results = page.evaluate("window.__results")
    assert "error" not in results, results.get("error")
    assert results["subtle"] and not errors, errors
    for c in made["canonical"]:
        assert results["canonical"][c["name"]] == [c["canonical"], c["digest"]], c["name"]
    for v in made["records"]:
        got = results["records"][v["name"]]
        assert got["checks"] == v["expected"]["checks"], (v["name"], got, v["expected"])
        assert got["verdict"] == v["expected"]["cli_verdict"], (v["name"], got)
