"""`arka-cli case` against a live service (a case opened by the service's dispatcher from
an escalating evaluation, listed, worked and exported), and `arka-cli verify` of the
exported bundle, offline, also after tampering."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.live_server import CLI, live_server
from tests.test_case_service import CTX, RULE

YAML = {"content-type": "application/x-yaml"}


def cli(*args: str, key: str | None = None, url: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    extra = [] if url is None else ["--url", url]
    extra += [] if key is None else ["--api-key", key]
    return subprocess.run([CLI, *args, *extra], capture_output=True, text=True, timeout=120)


def wait(test: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = test()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_case_commands_and_bundle_verification(tmp_path: Path) -> None:
    with live_server(tmp_path) as srv:
        admin = srv.client("admin")
        assert admin.post("/api/v1/rules", content=RULE, headers=YAML).status_code == 201
        for amount in (12000, 60000):
            r = admin.post("/api/v1/evaluate", json={"context": CTX, "input": {
                "customer": {"id": "C-1"}, "transaction": {"id": "t", "amount": amount}}})
            assert r.status_code == 201, r.text
        analyst, officer = srv.keys[("t1", "analyst")], srv.keys[("t1", "compliance_officer")]
        listed = wait(lambda: [c for c in json.loads(cli(
            "case", "list", "--queue", "aml-review", key=analyst, url=srv.url).stdout)[
            "items"] if len(c["evaluation_ids"]) == 2])
        (case,) = listed
        cid = case["id"]
        shown = cli("case", "show", cid, key=analyst, url=srv.url)
        assert shown.returncode == 0 and json.loads(shown.stdout)["priority"] == "high"
        done = cli("case", "act", cid, "claim", key=analyst, url=srv.url)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status"] == "in_review"
        assert cli("case", "act", cid, "comment", "--text", "statements requested",
                   key=analyst, url=srv.url).returncode == 0
        refused = cli("case", "act", cid, "close", "--disposition", "false_positive",
                      "--reason", "salary", key=analyst, url=srv.url)
        assert refused.returncode == 1
        assert "needs the cases:close permission" in refused.stderr
        bad = cli("case", "act", cid, "close", "--disposition", "maybe", "--reason", "unsure",
                  key=officer, url=srv.url)
        assert bad.returncode == 1 and "disposition must be one of" in bad.stderr
        closed = cli("case", "act", cid, "close", "--disposition", "false_positive",
                     "--reason", "documented salary", "--expected-version", "4",
                     key=officer, url=srv.url)
        assert closed.returncode == 0, closed.stderr
        assert json.loads(closed.stdout)["status"] == "closed"
        stale = cli("case", "act", cid, "reopen", "--reason", "new facts",
                    "--expected-version", "1", key=officer, url=srv.url)
        assert stale.returncode == 1 and "HTTP 409" in stale.stderr
        events = json.loads(cli("case", "show", cid, "--events", key=analyst,
                                url=srv.url).stdout)
        assert [e["action"] for e in events["items"]] == [
            "opened", "evaluation_added", "claim", "comment", "close"]
        assert cli("case", "show", cid, "--verify", key=analyst, url=srv.url).returncode == 0
        bundle_file = tmp_path / "bundle.json"
        assert cli("case", "show", cid, "--export", str(bundle_file), key=analyst,
                   url=srv.url).returncode == 0
        assert cli("case", "list", key="arka_nope", url=srv.url).returncode == 1
        keys_url = f"{srv.url}/api/v1/keys"
        ok = cli("verify", str(bundle_file), "--key", keys_url)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "VALID" in ok.stdout
    # offline: the service is gone
    ok = cli("verify", str(bundle_file))
    assert ok.returncode == 0 and "give --key" in ok.stdout, ok.stdout
    bundle = json.loads(bundle_file.read_text())
    for name, tamper in (
            ("note", lambda b: b["events"][3]["details"].update(text="edited")),
            ("dropped event", lambda b: b["events"].pop(1)),
            ("record", lambda b: b["evaluations"][0]["result"].update(decision="compliant"))):
        copy = json.loads(json.dumps(bundle))
        tamper(copy)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(copy))
        bad = cli("verify", str(path))
        assert bad.returncode == 1, (name, bad.stdout)
        assert "INVALID" in bad.stdout, name
    as_json = cli("verify", str(bundle_file), "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["valid"] is True
    unreachable = cli("case", "list", url="http://127.0.0.1:9")
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr
