"""Rule source → checked rule → RTVM bytecode, in one call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arka.base import values as V
from arka.base.errors import CompileError, Diagnostic, Span
from arka.compiler.check import check_rule_reads
from arka.compiler.codegen import COMPILER_VERSION, Codegen
from arka.compiler.literals import check_literals
from arka.plugins.host import discover
from arka.plugins.sdk import Catalog
from arka.rtvm import bytecode as bc
from arka.rtvm.loader import LoadedProgram, load
from arka.rules.loader import parse_rule_text
from arka.rules.model import RuleDef
from arka.rules.schemas import SchemaSet, resolve_inputs

MAX_DIAGNOSTICS = 100

__all__ = ["COMPILER_VERSION", "CompiledRule", "SchemaSet", "compile_rule", "compile_file",
           "check_source", "check_rule_source"]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run: its bytecode (validated and loaded) and, when compiled from
    source, the checked rule definition the reference evaluator reads."""

    program: LoadedProgram
    rule: RuleDef | None = None
    # From compiling source: warnings (W_ codes) and the input field paths the rule reads.
    warnings: tuple[Diagnostic, ...] = ()
    reads: frozenset[str] = frozenset()

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


@dataclass(frozen=True, slots=True)
class Checked:
    """The outcome of checking rule source: the rule (None when there are errors), every
    diagnostic sorted by position (warnings included), and the input fields it reads."""

    rule: RuleDef | None
    diagnostics: list[Diagnostic]
    reads: frozenset[str]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


def check_rule_source(text: str, file: str = "<rule>", *,
                      schemas: SchemaSet | None = None, plugins: Catalog | None = None
                      ) -> Checked:
    """Parse, type the inputs with the named schemas and statically check a rule.
    Plugin calls are typed by `plugins` (default: the plugins installed here)."""
    rule, diags = parse_rule_text(text, file)
    reads: set[str] = set()
    if rule is not None:
        rule, resolve_diags = resolve_inputs(rule, schemas)
        checked, reads = check_rule_reads(rule, plugins if plugins is not None else discover())
        diags = diags + resolve_diags + checked + check_literals(rule)
    diags = sorted(diags, key=Diagnostic.sort_key)
    if len(diags) > MAX_DIAGNOSTICS:
        extra = len(diags) - MAX_DIAGNOSTICS
        diags = diags[:MAX_DIAGNOSTICS] + [Diagnostic(
            "E_TOO_MANY_ERRORS", diags[MAX_DIAGNOSTICS].span, f"{extra} more error(s) not shown")]
    failed = any(d.severity == "error" for d in diags)
    return Checked(None if failed else rule, diags, frozenset(reads))


def check_source(text: str, file: str = "<rule>", *, schemas: SchemaSet | None = None,
                 plugins: Catalog | None = None) -> tuple[RuleDef | None, list[Diagnostic]]:
    """Parse and statically check a rule: the rule when it has no errors, and every
    diagnostic (errors and warnings) sorted by position."""
    checked = check_rule_source(text, file, schemas=schemas, plugins=plugins)
    return checked.rule, checked.diagnostics


def compile_rule(text: str, file: str = "<rule>", *,
                 division_scale: int = V.DEFAULT_DIVISION_SCALE,
                 schemas: SchemaSet | None = None, strict: bool = False,
                 plugins: Catalog | None = None) -> CompiledRule:
    """Compile rule source (YAML or JSON). Raises CompileError listing every problem;
    with `strict`, warnings (such as fields read through an untyped input) are problems too.

    `schemas` types inputs whose `type` names a schema; the versions used are part of the
    bytecode. `plugins` declares the plugin functions it may call (default: the plugins
    installed here); the manifest version of each one called is part of the bytecode.
    The bytes depend only on the rule's content, never on `file`."""
    if not 0 <= division_scale <= V.MAX_DIVISION_SCALE:
        raise ValueError(f"division_scale must be 0..{V.MAX_DIVISION_SCALE}")
    plugins = plugins if plugins is not None else discover()
    checked = check_rule_source(text, file, schemas=schemas, plugins=plugins)
    rule = checked.rule
    if rule is None or (strict and checked.warnings):
        problems = checked.diagnostics if strict else checked.errors
        raise CompileError(problems or [
            Diagnostic("E_COMPILE", Span(file, 1, 1), "not a rule")], text)
    program = Codegen(rule, division_scale, plugins).compile()
    return CompiledRule(load(bc.encode(program)), rule, tuple(checked.warnings), checked.reads)


def compile_file(path: str | Path, **kwargs: Any) -> CompiledRule:
    p = Path(path)
    return compile_rule(p.read_text(encoding="utf-8"), str(path), **kwargs)


def load_bytecode(data: bytes) -> CompiledRule:
    """A compiled `.rtvm` file, validated; runs on the VM (no reference evaluator)."""
    return CompiledRule(load(data))
