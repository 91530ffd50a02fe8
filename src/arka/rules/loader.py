"""Rule files (`docs/language.md`) from located YAML/JSON into a `RuleDef`, reporting every problem.

This pass checks the file's shape: required keys, unknown keys, names, versions, dates,
action types and their config keys; it parses every expression and template. Name
resolution and types come after, in `arka.compiler.check`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from arka.base.errors import Diagnostic, Span
from arka.base.semver import SEMVER_RE, VERSION_BOUNDS
from arka.lang import ast
from arka.lang import types as T
from arka.lang.parser import Origin, parse_or_diagnose, parse_template
from arka.rules.actions import ACTION_TYPES
from arka.rules.model import (
    ActionDef,
    ConditionDef,
    FieldSpec,
    InputDef,
    LetDef,
    Metadata,
    RuleDef,
)
from arka.rules.source import Located, SourceFault, load_document

NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
JURISDICTION_RE = re.compile(r"^(ALL|[A-Z]{2}(?:-[A-Z0-9]{1,3})?)$")
RESERVED_NAMES = {"context", "plugin", "true", "false", "null"}

RULE_KEYS = ("metadata", "inputs", "let", "conditions", "actions")
METADATA_KEYS = ("name", "description", "jurisdiction", "domain", "version", "effective_date",
                 "expiry_date", "tags", "depends_on")
# Descriptive metadata that documents a rule but does not change what it does.
METADATA_INFO_KEYS = ("author", "owner", "title", "regulation", "references", "notes",
                      "created", "updated", "labels", "category")
INPUT_KEYS = ("name", "type", "required", "schema", "description")
SCHEMA_KEYS = ("type", "properties", "items", "enum", "required", "description", "format",
               "additionalProperties", "minimum", "maximum")
CONDITION_KEYS = ("id", "description", "expression")
ACTION_KEYS = ("trigger", "type", "config", "description")
SCHEMA_TYPE_NAMES = ("string", "decimal", "number", "integer", "boolean", "datetime", "date",
                     "duration", "array", "object", "any")
# What a `type:` may name besides a schema (`list` is another name for `array`).
VALUE_TYPE_NAMES = (*SCHEMA_TYPE_NAMES, "list")
# A named schema, optionally at one version: `Transaction`, `Transaction@1.2.0`.
SCHEMA_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
SCHEMA_REF_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}(@[0-9A-Za-z.+-]{1,64})?$")


class _Reader:
    def __init__(self, file: str):
        self.file = file
        self.diags: list[Diagnostic] = []

    def error(self, code: str, span: Span, message: str) -> None:
        self.diags.append(Diagnostic(code, span, message))

    def mapping(self, loc: Located, what: str) -> dict[str, Located] | None:
        if not isinstance(loc.value, dict):
            self.error("E_SCHEMA", loc.span, f"{what} must be a mapping, got {_kind(loc.value)}")
            return None
        return loc.value

    def sequence(self, loc: Located, what: str) -> list[Located] | None:
        if not isinstance(loc.value, list):
            self.error("E_SCHEMA", loc.span, f"{what} must be a list, got {_kind(loc.value)}")
            return None
        return loc.value

    def keys(self, m: dict[str, Located], allowed: Iterable[str], what: str,
             extra_ok: Iterable[str] = ()) -> None:
        allowed = tuple(allowed)
        for key, loc in m.items():
            if key in allowed or key in extra_ok or key.startswith("x-"):
                continue
            span = loc.key_span or loc.span
            hint = _suggest(key, allowed)
            if not hint and " " in key.strip():
                hint = (" (a ',' inside { ... } starts a new entry: put text that contains a "
                        "comma in quotes)")
            self.error("E_UNKNOWN_KEY", span, f"unknown key {key!r} in {what}{hint}")

    def required(self, m: dict[str, Located], key: str, where: Located, what: str) -> Located | None:
        if key not in m:
            self.error("E_MISSING_KEY", where.span, f"{what} needs {key!r}")
            return None
        return m[key]

    def string(self, loc: Located | None, what: str) -> str | None:
        if loc is None:
            return None
        if not isinstance(loc.value, str):
            self.error("E_SCHEMA", loc.span, f"{what} must be text, got {_kind(loc.value)}")
            return None
        return loc.value

    def expression(self, loc: Located, what: str) -> ast.Node | None:
        if isinstance(loc.value, bool | Decimal):  # `limit: 100`, `expression: true`
            return ast.Literal(loc.span, loc.value)
        if not isinstance(loc.value, str) or not loc.value.strip():
            self.error("E_SCHEMA", loc.span, f"{what} must be an expression string")
            return None
        origin = loc.origin or Origin(self.file, loc.span.line, loc.span.column)
        node = parse_or_diagnose(loc.value, origin)
        if isinstance(node, Diagnostic):
            self.diags.append(node)
            return None
        return node

    def template(self, loc: Located) -> ast.Node | None:
        """A config value as an expression that builds it (strings may interpolate)."""
        v = loc.value
        if isinstance(v, dict):
            items = []
            for k, sub in v.items():
                node = self.template(sub)
                if node is None:
                    return None
                items.append((k, node))
            return ast.ObjectLit(loc.span, tuple(items))
        if isinstance(v, list):
            nodes = [self.template(x) for x in v]
            if any(n is None for n in nodes):
                return None
            return ast.ListLit(loc.span, tuple(n for n in nodes if n is not None))
        if isinstance(v, str):
            origin = loc.origin or Origin(self.file, loc.span.line, loc.span.column)
            parsed = parse_template(v, origin)
            if isinstance(parsed, Diagnostic):
                self.diags.append(parsed)
                return None
            return parsed
        return ast.Literal(loc.span, v)


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, Decimal):
        return "a number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, list):
        return "a list"
    return "a mapping"


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _date(r: _Reader, loc: Located | None, what: str) -> date | None:
    if loc is None or loc.value is None:
        return None
    try:
        return date.fromisoformat(str(loc.value))
    except ValueError:
        r.error("E_SCHEMA", loc.span, f"{what} must be a date YYYY-MM-DD, got {loc.value!r}")
        return None


def value_type(name: str) -> str | None:
    """The value type a `type:` name means (`list` is `array`), or None for any other name."""
    t = name.lower()
    if t == "list":
        return "array"
    return t if t in SCHEMA_TYPE_NAMES else None


def read_field_spec(r: _Reader, loc: Located, path: str, closed_default: bool = False
                    ) -> FieldSpec | None:
    """A JSON-Schema-like field spec. `type` is a value type or the name of a named schema
    (resolved later, `arka.rules.schemas`). An object that declares properties is closed when
    `additionalProperties: false`, open when `true`, else `closed_default` (named schemas)."""
    m = r.mapping(loc, f"schema of {path}")
    if m is None:
        return None
    r.keys(m, SCHEMA_KEYS, f"schema of {path}")
    type_name = "any"
    ref = None
    if "type" in m:
        t = r.string(m["type"], f"type of {path}")
        if t is not None and value_type(t) is None:
            if SCHEMA_REF_RE.match(t):
                ref = t
            else:
                r.error("E_SCHEMA_TYPE", m["type"].span,
                        f"type {t!r} of {path} is neither a value type "
                        f"({', '.join(VALUE_TYPE_NAMES)}) nor a schema name"
                        f"{_suggest(t, VALUE_TYPE_NAMES)}")
        elif t is not None:
            type_name = value_type(t) or "any"
    props: list[tuple[str, FieldSpec]] = []
    if "properties" in m:
        pm = r.mapping(m["properties"], f"properties of {path}")
        for name, sub in (pm or {}).items():
            spec = read_field_spec(r, sub, f"{path}.{name}", closed_default)
            if spec is not None:
                props.append((name, spec))
        if type_name == "any" and ref is None:
            type_name = "object"
    items = None
    if "items" in m:
        items = read_field_spec(r, m["items"], f"{path}[]", closed_default)
        if type_name == "any" and ref is None:
            type_name = "array"
    enum = None
    if "enum" in m:
        seq = r.sequence(m["enum"], f"enum of {path}")
        if seq is not None:
            enum = tuple(x.value for x in seq)
    required: tuple[str, ...] = ()
    if "required" in m:
        seq = r.sequence(m["required"], f"required of {path}")
        if seq is not None:
            required = tuple(str(x.value) for x in seq)
    closed = closed_default and bool(props)
    if "additionalProperties" in m:
        extra = m["additionalProperties"].value
        if not isinstance(extra, bool):
            r.error("E_SCHEMA", m["additionalProperties"].span,
                    f"additionalProperties of {path} must be true (other fields allowed) or "
                    "false (only the declared fields)")
        else:
            closed = not extra
    if ref is not None and (props or items is not None):
        r.error("E_SCHEMA", m["type"].span, f"{path} names the schema {ref!r}; it cannot "
                "also declare properties or items (declare them in the schema)")
    return FieldSpec(type_name, tuple(props), items, enum, required, closed, ref,
                     m["type"].span if ref is not None else None)


def spec_type(spec: FieldSpec, origin: str | None = None) -> T.Type:
    """The static type of values of a (resolved) spec; `origin` marks them as read from
    that input field path, so reads of undeclared fields below it can be reported."""
    if spec.type == "object":
        if not spec.properties:
            return T.object_of(None, origin=origin)
        return T.object_of({k: spec_type(v, f"{origin}.{k}" if origin else None)
                            for k, v in spec.properties}, closed=spec.closed, origin=origin)
    if spec.type == "array":
        elem = spec_type(spec.items, f"{origin}[]" if origin else None) if spec.items else \
            T.Type("any", origin=f"{origin}[]" if origin else None)
        return T.Type("list", elem=elem, origin=origin)
    if spec.type == "any":
        return T.Type("any", origin=origin)
    return T.SCHEMA_TYPES.get(spec.type, T.ANY)


def _read_metadata(r: _Reader, loc: Located) -> Metadata | None:
    m = r.mapping(loc, "metadata")
    if m is None:
        return None
    r.keys(m, METADATA_KEYS, "metadata", METADATA_INFO_KEYS)
    name = r.string(r.required(m, "name", loc, "metadata"), "metadata.name")
    if name is not None and not NAME_RE.match(name):
        r.error("E_NAME", m["name"].span,
                f"rule name {name!r} must be lower-case letters, digits and dashes ([a-z0-9-]+)")
    version_loc = r.required(m, "version", loc, "metadata")
    version = None
    if version_loc is not None:
        version = str(version_loc.value) if isinstance(version_loc.value, str | Decimal) else None
        if version is None or not SEMVER_RE.match(version):
            shown = version_loc.value if isinstance(version_loc.value, str | Decimal) else \
                _kind(version_loc.value)
            r.error("E_VERSION", version_loc.span,
                    f"version '{shown}' is not semver MAJOR.MINOR.PATCH (e.g. 1.0.0) "
                    f"within bounds: {VERSION_BOUNDS}")
            version = None
    jurisdiction = "ALL"
    if "jurisdiction" in m:
        j = r.string(m["jurisdiction"], "metadata.jurisdiction")
        if j is not None and not JURISDICTION_RE.match(j):
            r.error("E_JURISDICTION", m["jurisdiction"].span,
                    f"jurisdiction {j!r} must be ALL, a country code (US) or a subdivision (US-CA)")
        elif j is not None:
            jurisdiction = j
    domain = r.string(m.get("domain"), "metadata.domain") if "domain" in m else None
    description = None
    if "description" in m and m["description"].value is not None:
        description = r.string(m["description"], "metadata.description")
    effective = _date(r, m.get("effective_date"), "effective_date")
    expiry = _date(r, m.get("expiry_date"), "expiry_date")
    if effective and expiry and expiry <= effective:
        r.error("E_DATES", m["expiry_date"].span, "expiry_date must be after effective_date")
    tags: list[str] = []
    deps: list[str] = []
    for key, out in (("tags", tags), ("depends_on", deps)):
        if key in m and m[key].value is not None:
            for item in r.sequence(m[key], f"metadata.{key}") or []:
                s = r.string(item, f"an entry of metadata.{key}")
                if s is not None:
                    if key == "depends_on" and not NAME_RE.match(s):
                        r.error("E_NAME", item.span, f"depends_on entry {s!r} is not a rule name")
                    out.append(s)
    if name is None or version is None:
        return None
    return Metadata(name, version, description, jurisdiction, domain, effective, expiry,
                    tuple(tags), tuple(deps))


def _read_inputs(r: _Reader, loc: Located) -> list[InputDef]:
    out: list[InputDef] = []
    seen: set[str] = set()
    for item in r.sequence(loc, "inputs") or []:
        m = r.mapping(item, "an input")
        if m is None:
            continue
        r.keys(m, INPUT_KEYS, "an input")
        name = r.string(r.required(m, "name", item, "an input"), "input name")
        if name is None:
            continue
        if not IDENT_RE.match(name) or name in RESERVED_NAMES:
            r.error("E_NAME", m["name"].span, f"input name {name!r} must be an identifier "
                    "(letters, digits, _) and not a reserved word")
            continue
        if name in seen:
            r.error("E_DUPLICATE_NAME", m["name"].span, f"input {name!r} is declared twice")
            continue
        seen.add(name)
        type_name = r.string(m.get("type"), "input type") if "type" in m else None
        required = True
        if "required" in m:
            if not isinstance(m["required"].value, bool):
                r.error("E_SCHEMA", m["required"].span, "required must be true or false")
            else:
                required = m["required"].value
        # `type` is a value type, or names a schema (resolved when the rule is compiled;
        # an unknown name leaves the input untyped); an inline `schema` types it directly.
        spec = FieldSpec("any")
        if "schema" in m:
            spec = read_field_spec(r, m["schema"], name) or spec
        elif type_name and value_type(type_name):
            spec = FieldSpec(value_type(type_name) or "any")
        elif type_name:
            if not SCHEMA_REF_RE.match(type_name):
                r.error("E_SCHEMA_TYPE", m["type"].span,
                        f"input type {type_name!r} is neither a value type "
                        f"({', '.join(VALUE_TYPE_NAMES)}) nor a schema name (letters, digits "
                        "and _, optionally @VERSION)")
            else:
                spec = FieldSpec("any", ref=type_name, span=m["type"].span)
        out.append(InputDef(name, type_name or spec.type, required, spec, spec_type(spec, name),
                            item.span, type_span=m["type"].span if "type" in m else None))
    return out


def _read_lets(r: _Reader, loc: Located) -> list[LetDef]:
    out: list[LetDef] = []
    m = r.mapping(loc, "let")
    for name, value in (m or {}).items():
        span = value.key_span or value.span
        if not IDENT_RE.match(name) or name in RESERVED_NAMES:
            r.error("E_NAME", span, f"let name {name!r} must be an identifier and not reserved")
            continue
        expr = r.expression(value, f"let {name!r}")
        # A broken definition stays declared (typed null) so its uses raise no follow-on errors.
        out.append(LetDef(name, expr if expr is not None else ast.Literal(value.span, None), span))
    return out


def _read_conditions(r: _Reader, loc: Located) -> list[ConditionDef]:
    out: list[ConditionDef] = []
    seen: set[str] = set()
    for item in r.sequence(loc, "conditions") or []:
        m = r.mapping(item, "a condition")
        if m is None:
            continue
        r.keys(m, CONDITION_KEYS, "a condition")
        cid = r.string(r.required(m, "id", item, "a condition"), "condition id")
        expr_loc = r.required(m, "expression", item, "a condition")
        if cid is not None and (not IDENT_RE.match(cid) or cid in RESERVED_NAMES):
            r.error("E_NAME", m["id"].span, f"condition id {cid!r} must be an identifier "
                    "(letters, digits, _)")
            cid = None
        if cid is not None and cid in seen:
            r.error("E_DUPLICATE_NAME", m["id"].span, f"condition {cid!r} is defined twice")
            cid = None
        desc = r.string(m["description"], "description") if "description" in m else None
        expr = r.expression(expr_loc, "condition expression") if expr_loc is not None else None
        if cid is not None:
            seen.add(cid)
            broken = ast.Literal(item.span, None)
            out.append(ConditionDef(cid, expr if expr is not None else broken, desc, m["id"].span))
    return out


def _read_actions(r: _Reader, loc: Located) -> list[ActionDef]:
    out: list[ActionDef] = []
    for index, item in enumerate(r.sequence(loc, "actions") or []):
        m = r.mapping(item, "an action")
        if m is None:
            continue
        r.keys(m, ACTION_KEYS, "an action")
        trigger_loc = r.required(m, "trigger", item, "an action")
        type_loc = r.required(m, "type", item, "an action")
        atype = r.string(type_loc, "action type")
        if atype is not None and atype not in ACTION_TYPES:
            r.error("E_ACTION_TYPE", type_loc.span if type_loc else item.span,
                    f"unknown action type {atype!r}; use one of {', '.join(ACTION_TYPES)}"
                    f"{_suggest(atype, ACTION_TYPES)}")
            atype = None
        trigger = r.expression(trigger_loc, "trigger") if trigger_loc is not None else None
        config_loc = m.get("config")
        config: ast.Node | None = ast.ObjectLit(item.span, ())
        if atype is not None:
            config = _read_config(r, atype, config_loc, item)
        if atype is None or trigger is None or config is None or trigger_loc is None:
            continue
        text = trigger_loc.value if isinstance(trigger_loc.value, str) else str(trigger_loc.value)
        out.append(ActionDef(index, atype, trigger, text.strip(), config, item.span))
    return out


def _read_config(r: _Reader, atype: str, loc: Located | None, action: Located) -> ast.Node | None:
    kind = ACTION_TYPES[atype]
    if loc is None:
        if kind.required:
            r.error("E_MISSING_KEY", action.span, f"{atype} action needs a config with "
                    f"{', '.join(kind.required)}")
        return None
    m = r.mapping(loc, f"{atype} config")
    if m is None:
        return None
    before = len(r.diags)
    r.keys(m, kind.keys, f"{atype} config")
    for key in kind.required:
        r.required(m, key, loc, f"{atype} config")
    kind.check(r, m, loc)
    if len(r.diags) > before:
        return None
    return r.template(loc)


def read_rule(loc: Located, file: str, source: str = "") -> tuple[RuleDef | None, list[Diagnostic]]:
    r = _Reader(file)
    top = r.mapping(loc, "a rule file")
    if top is None:
        return None, r.diags
    if "rule" not in top:
        if "ruleset" in top or "table" in top or "tests" in top:
            kind = next(k for k in ("ruleset", "table", "tests") if k in top)
            r.error("E_NOT_A_RULE", loc.span, f"this is a {kind} document, not a rule")
        else:
            r.error("E_MISSING_KEY", loc.span, "a rule file needs a top-level 'rule' key")
        return None, r.diags
    r.keys(top, ("rule",), "the file")
    body = r.mapping(top["rule"], "rule")
    if body is None:
        return None, r.diags
    r.keys(body, RULE_KEYS, "rule")
    meta_loc = r.required(body, "metadata", top["rule"], "rule")
    metadata = _read_metadata(r, meta_loc) if meta_loc is not None else None
    inputs = _read_inputs(r, body["inputs"]) if "inputs" in body and \
        body["inputs"].value is not None else []
    lets = _read_lets(r, body["let"]) if "let" in body and body["let"].value is not None else []
    conditions = _read_conditions(r, body["conditions"]) if "conditions" in body else []
    if "conditions" not in body:
        r.error("E_MISSING_KEY", top["rule"].span, "rule needs 'conditions'")
    actions = _read_actions(r, body["actions"]) if "actions" in body and \
        body["actions"].value is not None else []
    if metadata is None:
        return None, r.diags
    return RuleDef(metadata, tuple(inputs), tuple(lets), tuple(conditions), tuple(actions), file,
                   source), r.diags


def parse_rule_text(text: str, file: str) -> tuple[RuleDef | None, list[Diagnostic]]:
    try:
        loc = load_document(text, file)
    except SourceFault as fault:
        return None, [fault.diagnostic]
    return read_rule(loc, file, text)
