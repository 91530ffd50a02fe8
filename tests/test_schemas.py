"""Named schemas and input types: what `type:` means, typos caught at validate time, untyped
reads reported, schema versions pinned in bytecode, and one bytecode hash for one rule
whichever way it is compiled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import arka
from arka.compiler import check_rule_source, compile_rule, load_bytecode
from arka.interfaces.cli import main
from arka.rules.schemas import SchemaSet, parse_schema
from tests.helpers import EXAMPLES

TRANSACTION_V1 = """schema:
  name: Transaction
  version: 1.0.0
  properties:
    amount: {type: decimal}
    currency: {type: string}
    type: {type: string, enum: [cash, wire]}
    booked: {type: date}
    counterparty:
      properties:
        country: {type: string}
  required: [amount]
"""
TRANSACTION_V2 = TRANSACTION_V1.replace("1.0.0", "2.0.0").replace(
    "    booked: {type: date}\n", "")
HISTORY = """schema:
  name: TransactionHistory
  version: 1.0.0
  type: array
  items: {type: Transaction}
"""
CTX = {"timestamp": "2024-01-15T12:00:00Z"}


def schemas(*texts: str) -> SchemaSet:
    out = []
    for i, text in enumerate(texts):
        schema, diags = parse_schema(text, f"s{i}.yaml")
        assert schema is not None, diags
        out.append(schema)
    return SchemaSet.of(out)


def rule(expression: str, *inputs: str, name: str = "r") -> str:
    lines = "".join(f"    - {{{i}}}\n" for i in inputs)
    return (f"rule:\n  metadata: {{name: {name}, version: 1.0.0}}\n  inputs:\n{lines}"
            f"  conditions:\n    - id: c\n      expression: '{expression}'\n"
            "  actions:\n    - {trigger: c, type: flag, config: {severity: low, category: X}}\n")


def codes(text: str, schema_set: SchemaSet | None = None) -> list[tuple[str, int, int]]:
    checked = check_rule_source(text, "r.yaml", schemas=schema_set)
    return [(d.code, d.span.line, d.span.column) for d in checked.diagnostics]


TX = "name: transaction, type: Transaction"
HIST = "name: history, type: TransactionHistory, required: false"

# (what, rule text, schemas, expected diagnostics (code, line, column))
CASES: list[tuple[str, str, tuple[str, ...], list[tuple[str, int, int]]]] = [
    ("a typo against a named schema is an error with its position",
     rule("transaction.amout >= 10000", TX), (TRANSACTION_V1,), [("E_UNKNOWN_FIELD", 7, 32)]),
    ("a typo in a nested object of a named schema",
     rule('transaction.counterparty.cuntry == "IR"', TX), (TRANSACTION_V1,),
     [("E_UNKNOWN_FIELD", 7, 45)]),
    ("a declared field is fine", rule("transaction.amount >= 10000", TX), (TRANSACTION_V1,),
     []),
    ("a typo read through an untyped input is a warning",
     rule("transaction.amout >= 10000", "name: transaction, type: object"), (),
     [("W_UNTYPED_FIELD", 7, 32)]),
    ("a typo against an open inline schema is a warning with a suggestion",
     rule("transaction.amout >= 10000",
          "name: transaction, schema: {properties: {amount: {type: decimal}}}"), (),
     [("W_UNTYPED_FIELD", 7, 32)]),
    ("a descriptive name with no schema is untyped, not an object",
     rule("history.filter(t => t.amount > 5).count() > 2", HIST), (),
     [("W_UNTYPED_INPUT", 4, 29), ("W_UNTYPED_FIELD", 7, 42)]),
    ("a descriptive name with a schema is typed by it",
     rule("history.filter(t => t.amount > 5).count() > 2", HIST), (TRANSACTION_V1, HISTORY),
     []),
    ("a list schema's elements are closed too",
     rule("history.filter(t => t.amont > 5).count() > 2", HIST), (TRANSACTION_V1, HISTORY),
     [("E_UNKNOWN_FIELD", 7, 42)]),
    ("a pinned schema version that does not exist",
     rule("transaction.amount > 1", "name: transaction, type: Transaction@3.0.0"),
     (TRANSACTION_V1,), [("E_SCHEMA_TYPE", 4, 33)]),
    ("a field removed in the latest version is unknown there",
     rule("transaction.booked != null", TX), (TRANSACTION_V1, TRANSACTION_V2),
     [("E_UNKNOWN_FIELD", 7, 32)]),
    ("a pin keeps the older version's fields",
     rule("transaction.booked != null", "name: transaction, type: Transaction@1.0.0"),
     (TRANSACTION_V1, TRANSACTION_V2), []),
    ("an inline schema may name a schema for a field",
     rule("tx.main.amount > 1", "name: tx, schema: {properties: {main: {type: Transaction}}}"),
     (TRANSACTION_V1,), []),
    ("an inline schema naming an unknown schema is an error",
     rule("tx.main.amount > 1", "name: tx, schema: {properties: {main: {type: Trans}}}"),
     (TRANSACTION_V1,), [("E_SCHEMA_TYPE", 4, 53)]),
]


@pytest.mark.parametrize(("text", "texts", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_diagnostics(text: str, texts: tuple[str, ...], expected: list[Any]) -> None:
    assert codes(text, schemas(*texts) if texts else None) == expected


def test_messages_say_where_and_how_to_fix() -> None:
    diags = check_rule_source(rule("transaction.amout >= 10000", TX), "r.yaml",
                              schemas=schemas(TRANSACTION_V1)).diagnostics
    assert diags[0].message == "transaction has no field 'amout' (did you mean 'amount'?)"
    diags = check_rule_source(rule("transaction.amout >= 10000", "name: transaction, "
                                   "schema: {properties: {amount: {type: decimal}}}"),
                              "r.yaml").diagnostics
    assert "transaction.amout is read untyped" in diags[0].message
    assert "(did you mean 'amount'?)" in diags[0].message


# Each value-type name means exactly that type: (type, an expression valid for it, an
# input value it accepts, one it refuses on entry)
VALUE_TYPES = [
    ("list", "x.count() > 0", [1], "a"),
    ("array", "x.count() > 0", [1], "a"),
    ("decimal", "x > 5", "12.5", "twelve"),
    ("string", 'x == "a"', "a", 5),
    ("boolean", "x", True, "yes"),
    ("date", 'x > date("2024-01-01")', "2024-02-01", "2024-02-30"),
    ("datetime", 'x > datetime("2024-01-01T00:00:00Z")', "2024-02-01T00:00:00Z", "noon"),
    ("duration", 'x > duration("PT1H")', "PT2H", "two hours"),
    ("object", 'x.k == 1', {"k": 1}, [1]),
]


@pytest.mark.parametrize(("type_name", "expression", "good", "bad"), VALUE_TYPES,
                         ids=[v[0] for v in VALUE_TYPES])
def test_value_type_names_mean_what_they_say(type_name: str, expression: str, good: Any,
                                             bad: Any) -> None:
    text = rule(expression, f"name: x, type: {type_name}")
    checked = check_rule_source(text, "r.yaml")
    assert checked.errors == [], checked.errors
    ruleset = arka.RuleSet([compile_rule(text, "r.yaml")])
    assert ruleset.evaluate({"x": good}, CTX).result["decision"] == "non_compliant"
    with pytest.raises(arka.InputError, match="x: "):
        ruleset.evaluate({"x": bad}, CTX)


def test_a_value_type_used_wrongly_is_a_type_error() -> None:
    assert codes(rule("x.filter(t => t > 1).count() > 0", "name: x, type: decimal")) == \
        [("E_TYPE", 7, 20)]
    assert codes(rule("x.count() > 0", "name: x, type: List")) == []


def test_closed_schema_refuses_an_undeclared_input_field_naming_it() -> None:
    ruleset = arka.RuleSet([compile_rule(rule("transaction.amount > 1", TX), "r.yaml",
                                         schemas=schemas(TRANSACTION_V1))])
    assert ruleset.evaluate({"transaction": {"amount": 5}}, CTX).result["decision"] == \
        "non_compliant"
    with pytest.raises(arka.InputError, match=r"transaction\.colour: .*not allowed"):
        ruleset.evaluate({"transaction": {"amount": 5, "colour": "red"}}, CTX)
    with pytest.raises(arka.InputError, match=r"transaction\.counterparty\.x"):
        ruleset.evaluate({"transaction": {"amount": 5, "counterparty": {"x": 1}}}, CTX)
    with pytest.raises(arka.InputError, match=r"transaction\.amount: required"):
        ruleset.evaluate({"transaction": {"currency": "USD"}}, CTX)


def test_schema_versions_are_part_of_the_bytecode_and_replay_with_it() -> None:
    text = rule("transaction.booked != null", "name: transaction, type: Transaction")
    v1 = compile_rule(text, "r.yaml", schemas=schemas(TRANSACTION_V1))
    pinned = compile_rule(text.replace("type: Transaction", "type: Transaction@1.0.0"),
                          "r.yaml", schemas=schemas(TRANSACTION_V1, TRANSACTION_V2))
    again = compile_rule(text, "elsewhere/r.yaml", schemas=schemas(TRANSACTION_V1))
    assert v1.bytecode_hash == again.bytecode_hash
    assert v1.bytecode_hash != compile_rule(text, "r.yaml").bytecode_hash  # untyped
    meta = load_bytecode(v1.bytecode).program.metadata["inputs"][0]
    assert meta["schemas"][0]["name"] == "Transaction"
    assert meta["schemas"][0]["version"] == "1.0.0"
    assert meta["schemas"][0]["content_hash"].startswith("sha256:")
    assert pinned.program.metadata["inputs"][0]["schemas"][0]["version"] == "1.0.0"
    # the stored bytecode alone (no schema set at hand) still types and converts the input
    stored = arka.RuleSet([load_bytecode(v1.bytecode)])
    out = stored.evaluate({"transaction": {"amount": 1, "booked": "2024-01-02"}}, CTX)
    assert out.result["decision"] == "non_compliant"
    with pytest.raises(arka.InputError, match="booked"):
        stored.evaluate({"transaction": {"amount": 1, "booked": "Tuesday"}}, CTX)


def test_strict_compilation_refuses_warnings() -> None:
    text = rule("transaction.amout >= 10000", "name: transaction, type: object")
    assert compile_rule(text, "r.yaml").warnings[0].code == "W_UNTYPED_FIELD"
    with pytest.raises(arka.CompileError) as err:
        compile_rule(text, "r.yaml", strict=True)
    assert [d.code for d in err.value.diagnostics] == ["W_UNTYPED_FIELD"]


MALFORMED_SCHEMAS = [
    ("no schema key", "table: {name: x}\n", "E_NOT_A_SCHEMA", 1, 1),
    ("bad name", "schema: {name: 'my schema', version: 1.0.0, properties: {}}\n", "E_NAME",
     1, 16),
    ("a value type name", "schema: {name: decimal, version: 1.0.0, properties: {}}\n", "E_NAME",
     1, 16),
    ("bad version", "schema: {name: A, version: one, properties: {a: {type: string}}}\n",
     "E_VERSION", 1, 28),
    ("unknown key", "schema: {name: A, version: 1.0.0, propertes: {}}\n", "E_UNKNOWN_KEY",
     1, 35),
    ("no fields", "schema: {name: A, version: 1.0.0}\n", "E_MISSING_KEY", 1, 9),
    ("bad field type", "schema: {name: A, version: 1.0.0, properties: {a: {type: 'no such'}}}\n",
     "E_SCHEMA_TYPE", 1, 58),
    ("additionalProperties not boolean",
     "schema: {name: A, version: 1.0.0, properties: {a: {type: string}}, "
     "additionalProperties: sometimes}\n", "E_SCHEMA", 1, 90),
    ("not YAML", "schema: {name: A\n", "E_YAML", 2, 1),
]


@pytest.mark.parametrize(("text", "code", "line", "column"), [m[1:] for m in MALFORMED_SCHEMAS],
                         ids=[m[0] for m in MALFORMED_SCHEMAS])
def test_malformed_schema_documents(text: str, code: str, line: int, column: int) -> None:
    schema, diags = parse_schema(text, "s.yaml")
    assert schema is None
    assert (diags[0].code, diags[0].span.line, diags[0].span.column) == (code, line, column), diags


def test_schemas_that_refer_to_each_other_without_end() -> None:
    a = "schema:\n  name: A\n  version: 1.0.0\n  properties:\n    b: {type: B}\n"
    b = "schema:\n  name: B\n  version: 1.0.0\n  properties:\n    a: {type: A}\n"
    set_ = schemas(a, b)
    problems = set_.problems(set_.get("A"))  # type: ignore[arg-type]
    assert [d.code for d in problems] == ["E_SCHEMA_CYCLE"]
    assert "A -> B -> A" in problems[0].message


# ------------------------------------------------------------------ CLI


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "transaction.yaml").write_text(TRANSACTION_V1)
    (tmp_path / "rules" / "big.yaml").write_text(rule("transaction.amount >= 10000", TX,
                                                      name="big"))
    (tmp_path / "rules" / "loose.yaml").write_text(
        rule("payment.amout >= 10000", "name: payment, type: object", name="loose"))
    return tmp_path


def test_validate_finds_schemas_beside_the_rules_and_reports_warnings(project: Path) -> None:
    code, out = cli("rule", "validate", str(project / "rules"))
    assert code == 0, out
    assert "big.yaml: ok" in out
    assert "W_UNTYPED_FIELD payment.amout is read untyped" in out
    assert "loose.yaml: ok (1 warning(s))" in out
    code, out = cli("rule", "validate", "--strict", str(project / "rules"))
    assert code == 1
    code, out = cli("rule", "validate", "--output", "json", str(project / "rules"))
    files = {Path(f["file"]).name: f for f in json.loads(out)["files"]}
    assert files["loose.yaml"]["valid"] is True
    assert files["loose.yaml"]["warnings"][0]["code"] == "W_UNTYPED_FIELD"
    assert files["loose.yaml"]["warnings"][0]["severity"] == "warning"
    (project / "rules" / "big.yaml").write_text(rule("transaction.amout >= 1", TX, name="big"))
    code, out = cli("rule", "validate", str(project / "rules" / "big.yaml"))
    assert code == 1
    assert "E_UNKNOWN_FIELD transaction has no field 'amout' (did you mean 'amount'?)" in out


def test_explicit_schemas_and_a_broken_schema_file(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "t.yaml").write_text(TRANSACTION_V1.replace("amount:", "sum:"))
    code, out = cli("rule", "validate", "--schemas", str(other), str(project / "rules/big.yaml"))
    assert code == 1 and "no field 'amount'" in out
    (other / "t.yaml").write_text("schema: {name: Transaction, version: x, properties: {}}\n")
    code, out = cli("rule", "validate", "--schemas", str(other), str(project / "rules"))
    assert code == 1 and "E_VERSION" in out
    code, out = cli("rule", "validate", "--schemas", str(tmp_path / "nope"), str(project))
    assert code == 2 and "no such file or directory" in out


def test_coverage_reports_input_fields_no_test_supplies(project: Path) -> None:
    (project / "rules" / "big.yaml").write_text(rule(
        'transaction.amount >= 10000 AND transaction.counterparty.country != "IR"', TX,
        name="big"))
    (project / "rules" / "big.test.yaml").write_text(
        "tests:\n  - name: big\n    context: {timestamp: '2024-01-01T00:00:00Z'}\n"
        "    input: {transaction: {amount: 20000}}\n    expected: {decision: compliant}\n")
    code, out = cli("rule", "test", str(project / "rules" / "big.yaml"), "--coverage")
    assert "big: transaction.counterparty" in out
    assert "big: transaction.counterparty.country" in out
    assert "never supplied by a test" in out
    assert "data coverage: 1/3 input fields read are supplied by a test" in out


# ------------------------------------------------------------------ one hash everywhere


def test_cli_http_and_python_compile_the_same_bytes(tmp_path: Path) -> None:
    """An auditor recompiling a rule's source (with the same schemas) gets the hash in the
    proof, whether the rule came from a file, the CLI or an API request."""
    from arka.app.core import Core
    from arka.settings import Settings
    from arka.storage import Store
    from tests.service_fixtures import api_client

    db = f"sqlite:///{tmp_path / 'a.db'}"
    store = Store(db)
    store.migrate()
    client = api_client(Core(Settings(db, tmp_path / "keys"), store))
    yaml = {"content-type": "application/x-yaml"}
    # a schema is deployed after the schemas it names
    for name in ("customer", "loan", "transaction", "transaction-history"):
        path = EXAMPLES / "schemas" / f"{name}.yaml"
        resp = client.post("/api/v1/schemas", content=path.read_text(), headers=yaml)
        assert resp.status_code == 201, resp.text
    example_schemas = SchemaSet.from_paths([EXAMPLES / "schemas"])
    rules = [p for p in sorted((EXAMPLES / "rules").glob("*.yaml"))
             if not p.name.endswith(".test.yaml")]
    assert rules
    for path in rules:
        text = path.read_text()
        python = arka.compile_rule(text, schemas=example_schemas).bytecode_hash
        assert arka.compile_file(path, schemas=example_schemas).bytecode_hash == python
        code, printed = cli("rule", "compile", str(path), "-o", str(tmp_path / "r.rtvm"))
        assert code == 0, printed
        assert printed.strip().endswith(python), printed
        resp = client.post("/api/v1/rules", content=text, headers=yaml)
        assert resp.status_code == 201, resp.text
        assert resp.json()["bytecode_hash"] == python


def test_a_ruleset_pins_schema_versions(tmp_path: Path) -> None:
    """Rule v1 typed with Transaction 1.0.0 and v2 with 2.0.0: a ruleset pinning ^1.0.0
    picks v1, one pinning ^2.0.0 picks v2; a pin no deployed version fits is refused, and a
    replay of the v1 evaluation after Transaction 2.0.0 is deployed still matches."""
    from arka.app.core import Core
    from arka.settings import Settings
    from arka.storage import Store
    from tests.service_fixtures import api_client

    db = f"sqlite:///{tmp_path / 'p.db'}"
    store = Store(db)
    store.migrate()
    client = api_client(Core(Settings(db, tmp_path / "keys"), store))
    yaml = {"content-type": "application/x-yaml"}

    def post(path: str, text: str) -> Any:
        return client.post(f"/api/v1/{path}", content=text, headers=yaml)

    text = rule("transaction.amount > 100", TX, name="pinned")
    assert post("schemas", TRANSACTION_V1).status_code == 201
    assert post("rules", text).status_code == 201
    body = {"context": {"timestamp": "2024-02-01T00:00:00Z", "ruleset": "p1"},
            "input": {"transaction": {"amount": 500, "booked": "2024-01-31"}}}

    def ruleset(name: str, pin: str) -> Any:
        return post("rulesets", f"ruleset:\n  metadata: {{name: {name}, version: 1.0.0}}\n"
                    f"  rules: [{{ref: pinned, version: '^1.0.0'}}]\n"
                    f"  schemas: [{{ref: Transaction, version: '{pin}'}}]\n")

    assert ruleset("p1", "^1.0.0").status_code == 201
    refused = ruleset("p2", "^2.0.0")
    assert refused.status_code == 400 and "schema 'Transaction'" in refused.text
    first = client.post("/api/v1/evaluate", json=body)
    assert first.status_code == 201, first.text
    assert post("schemas", TRANSACTION_V2).status_code == 201
    assert post("rules", text.replace("version: 1.0.0", "version: 1.1.0")).status_code == 201
    assert ruleset("p2", "^2.0.0").status_code == 201
    picked = {}
    for name in ("p1", "p2"):
        ok = {**body, "context": {**body["context"], "ruleset": name},
              "input": {"transaction": {"amount": 500}}}
        resp = client.post("/api/v1/evaluate", json=ok)
        assert resp.status_code == 201, resp.text
        picked[name] = resp.json()["rule_results"][0]["version"]
    assert picked == {"p1": "1.0.0", "p2": "1.1.0"}
    # the v1 rule still accepts `booked` (its pinned schema has it); the v2 one refuses it
    again = client.post("/api/v1/evaluate", json={**body, "context": {
        **body["context"], "ruleset": "p2"}})
    assert again.status_code == 400 and "booked" in again.text
    replay = client.post("/api/v1/evaluate/replay",
                         json={"evaluation_id": first.json()["evaluation_id"]})
    assert replay.status_code == 200 and replay.json()["match"] is True, replay.text


@pytest.mark.parametrize(("type_name", "bad", "message"), [
    ("list", "a", "x: expected a list, got a string"),
    ("object", [1], "x: expected an object, got a list"),
    ("string", 5, "x: expected text, got a decimal"),
    ("boolean", None, None),  # a missing required input has its own message
])
def test_entry_conversion_messages_read_as_english(type_name: str, bad: Any,
                                                   message: str | None) -> None:
    ruleset = arka.RuleSet([compile_rule(rule("x != null", f"name: x, type: {type_name}"))])
    if message is None:
        with pytest.raises(arka.InputError, match="required"):
            ruleset.evaluate({}, CTX)
        return
    with pytest.raises(arka.InputError) as err:
        ruleset.evaluate({"x": bad}, CTX)
    assert err.value.message == message
