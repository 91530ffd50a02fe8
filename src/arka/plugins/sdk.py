"""The plugin SDK: how a plugin declares itself, its exported functions and permissions.

A plugin is a class deriving from `Plugin`, registered in the `arka.plugins` entry-point
group of its distribution. Its manifest (`Plugin.manifest()`) is read from the class:
name, version, whether it is trusted (runs inside ARKA's own process), its permissions,
and every method decorated with `@export`, with typed parameters and a typed result.
The type checker reads the manifest, so a rule that calls an unknown function or passes
a wrong argument type does not compile.

Types use the names of rule input schemas: `string`, `decimal`, `integer`, `boolean`,
`date`, `datetime`, `duration`, `list`, `object`, `any`, `list<string>`, or a schema
object such as `{"type": "object", "properties": {...}}`. Parameter types are read from
the method's annotations unless `params=` declares them; the result type from `returns=`
or the return annotation. An object type that declares `properties` is closed unless it
says `additionalProperties: true`: a rule that reads an undeclared field does not compile,
and a result with an undeclared field is refused.

Values cross the boundary as JSON data with exact decimals: a plugin receives `str`,
`Decimal`, `bool`, `None`, lists and dicts (dates and datetimes as ISO 8601 text) and
returns the same kinds; the engine checks and converts the result against its declared
type, so a rule sees exactly what the manifest promises.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from arka.base.errors import ArkaError
from arka.base.semver import SEMVER_RE
from arka.lang import types as T
from arka.rules.loader import spec_type, value_type
from arka.rules.model import FieldSpec

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
_MAX_SPEC_DEPTH = 16


class PluginError(ArkaError):
    """A plugin that cannot be loaded, or a call that failed (the rule fails closed)."""

    code = "E_PLUGIN"


class ManifestError(PluginError):
    code = "E_PLUGIN_MANIFEST"


# ------------------------------------------------------------------ types

def parse_type(spec: Any, where: str, depth: int = 0) -> FieldSpec:
    """A declared type (a type name, `list<...>`, or a schema object) as a FieldSpec."""
    if depth > _MAX_SPEC_DEPTH:
        raise ManifestError(f"{where}: type nested deeper than {_MAX_SPEC_DEPTH}")
    if isinstance(spec, str):
        text = spec.strip()
        m = re.fullmatch(r"(?:list|array)\s*<\s*(.+)\s*>", text, re.IGNORECASE)
        if m:
            return FieldSpec("array", items=parse_type(m.group(1), f"{where}[]", depth + 1))
        t = value_type(text)
        if t is None:
            raise ManifestError(f"{where}: unknown type {spec!r} (use string, decimal, integer, "
                                "boolean, date, datetime, duration, list, object, any, "
                                "list<T> or a schema object)")
        return FieldSpec(t)
    if not isinstance(spec, Mapping):
        raise ManifestError(f"{where}: a type is a name or a schema object, not "
                            f"{type(spec).__name__}")
    unknown = sorted(set(spec) - {"type", "properties", "items", "required", "enum",
                                  "additionalProperties", "description"})
    if unknown:
        raise ManifestError(f"{where}: unknown schema key {unknown[0]!r}")
    t = spec.get("type", "any")
    base = parse_type(t, where, depth + 1) if isinstance(t, str) else None
    if base is None:
        raise ManifestError(f"{where}: type must be a type name")
    props: list[tuple[str, FieldSpec]] = []
    raw_props = spec.get("properties", {})
    if not isinstance(raw_props, Mapping):
        raise ManifestError(f"{where}: properties must be an object")
    for name in sorted(raw_props):
        props.append((str(name), parse_type(raw_props[name], f"{where}.{name}", depth + 1)))
    items = base.items
    if "items" in spec:
        items = parse_type(spec["items"], f"{where}[]", depth + 1)
    required = spec.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise ManifestError(f"{where}: required must list field names")
    enum = spec.get("enum")
    if enum is not None and not isinstance(enum, list):
        raise ManifestError(f"{where}: enum must be a list")
    extra = spec.get("additionalProperties", False)  # declared objects are closed
    if not isinstance(extra, bool):
        raise ManifestError(f"{where}: additionalProperties must be true or false")
    kind = base.type
    if kind == "any" and props:
        kind = "object"
    if kind == "any" and items is not None:
        kind = "array"
    return FieldSpec(kind, tuple(props), items, tuple(enum) if enum is not None else None,
                     tuple(required), not extra and bool(props))


_PY_TYPES: dict[Any, str] = {str: "string", Decimal: "decimal", int: "integer", bool: "boolean",
                             date: "date", datetime: "datetime", timedelta: "duration",
                             dict: "object", list: "list", tuple: "list", Any: "any",
                             object: "any"}


def annotation_type(annotation: Any, where: str) -> Any:
    """A Python annotation (str, Decimal, list[str], X | None, ...) as a declared type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return annotation_type(members[0], where)
        return "any"
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        args = typing.get_args(annotation)
        if args and args[0] is not Ellipsis:
            return {"type": "list", "items": annotation_type(args[0], f"{where}[]")}
        return "list"
    if origin in (dict, typing.Mapping) or annotation is dict:
        return "object"
    if annotation in _PY_TYPES:
        return _PY_TYPES[annotation]
    raise ManifestError(f"{where}: cannot declare Python type {annotation!r}; give its type "
                        "in @export(params=..., returns=...)")


