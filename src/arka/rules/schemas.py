"""Named schemas: `schema:` documents that type rule inputs by name (`type: Transaction`).

    schema:
      name: Transaction          # letters, digits, _ (not a value-type name)
      version: 1.0.0
      description: A payment or cash movement
      properties:
        id: { type: string }
        amount: { type: decimal }
        counterparty: { type: Party }     # another named schema
      required: [id, amount]
      additionalProperties: false        # the default: only the declared fields exist

A schema is an object (`properties`, closed unless `additionalProperties: true`) or, with
`type: array` and `items`, a list (`TransactionHistory`). Nested objects are closed the same
way. Schemas are versioned and deployed like tables; a rule is typed with the schema
versions known when it is compiled, and those versions (name, version, content hash) are
part of its bytecode, so its `bytecode_hash` covers them and a replay uses them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from arka.base.errors import CompileError, Diagnostic, Span
from arka.base.semver import VERSION_BOUNDS, version_key
from arka.rules.loader import (
    SCHEMA_NAME_RE,
    SEMVER_RE,
    VALUE_TYPE_NAMES,
    _Reader,
    _suggest,
    read_field_spec,
    spec_type,
    value_type,
)
from arka.rules.model import FieldSpec, InputDef, RuleDef, SchemaRef
from arka.rules.source import Located, SourceFault, load_document

SCHEMA_DOC_KEYS = ("name", "version", "description", "type", "properties", "items", "required",
                   "additionalProperties", "enum")
# How deep named schemas may refer to each other (Transaction -> Party -> Address ...).
MAX_SCHEMA_NESTING = 32


@dataclass(frozen=True, slots=True)
class Schema:
    name: str
    version: str
    description: str | None
    spec: FieldSpec  # may still name other schemas (`ref`)
    source: str = field(repr=False, default="")
    file: str = ""

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical JSON of the schema's name, version and field types."""
        body = {"name": self.name, "version": self.version, "spec": self.spec.to_json(refs=True)}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          default=str)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def ref(self) -> SchemaRef:
        return SchemaRef(self.name, self.version, self.content_hash)


def parse_schema(text: str, file: str) -> tuple[Schema | None, list[Diagnostic]]:
    """A `schema:` document, checked; every problem with its position."""
    try:
        doc = load_document(text, file)
    except SourceFault as fault:
        return None, [fault.diagnostic]
    r = _Reader(file)
    if not isinstance(doc.value, dict) or "schema" not in doc.value:
        r.error("E_NOT_A_SCHEMA", doc.span, "a schema file needs a top-level 'schema' key")
        return None, r.diags
    r.keys(doc.value, ("schema",), "the file")
    body = doc.value["schema"]
    m = r.mapping(body, "schema")
    if m is None:
        return None, r.diags
    r.keys(m, SCHEMA_DOC_KEYS, "schema")
    name = r.string(r.required(m, "name", body, "schema"), "schema name")
    if name is not None and (not SCHEMA_NAME_RE.match(name) or value_type(name)):
        r.error("E_NAME", m["name"].span, f"schema name {name!r} must be letters, digits and _ "
                f"starting with a letter (e.g. Transaction), and not a value type "
                f"({', '.join(VALUE_TYPE_NAMES)})")
        name = None
    version_loc = r.required(m, "version", body, "schema")
    version = None
    if version_loc is not None:
        version = str(version_loc.value) if isinstance(version_loc.value, str) else None
        if version is None or not SEMVER_RE.match(version):
            r.error("E_VERSION", version_loc.span, f"schema version {version_loc.value!r} is not "
                    f"semver MAJOR.MINOR.PATCH (e.g. 1.0.0) within bounds: {VERSION_BOUNDS}")
            version = None
    description = r.string(m.get("description"), "schema description") \
        if m.get("description") is not None and m["description"].value is not None else None
    spec_keys = {k: v for k, v in m.items() if k not in ("name", "version", "description")}
    if "type" not in spec_keys and "items" not in spec_keys and "properties" not in spec_keys:
        r.error("E_MISSING_KEY", body.span, "schema needs 'properties' (an object) or "
                "'type: array' with 'items' (a list)")
        return None, r.diags
    spec = read_field_spec(r, Located(spec_keys, body.span), name or "schema",
                           closed_default=True)
    if r.diags or spec is None or name is None or version is None:
        return None, r.diags
    return Schema(name, version, description, spec, text, file), []


