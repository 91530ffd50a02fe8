"""The parsed form of a rule file: what the checker and compiler work from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from arka.base.errors import Span
from arka.lang import ast
from arka.lang.types import Type


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one input value is typed and converted on entry (from the input `schema`)."""

    type: str  # any string decimal integer boolean datetime date duration array object
    properties: tuple[tuple[str, FieldSpec], ...] = ()
    items: FieldSpec | None = None
    enum: tuple[Any, ...] | None = None
    required: tuple[str, ...] = ()
    closed: bool = False  # additionalProperties: false
    # `type: Transaction`: the named schema this stands for, until it is resolved
    # (`arka.rules.schemas.resolve_inputs` replaces it with that schema's fields).
    ref: str | None = None
    span: Span | None = field(default=None, compare=False)  # where `type:` names the schema

    def to_json(self, refs: bool = False) -> dict[str, Any]:
        """The spec as JSON; with `refs`, a schema name stands as its `type` (the form a
        schema document is hashed in), else an unresolved name is `any`."""
        out: dict[str, Any] = {"type": self.ref if refs and self.ref is not None else self.type}
        if self.properties:
            out["properties"] = {k: v.to_json(refs) for k, v in self.properties}
        if self.items is not None:
            out["items"] = self.items.to_json(refs)
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if self.required:
            out["required"] = list(self.required)
        if self.closed:
            out["additionalProperties"] = False
        return out


@dataclass(frozen=True, slots=True)
class SchemaRef:
    """The named schema version an input was typed with when the rule was compiled."""

    name: str
    version: str
    content_hash: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "content_hash": self.content_hash}


@dataclass(frozen=True, slots=True)
class InputDef:
    name: str
    type_name: str
    required: bool
    spec: FieldSpec
    static_type: Type
    span: Span
    # The named schema versions the input was typed with (its `type` first, when named).
    schemas: tuple[SchemaRef, ...] = ()
    type_span: Span | None = None  # where `type:` is written


@dataclass(frozen=True, slots=True)
class LetDef:
    name: str
    expr: ast.Node
    span: Span


@dataclass(frozen=True, slots=True)
class ConditionDef:
    id: str
    expr: ast.Node
    description: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class ActionDef:
    index: int
    type: str  # a name of the action registry (`arka.rules.actions.ACTION_TYPES`)
    trigger: ast.Node
    trigger_text: str
    config: ast.Node  # an ObjectLit whose strings may interpolate `${expr}`
    span: Span


@dataclass(frozen=True, slots=True)
class Metadata:
    name: str
    version: str
    description: str | None = None
    jurisdiction: str = "ALL"
    domain: str | None = None
    effective_date: date | None = None
    expiry_date: date | None = None
    tags: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "description": self.description,
            "jurisdiction": self.jurisdiction, "domain": self.domain,
            "effective_date": self.effective_date.isoformat() if self.effective_date else None,
            "expiry_date": self.expiry_date.isoformat() if self.expiry_date else None,
            "tags": list(self.tags), "depends_on": list(self.depends_on),
        }


@dataclass(frozen=True, slots=True)
class RuleDef:
    metadata: Metadata
    inputs: tuple[InputDef, ...]
    lets: tuple[LetDef, ...]
    conditions: tuple[ConditionDef, ...]
    actions: tuple[ActionDef, ...]
    file: str
    source: str = field(repr=False, default="")
