"""`arka-cli serve --demo`: a real server on a temporary database with the examples
deployed, sample evaluations stored and one key per role printed; four-eyes approval on;
the data gone at exit; refused next to a configured database."""

from __future__ import annotations

import re
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
from click.testing import CliRunner

from arka.app.demo import PEOPLE, sample_requests
from arka.interfaces.cli import main
from tests.live_server import CLI, _drain, _wait_started, free_port

ROOT = Path(__file__).resolve().parent.parent
RULE = """rule:
  metadata: {name: demo-new, version: 1.0.0, jurisdiction: US, domain: AML}
  inputs: [{name: transaction, type: object}]
  conditions: [{id: big, expression: transaction.amount > 1}]
  actions: [{trigger: big, type: annotate, config: {annotations: {big: true}}}]
"""


def test_the_demo_server(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": str(Path(CLI).parent), "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([CLI, "serve", "--demo", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        said = _wait_started(proc, 120)
        _drain(proc)
        keys = dict(re.findall(r"^ {4}(\S+) +(\S+) +(arka_\S+)$", said, re.M)[i][1:]
                    for i in range(len(PEOPLE)))
        assert set(keys) == {person for _, person in PEOPLE}, said
        assert f"Dashboard: http://127.0.0.1:{port}/ui/" in said
        assert "First start" not in said  # the demo's keys, no bootstrap key
        base = f"http://127.0.0.1:{port}"
        as_ = {p: httpx.Client(base_url=base, headers={"X-API-Key": k}, timeout=30)
               for p, k in keys.items()}
        rules = as_["anna"].get("/api/v1/rules").json()
        names = {r["name"] for r in rules["items"]}
        assert {"ctr-threshold-flag", "structuring-detection", "enhanced-due-diligence",
                "sanctions-screening"} <= names, rules
        stats = as_["aude"].get("/api/v1/stats/evaluations").json()
        assert stats["total"] == len(sample_requests(datetime.now(UTC))), stats
        assert set(stats["decisions"]) >= {"compliant", "non_compliant"}
        assert {f["category"] for f in stats["top_flags"]} >= {"CTR_REQUIRED", "STRUCTURING"}
        assert as_["victor"].get("/api/v1/evaluations").status_code == 403
        # olivia's proposed 1.1.0 of the CTR rule waits for another person: oscar may review it
        versions = as_["anna"].get("/api/v1/rules/ctr-threshold-flag/versions").json()
        assert [v["status"] for v in versions["items"]] == ["active", "pending"], versions
        waiting = {p: as_[p].get("/api/v1/approvals").json()["items"] for p in ("olivia", "oscar")}
        assert [(i["name"], i["version"], i["deployed_by_persons"]) for i in waiting["oscar"]] \
            == [("ctr-threshold-flag", "1.1.0", ["olivia"])]
        assert waiting["olivia"][0]["reviewable"] is False and waiting["oscar"][0]["reviewable"]
        # stored in time order: the most recently stored is the latest
        listed = as_["anna"].get("/api/v1/evaluations", params={"order": "desc",
                                                                 "per_page": 100}).json()
        stamps = [e["timestamp"] for e in listed["items"]]
        assert stamps == sorted(stamps, reverse=True)
        # four-eyes: olivia deploys, oscar (another person) approves
        r = as_["olivia"].post("/api/v1/rules", content=RULE,
                               headers={"Content-Type": "application/x-yaml"})
        assert r.status_code == 201 and r.json()["status"] == "pending", r.text
        assert as_["olivia"].post("/api/v1/rules/demo-new/versions/1.0.0/approve",
                                  json={}).status_code == 403
        r = as_["oscar"].post("/api/v1/rules/demo-new/versions/1.0.0/approve", json={})
        assert r.status_code == 200 and r.json()["status"] == "active", r.text
        # the server listens on the loopback interface only
        assert httpx.get(f"{base}/health/live").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert not list(tmp_path.glob("arka-demo-*")), "the demo data outlived the server"


def test_the_demo_refuses_a_configured_database(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(main, ["serve", "--demo", "--database-url", f"sqlite:///{tmp_path}/x"])
    assert done.exit_code == 2 and "leave out --config and --database-url" in done.output
    done = runner.invoke(main, ["serve", "--demo", "--examples", str(tmp_path)])
    assert done.exit_code == 2 and "has no rules/ folder" in done.output
