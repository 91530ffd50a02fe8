"""Human-readable listing of loaded bytecode (`arka-cli rule disasm`)."""

from __future__ import annotations

import json

from arka.lang import builtins as B
from arka.rtvm import bytecode as bc
from arka.rtvm.loader import LoadedProgram


def _const_text(c: object) -> str:
    if c is None:
        return "null"
    if c is True or c is False:
        return "true" if c else "false"
    if isinstance(c, str):
        return "string " + json.dumps(c, ensure_ascii=False)
    return f"decimal {c}"


def disassemble(loaded: LoadedProgram) -> str:
    prog = loaded.program
    meta = prog.metadata
    rule = meta["rule"]
    out = [
        f"; rule {rule['name']} {rule['version']}",
        f"; {loaded.bytecode_hash}  ({len(loaded.bytecode)} bytes)",
        f"; format {prog.version}, compiler {meta.get('compiler')}, "
        f"division_scale {meta.get('division_scale')}",
        "",
        f".constants {len(prog.constants)}",
    ]
    out += [f"  #{i:<4} {_const_text(c)}" for i, c in enumerate(prog.constants)]
    conds = [c["id"] for c in meta["conditions"]]
    actions = meta["actions"]
    for fi, (fn, raw) in enumerate(zip(loaded.functions, prog.functions, strict=True)):
        out += ["", f".function {fi} {fn.name} params={fn.n_params} captures={fn.n_captures} "
                    f"max_stack={fn.max_stack} size={len(raw.code)}"]
        last_span = None
        for ins, span in zip(fn.code, fn.spans, strict=True):
            info = bc.NAMES[prog.version][ins.op]
            operands = [ins.a, ins.b][:len(info.operands)]
            if info.code in bc.JUMPS:
                operands = [fn.code[ins.a].offset]
            text = f"  {ins.offset:04d}  {ins.op:<13} {' '.join(map(str, operands))}"
            note = _note(ins.op, ins.a, ins.b, prog, loaded, conds, actions)
            if span is not None and span != last_span:
                note = (note + "  " if note else "") + f"@{span.line}:{span.column}"
                last_span = span
            if note:
                text = f"{text:<40}; {note}"
            out.append(text.rstrip())
    return "\n".join(out) + "\n"


def _note(op: str, a: int, b: int, prog: bc.Program, loaded: LoadedProgram, conds: list[str],
          actions: list[dict[str, object]]) -> str:
    if op in ("CONST", "LOAD_INPUT", "GET_FIELD", "RULE_REF"):
        return _const_text(prog.constants[a])
    if op == "CALL_MEMO" or op == "MAKE_CLOSURE":
        return loaded.functions[a].name
    if op == "CALL_BUILTIN":
        return B.BUILTINS[a].name
    if op == "COND_RESULT":
        return conds[a]
    if op == "EVIDENCE" or op in bc.ACTION_OP_NAMES:
        return f"action {a} ({actions[a]['type']}: {actions[a]['trigger']})"
    if op == "DIV":
        return f"scale {a}, {bc.ROUNDING_MODES[b]}"
    return ""