def type_text(spec: FieldSpec) -> str:
    if spec.type == "array":
        return f"list<{type_text(spec.items)}>" if spec.items is not None else "list"
    return spec.type


# ------------------------------------------------------------------ manifest

@dataclass(frozen=True, slots=True)
class Permissions:
    """What a plugin may do. Enforced in plugin host worker processes (see docs/plugins.md
    for what the operating system lets ARKA enforce and what it does not)."""

    network: bool = False  # open sockets
    secrets: tuple[str, ...] = ()  # environment variables it may read
    files: tuple[str, ...] = ()  # files or directories it may read
    max_time: float = 5.0  # seconds per call
    max_memory: int = 512 * 1024 * 1024  # bytes of address space of a worker process

    def to_json(self) -> dict[str, Any]:
        return {"network": self.network, "secrets": list(self.secrets),
                "files": list(self.files), "max_time": self.max_time,
                "max_memory": self.max_memory}

    @classmethod
    def from_json(cls, data: Any, where: str = "permissions") -> Permissions:
        if not isinstance(data, Mapping):
            raise ManifestError(f"{where} must be an object")
        unknown = sorted(set(data) - {"network", "secrets", "files", "max_time", "max_memory"})
        if unknown:
            raise ManifestError(f"{where}: unknown permission {unknown[0]!r}")
        network = data.get("network", False)
        secrets, files = data.get("secrets", []), data.get("files", [])
        max_time, max_memory = data.get("max_time", 5.0), data.get("max_memory", 512 << 20)
        if not isinstance(network, bool):
            raise ManifestError(f"{where}.network must be true or false")
        for key, v in (("secrets", secrets), ("files", files)):
            if not isinstance(v, list | tuple) or not all(isinstance(s, str) for s in v):
                raise ManifestError(f"{where}.{key} must list text")
        if isinstance(max_time, bool) or not isinstance(max_time, int | float | Decimal) or \
                not 0 < float(max_time) <= 3600:
            raise ManifestError(f"{where}.max_time must be seconds in (0, 3600]")
        if isinstance(max_memory, bool) or not isinstance(max_memory, int) or \
                max_memory < 16 * 1024 * 1024:
            raise ManifestError(f"{where}.max_memory must be bytes, at least 16 MiB")
        return cls(network, tuple(secrets), tuple(files), float(max_time), max_memory)


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    spec: FieldSpec
    optional: bool = False

    @property
    def type(self) -> T.Type:
        return spec_type(self.spec)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.spec.to_json(), "optional": self.optional}


