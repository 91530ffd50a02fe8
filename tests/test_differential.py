"""Differential testing: the RTVM fast path, the bytecode interpreter and the reference
evaluator agree on every generated well-typed rule and input: the same value, decision
and error. Plus a bytecode round trip.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import given, settings

import arka
from arka.base.errors import CompileError
from arka.engine import RuleSet
from arka.rtvm import bytecode as bc
from arka.rtvm.disasm import disassemble
from tests.helpers import DEFAULT_CONTEXT
from tests.strategies import bool_expr, inputs, rule_text, typed_expr

CI = os.environ.get("ARKA_HYPOTHESIS_PROFILE") == "ci"


def _outcome(ruleset: RuleSet, data: dict[str, Any], executor: str) -> Any:
    out = ruleset.evaluate(data, DEFAULT_CONTEXT, executor=executor, trace="basic")
    j = out.to_dict(timing=False)
    rr = j["rule_results"][0]
    if rr["status"] == "error":
        return ("error", rr["error"]["code"], j["result"]["decision"])
    return ("ok", j["result"], rr["conditions"], j["trace"])


@settings(max_examples=4_000 if CI else 300)
@given(typed_expr(), bool_expr(2), inputs())
def test_vm_and_reference_agree(value_expr: str, cond_expr: str, data: dict[str, Any]) -> None:
    text = rule_text(value_expr, cond_expr)
    try:
        compiled = arka.compile_rule(text, "generated.yaml")
    except CompileError as exc:  # the generator only makes well-typed rules
        raise AssertionError(f"generated rule did not compile:\n{text}\n{exc.render()}") from exc
    ruleset = RuleSet([compiled])
    fast = _outcome(ruleset, data, "vm")
    interp = _outcome(ruleset, data, "interpreter")
    ref = _outcome(ruleset, data, "reference")
    assert ruleset._infos[0].fast is not None, "the compiler's output must take the fast path"
    assert fast == interp == ref, text
    # round trip: decode then encode gives the same bytes; disassembly always works
    assert bc.encode(bc.decode(compiled.bytecode)) == compiled.bytecode
    assert disassemble(compiled.program)