@dataclass
class SchemaSet:
    """Every known version of every named schema; resolves `type:` names."""

    versions: dict[str, list[Schema]] = field(default_factory=dict)

    def add(self, schema: Schema) -> None:
        versions = self.versions.setdefault(schema.name, [])
        versions.append(schema)
        versions.sort(key=lambda s: version_key(s.version))

    def __bool__(self) -> bool:
        return bool(self.versions)

    def get(self, ref: str) -> Schema | None:
        """`Name` (its latest version) or `Name@VERSION` (exactly that version)."""
        name, _, version = ref.partition("@")
        versions = self.versions.get(name, [])
        if not version:
            return versions[-1] if versions else None
        return next((s for s in versions if s.version == version), None)

    def names(self) -> list[str]:
        return sorted(self.versions)

    def latest(self) -> list[Schema]:
        return [self.versions[n][-1] for n in self.names()]

    def problems(self, schema: Schema) -> list[Diagnostic]:
        """What is wrong with `schema` among these schemas (itself included): a schema name
        it uses that is unknown (E_SCHEMA_TYPE), or names that refer to each other without
        end (E_SCHEMA_CYCLE). Deploying a schema checks this first."""
        within = SchemaSet({n: list(v) for n, v in self.versions.items()})
        if within.get(f"{schema.name}@{schema.version}") is None:
            within.add(schema)
        resolver = _Resolver(within, schema.file)
        resolver.spec(schema.spec, Span(schema.file, 1, 1), schema.name, (schema.name,), {})
        return resolver.diags

    @classmethod
    def of(cls, schemas: list[Schema]) -> SchemaSet:
        out = cls()
        for s in schemas:
            out.add(s)
        return out

    @classmethod
    def from_paths(cls, paths: list[Path]) -> SchemaSet:
        """Every `schema:` document under the files/directories (other documents skipped)."""
        out = cls()
        errors: list[Diagnostic] = []
        for f in _schema_files(paths):
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(Diagnostic("E_IO", Span(str(f), 1, 1), f"cannot read: {exc}"))
                continue
            schema, diags = parse_schema(text, str(f))
            errors += diags
            if schema is None:
                continue
            same = out.get(f"{schema.name}@{schema.version}")
            if same is not None and same.content_hash != schema.content_hash:
                errors.append(Diagnostic("E_DUPLICATE_NAME", Span(str(f), 1, 1),
                                         f"schema {schema.name}@{schema.version} is defined "
                                         f"twice with different content (also in {same.file})"))
            elif same is None:
                out.add(schema)
        for versions in out.versions.values():
            for schema in versions:
                errors += out.problems(schema)
        if errors:
            raise CompileError(errors)
        return out


def load_schemas(paths: Sequence[str | Path]) -> SchemaSet:
    """Every schema document under the given files/directories; CompileError lists every
    problem (a malformed document, a name it uses that is unknown, a cycle)."""
    return SchemaSet.from_paths([Path(p) for p in paths])


def _schema_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml", ".json")
                            and _is_schema_document(f))
        else:
            files.append(p)
    return files


def _is_schema_document(f: Path) -> bool:
    try:
        head = f.read_text(encoding="utf-8")[:4096]
    except (OSError, UnicodeDecodeError):
        return False
    return any(line.startswith(("schema:", '{"schema"', "{ \"schema\"")) for line in
               head.splitlines())