@dataclass(frozen=True, slots=True)
class Export:
    """One exported function: what `plugin.<plugin>.<name>(...)` accepts and returns."""

    plugin: str
    name: str
    params: tuple[Param, ...]
    returns: FieldSpec
    doc: str = ""
    variadic: bool = False  # never: plugin functions take a fixed parameter list

    @property
    def min_args(self) -> int:
        return sum(1 for p in self.params if not p.optional)

    @property
    def qualified(self) -> str:
        return f"plugin.{self.plugin}.{self.name}"

    def signature(self) -> str:
        params = ", ".join(f"{p.name}{'?' if p.optional else ''}: {type_text(p.spec)}"
                           for p in self.params)
        return f"{self.qualified}({params}) -> {type_text(self.returns)}"

    @property
    def return_type(self) -> T.Type:
        return spec_type(self.returns)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "params": [p.to_json() for p in self.params],
                "returns": self.returns.to_json(), "doc": self.doc,
                "signature": self.signature()}


@dataclass(frozen=True, slots=True)
class Manifest:
    name: str
    version: str
    trusted: bool
    permissions: Permissions
    exports: tuple[Export, ...]
    description: str = ""
    distribution: str | None = None  # the Python distribution that registered it

    def export(self, function: str) -> Export | None:
        return next((e for e in self.exports if e.name == function), None)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "trusted": self.trusted,
                "description": self.description, "distribution": self.distribution,
                "permissions": self.permissions.to_json(),
                "functions": [e.to_json() for e in self.exports]}

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """A manifest sent by a remote plugin host."""
        if not isinstance(data, Mapping):
            raise ManifestError("a manifest must be an object")
        name, version = data.get("name"), data.get("version")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ManifestError(f"manifest name {name!r} must match {NAME_RE.pattern}")
        if not isinstance(version, str) or not SEMVER_RE.match(version):
            raise ManifestError(f"plugin {name}: version {version!r} is not semver")
        exports = []
        for f in data.get("functions", []):
            if not isinstance(f, Mapping) or not isinstance(f.get("name"), str):
                raise ManifestError(f"plugin {name}: a function needs a name")
            params = tuple(Param(str(p["name"]), parse_type(p["type"], f"{name}.{f['name']}"),
                                 bool(p.get("optional", False))) for p in f.get("params", []))
            exports.append(Export(name, f["name"], params,
                                  parse_type(f.get("returns", "any"), f"{name}.{f['name']}"),
                                  str(f.get("doc", ""))))
        return cls(name, version, bool(data.get("trusted", False)),
                   Permissions.from_json(data.get("permissions", {})), tuple(exports),
                   str(data.get("description", "")), data.get("distribution"))


# ------------------------------------------------------------------ the SDK

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class _ExportMark:
    params: Mapping[str, Any] | None
    returns: Any
    doc: str | None


def export(fn: F | None = None, *, params: Mapping[str, Any] | None = None,
           returns: Any = None, doc: str | None = None) -> Any:
    """Mark a method of a `Plugin` as callable from rules: `@export` or
    `@export(returns={"type": "object", ...})`."""
    def mark(f: F) -> F:
        f.__arka_export__ = _ExportMark(params, returns, doc)  # type: ignore[attr-defined]
        return f
    return mark(fn) if fn is not None else mark


