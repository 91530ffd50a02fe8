"""Rule files on disk: find them, compile them (or load compiled `.rtvm` files)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from arka.base.boundary import BoundaryError, load_yaml
from arka.base.errors import ArkaError, CompileError, Diagnostic, Span
from arka.compiler import CompiledRule, compile_file, load_bytecode
from arka.rules.schemas import load_schemas
from arka.rules.source import MAX_DOCUMENT_BYTES

RULE_SUFFIXES = (".yaml", ".yml", ".json", ".rtvm")


def rule_files(paths: Sequence[str | Path]) -> list[Path]:
    """Rule files among the paths; directories are searched recursively, skipping
    `*.test.yaml` files and documents that are not rules."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in RULE_SUFFIXES and
                          not f.name.endswith((".test.yaml", ".test.yml", ".test.json")) and
                          _looks_like_rule(f))
        else:
            out.append(p)
    return out


def _looks_like_rule(f: Path) -> bool:
    """Skip tables, rulesets, schemas and test files found in a rules directory."""
    if f.suffix == ".rtvm":
        return True
    try:  # a file the bounded loader refuses (too large, alias bomb, ...) is the
        # compiler's to report, with its position
        if f.stat().st_size > MAX_DOCUMENT_BYTES:
            return True
        doc = load_yaml(f.read_text(encoding="utf-8"), str(f))
    except (OSError, UnicodeDecodeError, BoundaryError):
        return True
    return not (isinstance(doc, dict) and "rule" not in doc and
                any(k in doc for k in ("table", "ruleset", "tests", "schema")))


def load_rules(paths: Sequence[str | Path], **kwargs: Any) -> list[CompiledRule]:
    """Compile every rule file (or load every .rtvm) under the paths; all errors at once.

    Inputs are typed with `schemas=` when given, else with the named schemas found beside
    the rules (`schema_paths`), as the CLI does."""
    if kwargs.get("schemas") is None:
        kwargs["schemas"] = load_schemas(schema_paths(paths))
    compiled: list[CompiledRule] = []
    errors: list[Diagnostic] = []
    sources: dict[str, str] = {}
    for f in rule_files(paths):
        try:
            if f.suffix == ".rtvm":
                compiled.append(load_bytecode(f.read_bytes()))
            else:
                compiled.append(compile_file(f, **kwargs))
        except CompileError as exc:
            errors += exc.diagnostics
            if exc.source:
                sources[str(f)] = exc.source
        except ArkaError as exc:
            errors.append(Diagnostic(exc.code, Span(str(f), 1, 1), exc.message))
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(Diagnostic("E_IO", Span(str(f), 1, 1), f"cannot read: {exc}"))
    if errors:
        raise CompileError(errors, sources=sources)
    return compiled


def schema_paths(rule_paths: Sequence[str | Path]) -> list[Path]:
    """Where schemas for rules are found when none are named: the `schema:` documents in
    a rule directory, and a `schemas` directory beside the rules (`examples/rules` ->
    `examples/schemas`; for a rule file, beside or inside its folder)."""
    out: list[Path] = []
    for p in map(Path, rule_paths):
        folder = p if p.is_dir() else p.parent
        candidates = [folder.parent / "schemas", folder / "schemas"]
        if p.is_dir():
            candidates.insert(0, p)
        for candidate in candidates:
            if candidate.is_dir() and candidate.resolve() not in {c.resolve() for c in out}:
                out.append(candidate)
    return out
