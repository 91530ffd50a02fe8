"""Plugins end to end: manifests read from the SDK, calls typed by the compiler (errors
with positions), bytecode format 3, calls made outside the VM once per evaluation,
recorded in rule results, the trace and the proof, replayed without calling, failures
failing closed, worker-process limits (time, memory, network, files, secrets, crash),
the same records from every executor, the service and the CLI.

The plugins `testkit` (untrusted) and `trustedkit` (trusted) come from the test plugin
package `tests/plugins/arka-test-plugin`, installed in the test environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import arka.testing.reference  # noqa: F401 - registers the "reference" executor
from arka.base.errors import BytecodeError, CompileError
from arka.compiler import compile_rule, load_bytecode
from arka.engine import RuleSet
from arka.engine.plugins import recorded_calls
from arka.plugins import (
    Call,
    Catalog,
    LocalHost,
    ManifestError,
    Permissions,
    Plugin,
    Reply,
    discover,
    export,
)
from arka.rtvm import bytecode as bc
from tests.helpers import ROOT

CLI = str(Path(sys.executable).with_name("arka-cli"))
CTX = {"jurisdiction": "US", "timestamp": "2024-05-01T12:00:00Z"}


def _require_test_plugins() -> None:
    names = discover().names()
    if "testkit" not in names or "trustedkit" not in names:
        pytest.fail("the test plugin package is not installed: pip install -e "
                    "tests/plugins/arka-test-plugin (the README's setup command does it)")


_require_test_plugins()


def rule(expression: str, name: str = "plugin-rule", lets: str = "", extra: str = "") -> str:
    return f"""rule:
  metadata: {{name: {name}, version: 1.0.0, jurisdiction: US}}
  inputs:
    - name: customer
      schema:
        type: object
        properties: {{name: {{type: string}}, amount: {{type: decimal}}}}
{lets}  conditions:
    - id: hit
      expression: '{expression}'
{extra}  actions:
    - trigger: hit
      type: flag
      config: {{category: PLUGIN_HIT, severity: high}}