class _Resolver:
    def __init__(self, schemas: SchemaSet, file: str):
        self.schemas = schemas
        self.file = file
        self.diags: list[Diagnostic] = []

    def spec(self, spec: FieldSpec, span: Span, path: str, seen: tuple[str, ...],
             used: dict[str, Schema]) -> FieldSpec:
        """`spec` with every schema name replaced by that schema's (resolved) fields."""
        if spec.ref is not None:
            span = spec.span or span
            schema = self.schemas.get(spec.ref)
            if schema is None:
                options = [*VALUE_TYPE_NAMES, *self.schemas.names()]
                self.diags.append(Diagnostic(
                    "E_SCHEMA_TYPE", span, f"{path} has type {spec.ref!r}, which is neither a "
                    f"value type nor a known schema{_suggest(spec.ref, options)}; deploy (or "
                    "pass) that schema first, or correct the name"))
                return FieldSpec("any")
            if schema.name in seen or len(seen) >= MAX_SCHEMA_NESTING:
                chain = " -> ".join((*seen, schema.name))
                self.diags.append(Diagnostic("E_SCHEMA_CYCLE", span, f"schemas refer to each "
                                             f"other without end: {chain}"))
                return FieldSpec("any")
            used[schema.name] = schema
            inner = self.spec(schema.spec, span, path, (*seen, schema.name), used)
            return inner if spec.enum is None else replace(inner, enum=spec.enum)
        props = tuple((k, self.spec(v, span, f"{path}.{k}", seen, used))
                      for k, v in spec.properties)
        items = self.spec(spec.items, span, f"{path}[]", seen, used) if spec.items else None
        return replace(spec, properties=props, items=items)


def resolve_inputs(rule: RuleDef, schemas: SchemaSet | None
                   ) -> tuple[RuleDef, list[Diagnostic]]:
    """Type the rule's inputs with the named schemas they refer to.

    An input `type:` that names no known schema leaves the input untyped (any value; its
    field reads are reported as warnings); a schema name inside a schema that is unknown is
    an error (E_SCHEMA_TYPE)."""
    schemas = schemas or SchemaSet()
    resolver = _Resolver(schemas, rule.file)
    inputs: list[InputDef] = []
    for inp in rule.inputs:
        span = inp.type_span or inp.span
        spec = inp.spec
        if spec.ref is not None and schemas.get(spec.ref) is None:
            name = spec.ref.partition("@")[0]
            if "@" in spec.ref and schemas.get(name) is not None:
                known = ", ".join(s.version for s in schemas.versions[name])
                resolver.diags.append(Diagnostic(
                    "E_SCHEMA_TYPE", span, f"input {inp.name!r} names {spec.ref!r}, but "
                    f"schema {name!r} has only the versions {known}"))
                inputs.append(replace(inp, static_type=spec_type(spec)))
                continue
            options = [*VALUE_TYPE_NAMES, *schemas.names()]
            resolver.diags.append(Diagnostic(
                "W_UNTYPED_INPUT", span, f"input {inp.name!r} has type {spec.ref!r}, which "
                f"is neither a value type nor a known schema{_suggest(name, options)}, so "
                "it accepts any value; deploy (or pass with --schemas) a schema of that "
                "name, or give the input an inline schema"))
            inputs.append(inp)  # untyped: field reads are W_UNTYPED_FIELD
            continue
        used: dict[str, Schema] = {}
        before = len(resolver.diags)
        resolved = resolver.spec(spec, span, inp.name, (), used)
        if len(resolver.diags) > before:  # reported: no follow-on warnings for its reads
            inputs.append(replace(inp, spec=resolved, static_type=spec_type(resolved)))
            continue
        if not used:
            inputs.append(inp)
            continue
        # The named type first, then any schema it (or an inline schema) refers to.
        top = schemas.get(spec.ref) if spec.ref is not None else None
        refs = [top.ref()] if top is not None else []
        refs += [s.ref() for n, s in sorted(used.items()) if top is None or n != top.name]
        inputs.append(replace(inp, spec=resolved, static_type=spec_type(resolved, inp.name),
                              schemas=tuple(refs)))
    return replace(rule, inputs=tuple(inputs)), resolver.diags
