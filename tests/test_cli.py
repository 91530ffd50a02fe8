"""arka-cli end to end, including malformed arguments and files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from arka.interfaces.cli import main
from tests.helpers import EXAMPLES

RULES = str(EXAMPLES / "rules")
TABLES = str(EXAMPLES / "tables")
INPUT = str(EXAMPLES / "inputs" / "cash-15000.json")
CONTEXT = str(EXAMPLES / "inputs" / "context-us.json")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


BROKEN = """rule:
  metadata: {name: broken, version: 1.0.0}
  conditions:
    - {id: a, expression: amount > 1}
    - {id: b, expression: "1 +"}
  actions:
    - {trigger: c, type: flag, config: {severity: low, category: X}}
"""


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    p = tmp_path / "broken.yaml"
    p.write_text(BROKEN)
    return p


def test_validate_ok() -> None:
    code, out = run("rule", "validate", RULES)
    assert code == 0 and out.count(": ok") == 3


def test_validate_reports_every_error_with_source_line(broken: Path) -> None:
    code, out = run("rule", "validate", str(broken))
    assert code == 1
    assert f"{broken}:4:27: E_UNKNOWN_NAME unknown name 'amount'" in out
    assert f"{broken}:5:31: E_SYNTAX" in out
    assert f"{broken}:7:17: E_UNKNOWN_CONDITION" in out
    assert "    4 |     - {id: a, expression: amount > 1}" in out
    assert out.index("E_UNKNOWN_NAME") < out.index("E_SYNTAX") < out.index("E_UNKNOWN_CONDITION")


def test_validate_json(broken: Path) -> None:
    code, out = run("rule", "validate", "--output", "json", str(broken), RULES)
    assert code == 1
    doc = json.loads(out)
    assert doc["valid"] is False
    errors = doc["files"][0]["errors"]
    assert [(e["code"], e["line"], e["column"]) for e in errors] == [
        ("E_UNKNOWN_NAME", 4, 27), ("E_SYNTAX", 5, 31), ("E_UNKNOWN_CONDITION", 7, 17)]


def test_validate_missing_file() -> None:
    code, out = run("rule", "validate", "nope.yaml")
    assert code == 2 and "no such file" in out


def test_test_command_passes_examples_with_coverage() -> None:
    code, out = run("rule", "test", RULES, "--tables", TABLES, "--coverage")
    assert code == 0, out
    assert "0 failed" in out and "coverage:" in out


def test_test_command_filter_and_failures(tmp_path: Path) -> None:
    rule = tmp_path / "r.yaml"
    rule.write_text((EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text())
    tests = tmp_path / "r.test.yaml"
    tests.write_text("""tests:
  - name: wrong expectation
    context: {jurisdiction: US, timestamp: "2024-01-15T10:30:00Z"}
    input: {transaction: {id: t, amount: 15000, currency: USD, type: cash}}
    expected: {decision: compliant, flags: []}
  - name: right expectation
    context: {jurisdiction: US, timestamp: "2024-01-15T10:30:00Z"}
    input: {transaction: {id: t, amount: 15000, currency: USD, type: cash}}
    expected: {decision: non_compliant}