"""


GREET = rule('plugin.trustedkit.greet(customer.name).length > 3')


@pytest.fixture(scope="module")
def host() -> Any:
    h = LocalHost()
    yield h
    h.close()


def evaluate(text: str, host: Any, input_: dict[str, Any] | None = None, **kw: Any) -> Any:
    rs = RuleSet([compile_rule(text)], plugins=host)
    return rs.evaluate(input_ or {"customer": {"name": "Alexandra", "amount": 5}}, CTX, **kw)


# ------------------------------------------------------------------ the SDK

def test_manifest_is_read_from_annotations_and_declarations() -> None:
    m = discover().get("trustedkit")
    assert m is not None and m.trusted and m.version == "2.1.0"
    greet = m.export("greet")
    assert greet is not None
    assert greet.signature() == ("plugin.trustedkit.greet(name: string, punctuation?: string)"
                                 " -> object")
    assert greet.returns.to_json() == {"type": "object", "properties": {
        "greeting": {"type": "string"}, "length": {"type": "integer"}},
        "additionalProperties": False}
    t = discover().get("testkit")
    assert t is not None and not t.trusted
    assert t.permissions == Permissions(False, ("ARKA_TEST_SECRET",), (), 2.0, 384 << 20)
    assert type(t).from_json(t.to_json()) == t


@pytest.mark.parametrize("make, message", [
    (lambda: type("P", (Plugin,), {"name": "Bad Name", "version": "1.0.0"}),
     "name 'Bad Name' must match"),
    (lambda: type("P", (Plugin,), {"name": "ok", "version": "one"}), "is not semver"),
    (lambda: type("P", (Plugin,), {"name": "ok", "version": "1.0.0"}), "exports no function"),
    (lambda: type("P", (Plugin,), {"name": "ok", "version": "1.0.0",
                                   "f": export(lambda self, x: x)}),
     "parameter 'x' has no type"),
    (lambda: type("P", (Plugin,), {"name": "ok", "version": "1.0.0",
                                   "f": export(params={"x": "strin"}, returns="string")(
                                       lambda self, x: x)}),
     "unknown type 'strin'"),
    (lambda: type("P", (Plugin,), {"name": "ok", "version": "1.0.0",
                                   "f": export(params={"x": "string", "y": "string"},
                                               returns="string")(lambda self, x: x)}),
     "declares 'y', which the method does not take"),
    (lambda: type("P", (Plugin,), {"name": "ok", "version": "1.0.0",
                                   "f": export(returns="string")(lambda self, *a: a)}),
     "*args and **kwargs cannot be declared"),
])
def test_malformed_manifests_are_refused_with_the_reason(make: Any, message: str) -> None:
    with pytest.raises(ManifestError) as info:
        make().manifest()
    assert message in info.value.message


def test_permissions_from_json_refuse_bad_values() -> None:
    for bad, message in [({"network": "yes"}, "network must be true or false"),
                         ({"max_time": 0}, "max_time must be seconds"),
                         ({"max_memory": 10}, "at least 16 MiB"),
                         ({"secrets": "HOME"}, "secrets must list text"),
                         ({"sockets": True}, "unknown permission 'sockets'")]:
        with pytest.raises(ManifestError) as info:
            Permissions.from_json(bad)
        assert message in info.value.message


# ------------------------------------------------------------------ compiling

@pytest.mark.parametrize("expression, code, message, column", [
    ("plugin.nosuch.f(1)", "E_UNKNOWN_PLUGIN", "plugin 'nosuch' is not installed", 20),
    ("plugin.trustedkit.gret(customer.name)", "E_UNKNOWN_FUNCTION",
     "has no function 'gret' (did you mean 'greet'?)", 20),
    ("plugin.trustedkit.greet(customer.amount).length > 1", "E_TYPE",
     "argument 'name' of plugin.trustedkit.greet() needs a string, got a decimal", 53),
    ("plugin.trustedkit.greet().length > 1", "E_ARITY",
     "plugin.trustedkit.greet() is missing argument 'name'", 20),
    ("plugin.trustedkit.greet(customer.name, \"!\", 3).length > 1", "E_ARITY",
     "takes at most 2 argument(s), got 3", 20),
    ("plugin.trustedkit.greet(nam: customer.name).length > 1", "E_ARITY",
     "has no parameter 'nam'", 20),
    ("plugin.trustedkit.greet(customer.name).lenght > 1", "E_UNKNOWN_FIELD",
     "no field 'lenght' (did you mean 'length'?)", 59),
    ("plugin.trustedkit.greet(x => x).length > 1", "E_TYPE", "cannot be a lambda", 44),
])
def test_plugin_calls_are_type_checked_with_positions(expression: str, code: str,
                                                      message: str, column: int) -> None:
    with pytest.raises(CompileError) as info:
        compile_rule(rule(expression))
    (d,) = [d for d in info.value.diagnostics if d.code == code]
    assert message in d.message, d.message
    assert (d.span.line, d.span.column) == (10, column)


def test_unknown_plugin_lists_the_installed_ones_and_an_empty_catalog_knows_none() -> None:
    with pytest.raises(CompileError) as info:
        compile_rule(GREET, plugins=Catalog())
    assert "installed: none" in info.value.diagnostics[0].message
    with pytest.raises(CompileError) as info:
        compile_rule(rule("plugin.trustedkt.greet(customer.name).length > 1"))
    msg = info.value.diagnostics[0].message
    assert "(did you mean 'trustedkit'?)" in msg and "installed: sanctions, testkit, trustedkit" in msg


def test_a_plugin_rule_is_format_3_and_every_other_rule_keeps_format_2() -> None:
    compiled = compile_rule(GREET)
    assert compiled.program.version == bc.PLUGIN_FORMAT_VERSION
    assert compiled.program.metadata["plugins"] == [{
        "plugin": "trustedkit", "version": "2.1.0", "function": "greet", "args": ["name"],
        "returns": {"type": "object", "properties": {"greeting": {"type": "string"},
                                                     "length": {"type": "integer"}},
                    "additionalProperties": False}}]
    assert compile_rule(GREET).bytecode == compiled.bytecode  # deterministic
    assert load_bytecode(compiled.bytecode).bytecode_hash == compiled.bytecode_hash
    plain = compile_rule(rule("customer.amount > 1"))
    assert plain.program.version == 2 and "plugins" not in plain.program.metadata
    from arka import load_rules
    assert {r.program.version for r in load_rules([ROOT / "examples" / "rules"])} == {2}


def _reencode(program: bc.Program, **meta: Any) -> bytes:
    metadata = dict(program.metadata)
    metadata.update(meta)
    return bc.encode(bc.Program(metadata, program.constants, program.functions, program.lines,
                                program.version))


def test_the_loader_refuses_malformed_plugin_calls() -> None:
    program = compile_rule(GREET).program.program
    entry = program.metadata["plugins"][0]
    cases = [
        (_reencode(program, plugins=[]), "CALL_PLUGIN index 0 out of range"),
        (_reencode(program, plugins=[{**entry, "args": []}]), "pops 1 arguments; the "
         "metadata names 0"),
        (_reencode(program, plugins=[{**entry, "version": "x"}]), "version is not semver"),
        (_reencode(program, plugins=[{**entry, "plugin": "Bad Name"}]), "must be names"),
        (_reencode(program, plugins=[{**entry, "extra": 1}]), "must be {plugin, version"),
        (_reencode(program, plugins=[{**entry, "args": ["a", "a"]}]), "distinct parameter"),
        (_reencode(program, plugins={"a": 1}), "plugins must be a list"),
        (_reencode(program, plugins=[{**entry, "returns": {"type": "money"}}]), "unknown type"),
    ]
    # a format 2 program may not carry plugin calls, nor the CALL_PLUGIN opcode
    v2 = bc.Program({**program.metadata, "format": 2}, program.constants, program.functions,
                    program.lines, 2)
    cases.append((bc.encode(v2), "plugins in the metadata of a format 2 program"))
    for data, message in cases:
        with pytest.raises(BytecodeError) as info:
            load_bytecode(data)
        assert message in info.value.message, info.value.message


# ------------------------------------------------------------------ running

def test_a_call_is_made_outside_the_vm_and_recorded(host: Any) -> None:
    res = evaluate(GREET, host, trace="basic")
    assert res.decision == "non_compliant"
    (entry,) = res.rule_results
    assert entry["plugin_calls"] == [{
        "plugin": "trustedkit", "function": "greet", "version": "2.1.0",
        "args": {"name": "Alexandra"}, "data_version": {"greetings": "v1"},
        "result": {"greeting": "Hello, Alexandra!", "length": 9}}]
    assert {"event": "plugin_call", "call": 0, "plugin": "trustedkit", "function": "greet",
            "args": {"name": "Alexandra"},
            "result": {"greeting": "Hello, Alexandra!", "length": 9}} in res.trace[0]["events"]


def test_positional_and_named_arguments_and_defaults(host: Any) -> None:
    text = rule('plugin.trustedkit.greet(punctuation: "?", name: customer.name).greeting == '
                '"Hello, Alexandra?" and plugin.trustedkit.greet(customer.name, "!").greeting'
                ' == "Hello, Alexandra!"')
    res = evaluate(text, host)
    assert res.decision == "non_compliant"
    calls = res.rule_results[0]["plugin_calls"]
    assert [c["args"] for c in calls] == [{"name": "Alexandra", "punctuation": "?"},
                                          {"name": "Alexandra", "punctuation": "!"}]


def test_the_same_call_twice_in_one_evaluation_is_made_once(host: Any) -> None:
    text = rule("plugin.testkit.counter() == plugin.testkit.counter()",
                lets="  let:\n    first: plugin.testkit.counter()\n")
    other = rule("plugin.testkit.counter() > 0", name="other-rule")
    rs = RuleSet([compile_rule(text), compile_rule(other)], plugins=host)
    res = rs.evaluate({"customer": {"name": "A", "amount": 1}}, CTX, trace="basic")
    calls = [c for e in res.rule_results for c in e["plugin_calls"]]
    assert len(calls) == 2 and calls[0] == calls[1]  # one record in each rule, one call
    assert all(e["status"] == "fired" for e in res.rule_results)
    second = rs.evaluate({"customer": {"name": "A", "amount": 1}}, CTX)
    assert second.rule_results[0]["plugin_calls"][0]["result"] == \
        calls[0]["result"] + 1  # the next evaluation makes the call again


@pytest.mark.parametrize("executor", ["vm", "interpreter", "reference"])
def test_every_executor_gives_the_same_result_and_trace(host: Any, executor: str) -> None:
    text = rule('plugin.testkit.add(customer.amount, 2.50) > 7 and '
                'plugin.trustedkit.greet(customer.name).length == 9')
    base = evaluate(text, host, trace="basic").to_json(timing=False)
    assert evaluate(text, host, trace="basic", executor=executor).to_json(timing=False) == base
    rec = json.loads(base)["rule_results"][0]["plugin_calls"]
    assert rec[0]["result"] == 7.5 and rec[0]["args"] == {"a": 5, "b": 2.5}


class _Refuses:
    """A host that must not be called (a replay never calls plugins)."""

    def manifests(self) -> dict[str, Any]:
        return {}

    def call_many(self, calls: list[Call]) -> list[Reply]:
        raise AssertionError(f"a replay called {calls}")

    def close(self) -> None:
        pass


def test_a_replay_answers_from_the_recorded_calls_and_never_calls(host: Any) -> None:
    text = rule("plugin.testkit.counter() > 0 and plugin.trustedkit.greet(customer.name)"
                ".length > 3")
    first = evaluate(text, host, trace="basic")
    recorded = recorded_calls(first.rule_results)
    replay = evaluate(text, _Refuses(), trace="basic", recorded_calls=recorded)
    assert replay.to_json(timing=False) == first.to_json(timing=False)
    # a call the original did not make is an error of the replay, never a live call
    missing = evaluate(text, _Refuses(), recorded_calls=recorded[:1])
    assert missing.decision == "needs_review"
    err = missing.rule_results[0]["error"]
    assert err["code"] == "E_PLUGIN_REPLAY" and "never calls a plugin" in err["message"]


@pytest.mark.parametrize("expression, code, message", [
    ("plugin.testkit.fail(\"boom\")", "E_PLUGIN", "RuntimeError: boom"),
    ("plugin.testkit.sleep(3)", "E_PLUGIN_TIMEOUT", "no answer within 2s"),
    ("plugin.trustedkit.slow(2)", "E_PLUGIN_TIMEOUT", "within 1s (max_time)"),
    ("plugin.testkit.crash()", "E_PLUGIN_CRASH", "died during the call (exit code 3)"),
    ("plugin.testkit.allocate(2000) > 0", "E_PLUGIN_MEMORY", "ran out of memory"),
    ("plugin.testkit.connect(\"127.0.0.1\", 6379)", "E_PLUGIN", "may not use the network"),
    ("plugin.testkit.read_file(\"/etc/hostname\") != \"\"", "E_PLUGIN",
     "may not read /etc/hostname"),
    ("plugin.testkit.bad_result() > 0", "E_PLUGIN_RESULT", "does not return what its "
     "manifest declares"),
])
def test_a_failing_call_fails_the_rule_closed_and_is_recorded(host: Any, expression: str,
                                                              code: str, message: str) -> None:
    res = evaluate(rule(expression), host, trace="basic")
    assert res.decision == "needs_review"
    (entry,) = res.rule_results
    assert entry["status"] == "error" and entry["error"]["code"] == code
    assert message in entry["error"]["message"]
    assert (entry["error"]["line"], entry["error"]["column"]) == (10, 20)
    (call,) = entry["plugin_calls"]
    assert call["error"]["code"] == code and "result" not in call
    # the host recovers: the next call works (a new worker replaces a killed one)
    assert evaluate(rule("plugin.testkit.add(1, 2) == 3"), host).decision == "non_compliant"


def test_secrets_reach_only_the_permitted_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARKA_TEST_SECRET", "s3cret")
    monkeypatch.setenv("ARKA_OTHER_SECRET", "hidden")
    fresh = LocalHost()  # workers take the environment when they start
    try:
        res = evaluate(rule('plugin.testkit.secret("ARKA_TEST_SECRET") == "s3cret" and '
                            'plugin.testkit.secret("ARKA_OTHER_SECRET") == ""'), fresh)
        assert res.decision == "non_compliant", res.rule_results
    finally:
        fresh.close()


def test_isolate_all_runs_trusted_plugins_in_workers_with_the_same_record() -> None:
    text = rule("plugin.trustedkit.pid() > 0 and plugin.trustedkit.greet(customer.name)"
                ".length == 9")
    local, isolated = LocalHost(), LocalHost(isolate_all=True)
    try:
        a = evaluate(text, local).rule_results[0]["plugin_calls"]
        b = evaluate(text, isolated).rule_results[0]["plugin_calls"]
    finally:
        local.close()
        isolated.close()
    assert a[0]["result"] == os.getpid() and b[0]["result"] != os.getpid()
    assert a[1] == b[1]


def test_no_host_means_every_call_fails_closed() -> None:
    res = RuleSet([compile_rule(GREET)]).evaluate({"customer": {"name": "Al"}}, CTX)
    assert res.decision == "needs_review"
    assert res.rule_results[0]["error"]["code"] == "E_PLUGIN_UNAVAILABLE"


def test_results_are_typed_as_declared_and_decimals_stay_exact(host: Any) -> None:
    text = rule("plugin.testkit.add(customer.amount, 0.1) == 0.3")
    res = evaluate(text, host, {"customer": {"name": "x", "amount": Decimal("0.2")}})
    assert res.decision == "non_compliant"  # no float anywhere: 0.2 + 0.1 is 0.3


def test_plugin_calls_are_counted_in_metrics(host: Any) -> None:
    from arka.observability import metrics as M
    before = M.PLUGIN_CALLS.labels("testkit", "add", "ok")._value.get()
    evaluate(rule("plugin.testkit.add(40, 2) == 42"), host)
    assert M.PLUGIN_CALLS.labels("testkit", "add", "ok")._value.get() == before + 1
    evaluate(rule("plugin.testkit.fail(\"x\")"), host)
    assert M.PLUGIN_CALLS.labels("testkit", "fail", "E_PLUGIN")._value.get() >= 1


# ------------------------------------------------------------------ the service

def test_the_service_lists_plugins_records_calls_in_the_proof_and_replays(
        tmp_path: Path) -> None:
    from arka.app.core import Core
    from arka.settings import Settings
    from arka.storage import Store
    from tests.service_fixtures import api_client
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    core = Core(Settings(url, tmp_path / "keys"), store)
    client = api_client(core)
    listed = client.get("/api/v1/plugins").json()
    assert [p["name"] for p in listed["items"]] == ["sanctions", "testkit", "trustedkit"]
    one = client.get("/api/v1/plugins/trustedkit").json()
    assert one["runs"] == "in process" and one["functions"][0]["name"] == "greet"
    assert client.get("/api/v1/plugins/nosuch").status_code == 404
    bad = client.post("/api/v1/rules", content=rule("plugin.trustedkit.gret(customer.name)"),
                      headers={"content-type": "application/x-yaml"})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"][0]["line"] == 10
    text = rule("plugin.testkit.counter() > 0 and plugin.trustedkit.greet(customer.name)"
                ".length > 3")
    assert client.post("/api/v1/rules", content=text,
                       headers={"content-type": "application/x-yaml"}).status_code == 201
    body = {"context": CTX, "input": {"customer": {"name": "Alexandra", "amount": 3}}}
    record = client.post("/api/v1/evaluate", json=body).json()
    calls = record["rule_results"][0]["plugin_calls"]
    assert [c["function"] for c in calls] == ["counter", "greet"]
    assert [e["event"] for e in record["trace"][0]["events"]][:2] == ["plugin_call"] * 2
    eid = record["evaluation_id"]
    assert client.post(f"/api/v1/proofs/{eid}/verify").json()["valid"] is True
    # the counter would answer differently now: the replay reproduces from the record
    assert client.post("/api/v1/evaluate", json=body).status_code == 201
    core.plugin_host.close()
    core.executor = type(core.executor)(plugins=_Refuses())
    core.evaluations.executor = core.executor
    replay = core.evaluations.replay("default", eid, trace="full")
    assert replay["match"] is True
    # a tampered plugin result no longer verifies
    stored = core.store.evaluations.get("default", eid)
    stored["rule_results"][0]["plugin_calls"][1]["result"]["length"] = 99
    from arka.trust.proofs import verify_record
    assert not verify_record(stored, core.keys.public_keys()).valid


# ------------------------------------------------------------------ the CLI

def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_cli_plugin_list_info_and_test() -> None:
    listed = run("plugin", "list", "--output", "json")
    assert listed.returncode == 0
    assert {"testkit", "trustedkit"} <= {p["name"] for p in json.loads(listed.stdout)["items"]}
    text = run("plugin", "list")
    assert "plugin.trustedkit.greet(name: string, punctuation?: string) -> object" in text.stdout
    info = run("plugin", "info", "testkit")
    assert "permissions: network no; secrets ARKA_TEST_SECRET" in info.stdout
    assert run("plugin", "info", "nosuch").returncode == 1
    ok = run("plugin", "test", "testkit", "add", "--args", '{"a": 1.25, "b": 2}')
    assert ok.returncode == 0 and json.loads(ok.stdout)["result"] == 3.25
    failed = run("plugin", "test", "testkit", "fail", "--args", '{"message": "no"}')
    assert failed.returncode == 1 and json.loads(failed.stdout)["error"]["code"] == "E_PLUGIN"
    for args, message in [(["testkit", "add", "--args", '{"a": 1}'], "missing argument 'b'"),
                          (["testkit", "add", "--args", '{"a": 1, "b": 2, "c": 3}'],
                           "has no parameter 'c'"),
                          (["testkit", "nope"], "has no function 'nope'"),
                          (["testkit", "add", "--args", "[1, 2]"], "must be a JSON object"),
                          (["testkit", "add", "--args", "{bad json"], "not valid JSON")]:
        bad = run("plugin", "test", *args)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr


def test_cli_eval_and_rule_test_call_plugins_with_their_settings(tmp_path: Path) -> None:
    path = tmp_path / "greet.yaml"
    path.write_text(GREET)
    out = run("eval", "--rules", str(path), "--input", '{"customer": {"name": "Alexandra"}}',
              "--context", json.dumps(CTX))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rule_results"][0]["plugin_calls"][0]["result"]["length"] == 9
    config = tmp_path / "plugins.yaml"
    for text, message in [("plugins: [1]", "`plugins:` mapping"),
                          ("plugins: {trustedkit: 3}", "a plugin's settings must be a mapping"),
                          ("plugins: {Bad-Name: {}}", "not a plugin name"),
                          ("plugins: {workers: -1}", "plugins.workers")]:
        config.write_text(text)
        bad = run("eval", "--rules", str(path), "--input", '{"customer": {"name": "A"}}',
                  "--plugin-config", str(config))
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
    missing = run("eval", "--rules", str(path), "--input", "{}", "--plugin-config",
                  str(tmp_path / "absent.yaml"))
    assert missing.returncode == 2 and "cannot read the plugin configuration" in missing.stderr


def test_in_process_and_remote_hosts_give_identical_records(host: Any) -> None:
    """The same evaluation through a LocalHost and through the gRPC plugin host (with the
    compiler typing the rule from the remote host's manifests) gives the same JSON."""
    from arka.rpc.plugins import PluginHostService, RemoteHost, make_server
    service = PluginHostService(LocalHost(discover()))
    server, port = make_server("127.0.0.1", 0, service)
    remote = RemoteHost(f"127.0.0.1:{port}")
    try:
        text = rule('plugin.testkit.add(customer.amount, 0.05) > 5 and '
                    'plugin.trustedkit.greet(customer.name, "?").greeting != "" and '
                    'plugin.testkit.echo([customer.name, 1.50]).value[1] == 1.5')
        compiled = compile_rule(text, plugins=remote.catalog())
        assert compiled.bytecode == compile_rule(text).bytecode
        data = {"customer": {"name": "Ωmega", "amount": "5.00"}}
        local_res = RuleSet([compiled], plugins=host).evaluate(data, CTX, trace="basic")
        remote_res = RuleSet([compiled], plugins=remote).evaluate(data, CTX, trace="basic")

        def without_pids(res: Any) -> str:
            out = json.loads(res.to_json(timing=False))
            events = [e for e in out["trace"][0]["events"] if "result" in e]
            for c in out["rule_results"][0]["plugin_calls"] + events:
                if c["function"] == "echo":
                    c["result"].pop("pid")
            return json.dumps(out, sort_keys=True)
        assert without_pids(local_res) == without_pids(remote_res)
        assert local_res.decision == "non_compliant"
    finally:
        remote.close()
        server.stop(0)
        service.close()


def test_the_remote_rtvm_calls_plugins_and_replays_from_the_record() -> None:
    """Rules with plugin calls on the RTVM service: the same results as in process, and the
    recorded calls travel with a replay."""
    import arka.base.values as V
    from arka.engine.context import normalize_context
    from arka.engine.executor import Group, InProcessExecutor, Item
    from arka.rpc.rtvm import RemoteExecutor, make_server
    from arka.rules.tables import TableSet
    server, port = make_server("127.0.0.1", 0)
    remote = RemoteExecutor("127.0.0.1", port, timeout=30)
    local = InProcessExecutor(plugins=LocalHost())
    try:
        rules = [compile_rule(rule("plugin.testkit.add(customer.amount, 1) == 6 and "
                                   "plugin.trustedkit.greet(customer.name).length == 9"))]
        ctx = normalize_context(CTX)
        values = V.from_json({"customer": {"name": "Alexandra", "amount": 5}})

        def run(executor: Any, recorded: Any = None) -> Any:
            (res,) = executor.evaluate(Group(rules, TableSet(), "most_severe", {},
                                             [Item(values, ctx, "basic", "vm", recorded)]))
            return res
        here, there = run(local), run(remote)
        assert here.to_json(timing=False) == there.to_json(timing=False)
        recorded = recorded_calls(there.rule_results)
        # answered from the record: a different recorded answer shows it was not called
        recorded[0]["result"] = 7
        replayed = run(remote, recorded)
        assert replayed.rule_results[0]["plugin_calls"][0]["result"] == 7
        assert replayed.decision == "compliant"
    finally:
        server.stop(0)
        local.plugins.close()


def test_rtvm_debug_prints_the_recorded_plugin_calls(tmp_path: Path) -> None:
    from arka.app.core import Core
    from arka.settings import Settings
    from tests.service_fixtures import api_client
    data = tmp_path / "data"
    settings = Settings.embedded(data)
    core = Core(settings)
    core.store.migrate()
    client = api_client(core)
    assert client.post("/api/v1/rules", content=GREET,
                       headers={"content-type": "application/x-yaml"}).status_code == 201
    eid = client.post("/api/v1/evaluate", json={"context": CTX, "input": {
        "customer": {"name": "Alexandra"}}}).json()["evaluation_id"]
    core.close()
    out = run("rtvm", "debug", "--evaluation-id", eid, "--data-dir", str(data))
    assert out.returncode == 0, out.stderr
    assert f"evaluation {eid}: reproduces" in out.stdout
    assert ('plugin call 0: trustedkit.greet({"name": "Alexandra"}) trustedkit 2.1.0, '
            'recorded -> {"greeting": "Hello, Alexandra!", "length": 9}') in out.stdout


def test_the_plugins_section_of_the_configuration_file() -> None:
    from arka.settings import Settings
    from arka.settings.file import ConfigError, parse_config
    config = parse_config({"plugins": {"host": "plugins:8082", "timeout": "3s", "workers": 4,
                                       "sanctions": {"datasets": ["a.json"]}}}, env={})
    s = Settings.from_config(config, env={})
    assert (s.plugins_host, s.plugins_timeout, s.plugins_workers) == ("plugins:8082", 3.0, 4)
    assert s.plugin_settings == {"sanctions": {"datasets": ["a.json"]}}
    env = Settings.from_config(config, env={"ARKA_PLUGIN_HOST": "other:1"})
    assert env.plugins_host == "other:1"
    from arka.settings.file import masked
    shown = masked(parse_config({"plugins": {"fx": {"api_key": "k", "token": "t",
                                                     "file": "rates.json"}}}, env={}))
    assert shown["plugins"]["fx"] == {"api_key": "***", "token": "***", "file": "rates.json"}
    for doc, message in [({"plugins": {"workers": 0}}, "plugins.workers"),
                         ({"plugins": {"timeout": "soon"}}, "plugins.timeout"),
                         ({"plugins": {"sanctions": [1]}}, "a plugin's settings must be a "
                          "mapping"),
                         ({"plugins": {"Bad": {}}}, "not a plugin name"),
                         ({"plugins": [1]}, "plugins")]:
        with pytest.raises(ConfigError) as info:
            Settings.from_config(parse_config(doc, env={}), env={})
        assert message in info.value.message, info.value.message


def test_rule_tests_answer_plugin_calls_from_the_test_file(tmp_path: Path) -> None:
    rule_path = tmp_path / "greet.yaml"
    rule_path.write_text(GREET)
    tests = tmp_path / "greet.test.yaml"
    tests.write_text("""tests:
  - name: a long greeting flags (the answer comes from the test, not the plugin)
    input: { customer: { name: Al } }
    plugin_calls:
      - plugin: trustedkit
        function: greet
        args: { name: Al }
        result: { greeting: "Hello, Al!", length: 40 }
    expected: { decision: non_compliant }
  - name: a failing call fails the rule closed
    input: { customer: { name: Al } }
    plugin_calls:
      - { plugin: trustedkit, function: greet, args: { name: Al },
          error: { code: E_PLUGIN_TIMEOUT, message: too slow } }
    expected: { decision: needs_review, error: E_PLUGIN_TIMEOUT }
  - name: a call the test does not list is an error, never a live call
    input: { customer: { name: Bo } }
    plugin_calls: []
    expected: { error: E_PLUGIN_REPLAY }
""")
    out = run("rule", "test", str(rule_path), "--verbose")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 passed, 0 failed" in out.stdout
    tests.write_text("""tests:
  - name: bad
    input: { customer: { name: Al } }
    plugin_calls:
      - { plugin: trustedkit, args: [1], result: 1, answer: 2 }
      - { plugin: trustedkit, function: greet }
      - 7
    expected: { decision: compliant }
""")
    out = run("rule", "test", str(rule_path))
    assert out.returncode == 1
    for message in ["unknown key 'answer' in a plugin call", "a plugin call needs 'function'",
                    "args must be a mapping", "either a result or an error",
                    "each plugin call must be a mapping"]:
        assert message in out.stderr, out.stderr


def test_core_with_plugins_host_compiles_and_calls_through_the_plugin_host(
        tmp_path: Path) -> None:
    import dataclasses

    from arka.app.core import Core
    from arka.rpc.plugins import PluginHostService, RemoteHost, make_server
    from arka.settings import Settings
    from arka.storage import Store
    from tests.service_fixtures import api_client
    service = PluginHostService(LocalHost(discover()))
    server, port = make_server("127.0.0.1", 0, service)
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    settings = dataclasses.replace(Settings(url, tmp_path / "keys"),
                                   plugins_host=f"127.0.0.1:{port}")
    core = Core(settings, store)
    try:
        assert isinstance(core.plugin_host, RemoteHost)
        client = api_client(core)
        listed = client.get("/api/v1/plugins").json()
        assert {p["host"] for p in listed["items"]} == {f"127.0.0.1:{port}"}
        assert client.post("/api/v1/rules", content=GREET,
                           headers={"content-type": "application/x-yaml"}).status_code == 201
        record = client.post("/api/v1/evaluate", json={"context": CTX, "input": {
            "customer": {"name": "Alexandra"}}}).json()
        assert record["result"]["decision"] == "non_compliant"
        assert record["rule_results"][0]["plugin_calls"][0]["result"]["length"] == 9
        server.stop(0)  # the host goes away: calls fail closed, deploys say why
        down = client.post("/api/v1/evaluate", json={"context": CTX, "input": {
            "customer": {"name": "Alexandra"}}}).json()
        assert down["result"]["decision"] == "needs_review"
        assert down["rule_results"][0]["error"]["code"] == "E_PLUGIN_UNAVAILABLE"
    finally:
        server.stop(0)
        core.close()
        service.close()


def test_a_broken_entry_point_is_listed_with_its_reason_and_hides_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata as md

    import arka.plugins.host as H
    real = md.entry_points

    def entry_points(**kw: Any) -> Any:
        found = list(real(**kw))
        return [*found, md.EntryPoint("broken", "no_such_module:Plugin", "arka.plugins"),
                md.EntryPoint("notaplugin", "json:dumps", "arka.plugins")]
    monkeypatch.setattr(H.importlib.metadata, "entry_points", entry_points)
    try:
        cat = discover(refresh=True)
        assert {"sanctions", "testkit", "trustedkit"} <= set(cat.names())
        assert "ModuleNotFoundError" in cat.problems["broken"]
        assert "is not a subclass of arka.plugins.Plugin" in cat.problems["notaplugin"]
        from arka.app.plugins import Plugins
        listed = Plugins(LocalHost(cat)).list()
        assert set(listed["problems"]) == {"broken", "notaplugin"}
    finally:
        monkeypatch.undo()
        discover(refresh=True)


def test_plugin_rules_take_the_fast_path() -> None:
    from arka.rtvm.fastpath import translate
    from arka.rtvm.vm import Limits
    fast = translate(compile_rule(GREET).program, Limits())
    assert fast is not None and "_plugin(X, P[0]" in fast.source
