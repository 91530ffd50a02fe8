"""`arka-cli screen`: screening list files directly, its JSON output, and its refusals
of bad arguments and malformed lists (exit 2, saying what and where)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

CLI = str(Path(sys.executable).with_name("arka-cli"))
LISTS = str(ROOT / "examples" / "screening" / "lists.ftm.json")


def screen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "screen", *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))


def test_json_output_lists_matches_with_scores_and_the_versions() -> None:
    out = screen("--dataset", LISTS, "--name", "Muammar al-Qadhafi", "--birth-date", "1942",
                 "--output", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["hit"] is True
    top = data["matches"][0]
    assert top["entity_id"] == "gaddafi" and isinstance(top["score"], float | int)
    assert 0.8 <= top["score"] <= 1
    assert abs(sum(e["contribution"] for e in top["explanation"]) - top["score"]) < 1e-9
    assert data["datasets"][0]["version"].startswith("sha256:")
    none = json.loads(screen("--dataset", LISTS, "--name", "Maria Schmidt", "--output",
                             "json").stdout)
    assert none == {**none, "hit": False, "matches": []}
    # PEPs only when asked for
    assert not json.loads(screen("--dataset", LISTS, "--name", "Mao Zedong", "--output",
                                 "json").stdout)["hit"]
    assert json.loads(screen("--dataset", LISTS, "--name", "Mao Zedong", "--topic", "role.pep",
                             "--output", "json").stdout)["hit"]


def test_text_output_and_fail_on_match() -> None:
    out = screen("--dataset", LISTS, "--name", "Vladimir Putin")
    assert out.returncode == 0 and "putin" in out.stdout and "token_exact" in out.stdout
    assert screen("--dataset", LISTS, "--name", "Vladimir Putin",
                  "--fail-on-match").returncode == 1
    assert screen("--dataset", LISTS, "--name", "Nobody Atall",
                  "--fail-on-match").returncode == 0


def test_bad_arguments_and_lists_are_refused_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ftm.json"
    broken.write_text('{"id": "a", "schema": "Person", "properties": {"name": ["A B"]}}\n'
                      '{"id": "b", "schema": "Person", "properties": {"name": "not a list"}}\n')
    for args, message in [
        (["--dataset", str(tmp_path / "missing.json"), "--name", "x"], "missing.json"),
        (["--dataset", str(broken), "--name", "x"], "broken.ftm.json:2"),
        (["--dataset", LISTS, "--name", "x", "--schema", "Persn"], "unknown schema 'Persn'"),
        (["--dataset", LISTS, "--name", "x", "--threshold", "high"], "--threshold 'high'"),
        (["--dataset", LISTS, "--name", "x", "--threshold", "1.5"], "threshold"),
        (["--dataset", LISTS, "--name", "x", "--birth-date", "1962-13-01"], "birth date"),
        (["--dataset", LISTS, "--name", "x", "--topic", "sanctions"], "unknown topic"),
        (["--dataset", LISTS, "--name", "   "], "name"),
        (["--dataset", LISTS, "--name", "x", "--country", "U S"], "country"),
    ]:
        out = screen(*args)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)
