"""Generated documentation: `python -m arka.interfaces.docgen` rewrites the generated parts of docs/.

- docs/functions.md from the builtin table (`arka.lang.builtins.BUILTINS`);
- the opcode tables in docs/rtvm-bytecode.md from `arka.rtvm.bytecode.OPCODES`;
- the action table in docs/language.md from the action registry
  (`arka.rules.actions.ACTION_TYPES`);
- the role → permission table in docs/security.md from
  `arka.security.principal.ROLE_PERMISSIONS`.

A test fails when the checked-in docs differ from what this module generates.
"""

from __future__ import annotations

import sys
from pathlib import Path

from arka.lang import builtins as B
from arka.rtvm import bytecode as bc
from arka.rules.actions import ACTION_TYPES

BEGIN = "<!-- BEGIN GENERATED: opcodes -->"
END = "<!-- END GENERATED: opcodes -->"

_GROUPS = (
    ("Collections", "any"), ("Strings", "upper"), ("Numbers", "round"), ("Time", "now"),
    ("Domain", "threshold"),
)


def functions_markdown() -> str:
    starts = {name: title for title, name in _GROUPS}
    out = [
        "# Standard functions",
        "",
        "Generated from `arka.lang.builtins.BUILTINS` by `python -m arka.interfaces.docgen`; do not edit.",
        "",
        "Every function can also be called as a method on its first argument",
        "(`xs.filter(x => x > 1)` is `filter(xs, x => x > 1)`), and takes named arguments",
        "(`round(x, places: 2)`). `?` marks an optional parameter; `lambda` parameters take",
        "`x => expr` (or `(acc, x) => expr` for `reduce`). Functions marked *null-safe* return",
        "null when their first argument is null.",
    ]
    for b in B.BUILTINS:
        if b.name in starts:
            out += ["", f"## {starts[b.name]}", "", "| function | returns | description |",
                    "|---|---|---|"]
        returns = b.returns([])
        flags = " *null-safe*" if b.null_in_null_out else ""
        out.append(f"| `{b.signature()}` | {returns} | {b.doc}{flags} |")
    return "\n".join(out) + "\n"


def _opcode_rows(ops: list[bc.OpInfo]) -> list[str]:
    out = ["| code | opcode | operands | pops | pushes | effect |", "|---|---|---|---|---|---|"]
    names = {"B": "u8", "H": "u16", "I": "u32"}
    for op in sorted(ops, key=lambda o: o.code):
        operands = ", ".join(names[c] for c in op.operands) or "-"
        pops = "n" if op.pops < 0 else str(op.pops)
        out.append(f"| 0x{op.code:02x} | `{op.name}` | {operands} | {pops} | {op.pushes} | "
                   f"{op.doc} |")
    return out


def opcodes_markdown() -> str:
    current = bc.OPCODES[bc.FORMAT_VERSION]
    out = [BEGIN, "", f"Format {bc.FORMAT_VERSION}:", ""] + _opcode_rows(list(current.values()))
    for version in sorted(bc.READABLE_VERSIONS, reverse=True):
        if version == bc.FORMAT_VERSION:
            continue
        ops = bc.OPCODES[version]
        only = [op for code, op in ops.items() if current.get(code) != op]
        gone = sorted(op.name for code, op in current.items() if ops.get(code) != op)
        if version == bc.PLUGIN_FORMAT_VERSION:
            head = (f"Format {version} (written for rules that call plugins) has every opcode "
                    "above, and also:")
        else:
            head = (f"Format {version} (read, never written) has every opcode above except "
                    f"{', '.join(f'`{n}`' for n in gone)}, and also:")
        out += ["", head, ""] + _opcode_rows(only)
    return "\n".join(out + ["", END])


def actions_markdown() -> str:
    out = ["| type | config (required **bold**) | always text | in the result | decision |",
           "|---|---|---|---|---|"]
    for t in ACTION_TYPES.values():
        notes = dict(t.key_notes)
        keys = [(f"**{k}**" if k in t.required else k) + notes.get(k, "") for k in t.keys]
        config = ", ".join(keys) + (f"; {t.config_note}" if t.config_note else "")
        text = ", ".join(t.text_fields) or "-"
        if t.effect is None:
            effect = "-"
        else:
            effect = f"`{t.effect.decision}`" + "".join(
                f" (`{d}` under `{s}`)" for s, d in t.effect.by_strategy)
        out.append(f"| `{t.name}` | {config} | {text} | {t.doc} | {effect} |")
    return "\n".join(out)


def _splice(path: Path, name: str, body: str) -> str:
    begin, end = f"<!-- BEGIN GENERATED: {name} -->", f"<!-- END GENERATED: {name} -->"
    text = path.read_text(encoding="utf-8")
    start, stop = text.index(begin), text.index(end) + len(end)
    return text[:start] + begin + "\n\n" + body + "\n" + end + text[stop:]


def render(docs: Path) -> dict[Path, str]:
    """The generated files' full new contents."""
    from arka.security.principal import role_table_markdown
    bytecode_doc = docs / "rtvm-bytecode.md"
    text = bytecode_doc.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return {
        docs / "functions.md": functions_markdown(),
        bytecode_doc: text[:start] + opcodes_markdown() + text[end:],
        docs / "security.md": _splice(docs / "security.md", "roles", role_table_markdown()),
        docs / "language.md": _splice(docs / "language.md", "actions", actions_markdown()),
    }


def main() -> None:
    docs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs")
    for path, content in render(docs).items():
        path.write_text(content, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
