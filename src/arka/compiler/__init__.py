"""Rule source → checked rule → RTVM bytecode, in one call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arka.base import values as V
from arka.base.errors import CompileError, Diagnostic, Span
from arka.compiler.check import check_rule
from arka.compiler.codegen import COMPILER_VERSION, Codegen
from arka.compiler.literals import check_literals
from arka.rtvm import bytecode as bc
from arka.rtvm.loader import LoadedProgram, load
from arka.rules.loader import parse_rule_text
from arka.rules.model import RuleDef

MAX_DIAGNOSTICS = 100

__all__ = ["COMPILER_VERSION", "CompiledRule", "compile_rule", "compile_file", "check_source"]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run: its bytecode (validated and loaded) and, when compiled from
    source, the checked rule definition the reference evaluator reads."""

    program: LoadedProgram
    rule: RuleDef | None = None

    @property
    def bytecode(self) -> bytes:
        return self.program.bytecode

    @property
    def bytecode_hash(self) -> str:
        return self.program.bytecode_hash

    @property
    def metadata(self) -> dict[str, Any]:
        return self.program.metadata["rule"]

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def check_source(text: str, file: str = "<rule>") -> tuple[RuleDef | None, list[Diagnostic]]:
    """Parse and statically check a rule; every diagnostic, sorted by position."""
    rule, diags = parse_rule_text(text, file)
    if rule is not None:
        diags = diags + check_rule(rule) + check_literals(rule)
    diags = sorted(diags, key=Diagnostic.sort_key)
    if len(diags) > MAX_DIAGNOSTICS:
        extra = len(diags) - MAX_DIAGNOSTICS
        diags = diags[:MAX_DIAGNOSTICS] + [Diagnostic(
            "E_TOO_MANY_ERRORS", diags[MAX_DIAGNOSTICS].span, f"{extra} more error(s) not shown")]
    return (rule if not diags else None), diags


def compile_rule(text: str, file: str = "<rule>", *,
                 division_scale: int = V.DEFAULT_DIVISION_SCALE) -> CompiledRule:
    """Compile rule source (YAML or JSON). Raises CompileError listing every problem."""
    if not 0 <= division_scale <= V.MAX_DIVISION_SCALE:
        raise ValueError(f"division_scale must be 0..{V.MAX_DIVISION_SCALE}")
    rule, diags = check_source(text, file)
    if diags or rule is None:
        raise CompileError(diags or [Diagnostic("E_COMPILE", Span(file, 1, 1), "not a rule")],
                           text)
    program = Codegen(rule, division_scale).compile()
    return CompiledRule(load(bc.encode(program)), rule)


def compile_file(path: str | Path, **kwargs: Any) -> CompiledRule:
    p = Path(path)
    return compile_rule(p.read_text(encoding="utf-8"), str(path), **kwargs)


def load_bytecode(data: bytes) -> CompiledRule:
    """A compiled `.rtvm` file, validated; runs on the VM (no reference evaluator)."""
    return CompiledRule(load(data))