""")
    code, out = run("rule", "test", str(rule))
    assert code == 1
    assert "FAIL ctr-threshold-flag: wrong expectation" in out
    assert "decision: expected compliant, got non_compliant" in out
    assert "unexpected flag" in out
    assert "1 passed, 1 failed" in out
    code, out = run("rule", "test", str(rule), "--filter", "right")
    assert code == 0 and "1 passed, 0 failed" in out


def test_test_command_rejects_malformed_test_file(tmp_path: Path) -> None:
    rule = tmp_path / "r.yaml"
    rule.write_text((EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text())
    (tmp_path / "r.test.yaml").write_text("tests:\n  - name: x\n    input: {}\n    expected: {decison: x}\n")
    code, out = run("rule", "test", str(rule))
    assert code == 1 and "unknown key 'decison' in expected" in out


def test_eval_prints_the_result() -> None:
    code, out = run("eval", "--rules", RULES, "--tables", TABLES, "--input", INPUT,
                    "--context", CONTEXT, "--trace", "basic")
    assert code == 0
    doc = json.loads(out)
    assert doc["result"]["decision"] == "non_compliant"
    assert doc["rule_results"][0]["status"] == "fired"
    assert "trace" in doc


def test_eval_inline_context_and_missing_input() -> None:
    code, out = run("eval", "--rules", RULES, "--input", '{"customer": {}}', "--context",
                    '{"jurisdiction": "US", "timestamp": "2024-01-01T00:00:00Z"}')
    assert code == 1
    assert json.loads(out)["error"]["code"] == "VALIDATION_ERROR"


def test_eval_malformed_json_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"transaction": ')
    code, out = run("eval", "--rules", RULES, "--input", str(bad))
    assert code == 2 and "input is not valid JSON" in out


def test_eval_bad_trace_level() -> None:
    code, out = run("eval", "--rules", RULES, "--input", INPUT, "--trace", "verbose")
    assert code == 2 and "verbose" in out


def test_eval_with_broken_rules_evaluates_nothing(broken: Path) -> None:
    code, out = run("eval", "--rules", str(broken), "--input", INPUT)
    assert code == 1 and "nothing was evaluated" in out


def test_compile_and_disasm_round_trip(tmp_path: Path) -> None:
    out_file = tmp_path / "ctr.rtvm"
    code, out = run("rule", "compile", str(EXAMPLES / "rules" / "ctr-threshold-flag.yaml"),
                    "-o", str(out_file))
    assert code == 0 and "sha256:" in out
    code, text_from_binary = run("rule", "disasm", str(out_file))
    code2, text_from_source = run("rule", "disasm", str(EXAMPLES / "rules" / "ctr-threshold-flag.yaml"))
    assert code == code2 == 0
    assert text_from_binary == text_from_source
    assert ".function 0 main" in text_from_binary


def test_disasm_rejects_corrupt_bytecode(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rtvm"
    bad.write_bytes(b"RTVM\x01\x00\x00\x00garbage")
    code, out = run("rule", "disasm", str(bad))
    assert code == 1 and "E_BYTECODE" in out


def test_eval_accepts_compiled_bytecode(tmp_path: Path) -> None:
    out_file = tmp_path / "ctr.rtvm"
    run("rule", "compile", str(EXAMPLES / "rules" / "ctr-threshold-flag.yaml"), "-o", str(out_file))
    code, out = run("eval", "--rules", str(out_file), "--input", INPUT, "--context", CONTEXT,
                    "--tables", TABLES)
    assert code == 0 and json.loads(out)["result"]["flags"][0]["code"] == "FL-001"


def test_bench_prints_numbers() -> None:
    code, out = run("rule", "bench", RULES, "--tables", TABLES, "--input", INPUT, "-n", "50")
    assert code == 0
    assert "evaluations/s" in out and "p99" in out


def test_bench_rejects_bad_count() -> None:
    code, out = run("rule", "bench", RULES, "--input", INPUT, "-n", "0")
    assert code == 2


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "arka-cli"
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert "arka-cli" in proc.stdout


def test_a_given_test_file_runs_against_all_rules_together(tmp_path: Path) -> None:
    tests = tmp_path / "together.test.yaml"
    tests.write_text("""tests:
  - name: cash over threshold by a high-risk customer
    context: {jurisdiction: US, timestamp: "2024-01-15T10:30:00Z"}
    input:
      transaction: {id: t, amount: 15000, currency: USD, type: cash, timestamp: "2024-01-15T10:00:00Z"}
      customer: {id: c, risk_score: 90, pep: false, country: US}
    expected:
      decision: non_compliant
      flags: [{category: CTR_REQUIRED}, {category: EDD_REVIEW_OVERDUE}]
      escalations: [{queue: kyc-edd}]
""")
    code, out = run("rule", "test", RULES, "--tables", TABLES, "--tests", str(tests))
    assert code == 0, out
    assert "1 passed, 0 failed" in out


def test_validate_accepts_and_checks_bytecode(tmp_path: Path) -> None:
    good = tmp_path / "ctr.rtvm"
    run("rule", "compile", str(EXAMPLES / "rules" / "ctr-threshold-flag.yaml"), "-o", str(good))
    code, out = run("rule", "validate", str(good))
    assert code == 0 and ": ok" in out
    bad = tmp_path / "bad.rtvm"
    bad.write_bytes(good.read_bytes()[:-5])
    code, out = run("rule", "validate", str(bad))
    assert code == 1 and "E_BYTECODE_TRUNCATED" in out


def test_json_rule_files_work_like_yaml(tmp_path: Path) -> None:
    rule = tmp_path / "json-rule.json"
    rule.write_text(json.dumps({"rule": {
        "metadata": {"name": "json-rule", "version": "1.0.0"},
        "inputs": [{"name": "tx", "schema": {"properties": {"amount": {"type": "decimal"}}}}],
        "conditions": [{"id": "big", "expression": "tx.amount > 1000.50"}],
        "actions": [{"trigger": "big", "type": "flag",
                     "config": {"severity": "low", "category": "BIG", "message": "${tx.amount}"}}],
    }}, indent=2))
    code, out = run("eval", "--rules", str(rule), "--input", '{"tx": {"amount": 1000.51}}',
                    "--context", '{"timestamp": "2024-01-01T00:00:00Z"}')
    assert code == 0, out
    assert json.loads(out)["result"]["flags"][0]["message"] == "1000.51"