class Plugin:
    """Base class of a plugin. Subclasses set `name`, `version`, optionally `trusted`,
    `permissions` and `description`, and decorate exported methods with `@export`.

    The host creates one instance per process with the plugin's configuration (the
    `plugins.<name>` settings, a dict) and calls its exported methods with keyword
    arguments: only those the rule passed, so Python defaults apply to the others."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0.0.0"
    trusted: ClassVar[bool] = False
    permissions: ClassVar[Permissions] = Permissions()
    description: ClassVar[str] = ""

    def __init__(self, config: Mapping[str, Any] | None = None):
        self.config: Mapping[str, Any] = config or {}

    def data_version(self) -> dict[str, Any] | None:
        """The version of the data the plugin answers from (e.g. the lists it screens
        against), recorded with every call so an auditor knows what was consulted."""
        return None

    def close(self) -> None:
        """Release what the instance holds (files, connections)."""

    @classmethod
    def manifest(cls, distribution: str | None = None) -> Manifest:
        """The manifest read from the class (once per class and distribution)."""
        key = (cls, distribution)
        cached = _MANIFESTS.get(key)
        if cached is None:
            cached = _MANIFESTS[key] = cls._read_manifest(distribution)
        return cached

    @classmethod
    def _read_manifest(cls, distribution: str | None) -> Manifest:
        where = f"plugin {cls.__name__}"
        if not NAME_RE.match(cls.name or ""):
            raise ManifestError(f"{where}: name {cls.name!r} must match {NAME_RE.pattern}")
        if not SEMVER_RE.match(cls.version):
            raise ManifestError(f"{where}: version {cls.version!r} is not semver")
        if not isinstance(cls.permissions, Permissions):
            raise ManifestError(f"{where}: permissions must be a Permissions")
        exports = []
        for attr in sorted(dir(cls)):
            fn = getattr(cls, attr, None)
            mark = getattr(fn, "__arka_export__", None)
            if isinstance(mark, _ExportMark) and callable(fn):
                exports.append(_declare(cls.name, attr, fn, mark))
        if not exports:
            raise ManifestError(f"{where}: exports no function (decorate methods with @export)")
        description = cls.description or " ".join(
            (inspect.getdoc(cls) or "").split("\n\n")[0].split())
        return Manifest(cls.name, cls.version, bool(cls.trusted), cls.permissions,
                        tuple(exports), description, distribution)


_MANIFESTS: dict[tuple[type[Plugin], str | None], Manifest] = {}


def _declare(plugin: str, name: str, fn: Callable[..., Any], mark: _ExportMark) -> Export:
    where = f"plugin.{plugin}.{name}"
    if not NAME_RE.match(name):
        raise ManifestError(f"{where}: function names must match {NAME_RE.pattern}")
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - an unresolvable annotation: declare types explicitly
        hints = {}
    params = []
    for i, p in enumerate(sig.parameters.values()):
        if i == 0:
            continue  # self
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ManifestError(f"{where}: *args and **kwargs cannot be declared; list each "
                                "parameter")
        if mark.params is not None and p.name in mark.params:
            declared = mark.params[p.name]
        elif p.name in hints:
            declared = annotation_type(hints[p.name], f"{where}({p.name})")
        else:
            raise ManifestError(f"{where}: parameter {p.name!r} has no type (annotate it or "
                                "declare it in params=)")
        params.append(Param(p.name, parse_type(declared, f"{where}({p.name})"),
                            p.default is not p.empty))
    if mark.params is not None:
        extra = sorted(set(mark.params) - {p.name for p in params})
        if extra:
            raise ManifestError(f"{where}: params= declares {extra[0]!r}, which the method "
                                "does not take")
    if mark.returns is not None:
        returns = parse_type(mark.returns, f"{where} result")
    elif "return" in hints:
        returns = parse_type(annotation_type(hints["return"], f"{where} result"),
                             f"{where} result")
    else:
        raise ManifestError(f"{where}: the result has no type (annotate it or give returns=)")
    doc = mark.doc if mark.doc is not None else " ".join(
        (inspect.getdoc(fn) or "").split("\n\n")[0].split())
    return Export(plugin, name, tuple(params), returns, doc)


@dataclass
class Catalog:
    """The plugins a compiler or an engine knows, by name: manifests always, the plugin
    classes when they are installed in this process (a remote host's are not)."""

    manifests: dict[str, Manifest] = field(default_factory=dict)
    classes: dict[str, type[Plugin]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # entry points that did not load

    def get(self, name: str) -> Manifest | None:
        return self.manifests.get(name)

    def names(self) -> list[str]:
        return sorted(self.manifests)

    @classmethod
    def of(cls, *plugins: type[Plugin]) -> Catalog:
        cat = cls()
        for p in plugins:
            m = p.manifest()
            cat.manifests[m.name] = m
            cat.classes[m.name] = p
        return cat
