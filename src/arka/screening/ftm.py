"""FollowTheMoney entity files: loading, validation, merging, content hashes.

A dataset file holds one FtM entity per line, as OpenSanctions publishes
`entities.ftm.json`: `{"id", "schema", "caption"?, "properties": {name: [str, ...]},
"datasets"?: [...], "referents"?: [...], "first_seen"?, ...}`. Plain or gzip (`.gz`).

Choices this module makes (and the tests pin):
- A line that is not a JSON object, lacks a string `id` or `schema`, or whose
  `properties` is not an object of lists of strings is a `DatasetError` naming the file,
  the line and the problem. Blank lines are skipped. Nothing is skipped silently.
- Every schema is loaded (lists also carry Sanction, Address, Ownership, ... records), but
  only the screenable ones (`SCHEMATA`) are indexed for screening.
- Duplicate ids within a file are merged, as OpenSanctions merges statements by id:
  property values are united (first appearance order kept), and the schema becomes the
  more specific of the two when one descends from the other; two unrelated schemas under
  one id (a Person and a Vessel) are an error naming both lines.
- `content_hash` is `sha256:` + the SHA-256 of the record's canonical JSON (keys sorted,
  property values de-duplicated and sorted, no insignificant whitespace), leaving out the
  bookkeeping fields that change without the entity changing (`first_seen`, `last_seen`,
  `last_change`). An entity built from several records (duplicates, or the same id in
  several datasets) hashes the sorted list of its records' hashes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from arka.base.errors import ArkaError

# Screenable FtM schemata and their parents (FtM's inheritance, reduced to what matching
# needs; `Thing` is the abstract root and is not itself matchable).
SCHEMATA: dict[str, tuple[str, ...]] = {
    "LegalEntity": ("Thing",),
    "Person": ("LegalEntity",),
    "Organization": ("LegalEntity",),
    "Company": ("Organization", "Asset"),
    "PublicBody": ("Organization",),
    "Asset": ("Thing",),
    "Vehicle": ("Asset",),
    "Vessel": ("Vehicle",),
    "Airplane": ("Vehicle",),
    "Security": ("Asset",),
}

# Schemata whose names are organisation names (legal forms are low-weight tokens).
ORGANISATION_SCHEMATA = frozenset({"Organization", "Company", "PublicBody", "LegalEntity"})

NAME_PROPS = ("name", "alias", "previousName")
WEAK_NAME_PROPS = ("weakAlias",)
COUNTRY_PROPS = ("country", "nationality", "citizenship", "jurisdiction")
VOLATILE_KEYS = frozenset({"first_seen", "last_seen", "last_change"})


@cache
def ancestors(schema: str) -> frozenset[str]:
    """`schema` and every schema it descends from."""
    seen = {schema}
    pending = [schema]
    while pending:
        for parent in SCHEMATA.get(pending.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                pending.append(parent)
    return frozenset(seen)


@cache
def compatible(query_schema: str, entity_schema: str) -> bool:
    """Whether an entity of `entity_schema` can be the thing a query of `query_schema`
    describes: the same schema, or one descends from the other (FtM's `can_match`). A
    Person never matches a Vessel; Company, Organization and LegalEntity match each other;
    LegalEntity matches Person and Organization, but Person does not match Organization."""
    if query_schema not in SCHEMATA or entity_schema not in SCHEMATA:
        return False
    return entity_schema in ancestors(query_schema) or query_schema in ancestors(entity_schema)


class DatasetError(ArkaError):
    """A dataset file cannot be read or a line of it is malformed."""

    code = "E_DATASET"


@dataclass(frozen=True, slots=True)
class Entity:
    """One listed entity: what screening compares and reports. `names` are the strong
    names (name, alias, previousName), `weak_names` the weak aliases; `countries` are
    lower-case codes from country/nationality/citizenship/jurisdiction. `datasets` are
    the loaded datasets (`Dataset.name`) holding the entity, `sources` the record's own
    `datasets` field (for OpenSanctions: the source lists, e.g. `us_ofac_sdn`)."""

    id: str
    schema: str
    caption: str
    names: tuple[str, ...]
    weak_names: tuple[str, ...]
    birth_dates: tuple[str, ...]
    countries: tuple[str, ...]
    topics: tuple[str, ...]
    datasets: tuple[str, ...]
    sources: tuple[str, ...]
    record_hashes: tuple[bytes, ...] = field(default=())

    @property
    def content_hash(self) -> str:
        """`sha256:<hex>`: the record's canonical hash, or for an entity merged from
        several records the hash of their sorted hashes."""
        if len(self.record_hashes) == 1:
            return "sha256:" + self.record_hashes[0].hex()
        joined = b"".join(sorted(self.record_hashes))
        return "sha256:" + hashlib.sha256(joined).hexdigest()

    @property
    def screenable(self) -> bool:
        return self.schema in SCHEMATA and bool(self.names or self.weak_names)

    def merged(self, other: Entity) -> Entity:
        """This entity united with another record of the same id (schemas already
        checked to be related: the more specific one wins)."""
        schema = other.schema if self.schema in ancestors(other.schema) else self.schema
        return Entity(
            id=self.id, schema=schema, caption=self.caption or other.caption,
            names=_union(self.names, other.names),
            weak_names=_union(self.weak_names, other.weak_names),
            birth_dates=_union(self.birth_dates, other.birth_dates),
            countries=_union(self.countries, other.countries),
            topics=_union(self.topics, other.topics),
            datasets=_union(self.datasets, other.datasets),
            sources=_union(self.sources, other.sources),
            record_hashes=_union(self.record_hashes, other.record_hashes))


def related_schemas(a: str, b: str) -> bool:
    return a == b or a in ancestors(b) or b in ancestors(a)


def _union(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    if not b or a == b:
        return a
    return tuple(dict.fromkeys(a + b))


@dataclass(frozen=True, slots=True)
class Dataset:
    """One loaded list file. `version` is `sha256:` + the hex SHA-256 of the file bytes
    (compressed bytes for a `.gz`), `records` the number of entity lines read."""

    name: str
    path: Path
    version: str
    records: int
    entities: dict[str, Entity]

    def __len__(self) -> int:
        return len(self.entities)


def dataset_name(path: Path) -> str:
    """The file name without `.gz`, `.json`, `.jsonl` and `.ftm` (`us_ofac.ftm.json.gz` →
    `us_ofac`)."""
    name = path.name
    for suffix in (".gz", ".jsonl", ".json", ".ftm"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.name


def load_dataset(path: str | Path, name: str | None = None) -> Dataset:
    """Read an FtM entity file (plain or `.gz`), streaming it line by line."""
    p = Path(path)
    digest = hashlib.sha256()
    try:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DatasetError(f"{p}: cannot read the dataset file: {exc.strerror or exc}") from exc
    version = "sha256:" + digest.hexdigest()
    dsname = name if name is not None else dataset_name(p)
    entities: dict[str, Entity] = {}
    first_line: dict[str, int] = {}
    records = 0
    interned: dict[Any, Any] = {}
    for lineno, line in _lines(p):
        if not line.strip():
            continue
        entity = parse_record(line, dsname, p, lineno, interned)
        records += 1
        prior = entities.get(entity.id)
        if prior is None:
            entities[entity.id] = entity
            first_line[entity.id] = lineno
            continue
        if not related_schemas(prior.schema, entity.schema):
            raise DatasetError(
                f"{p}:{lineno}: entity {entity.id!r} is a {entity.schema} here but a "
                f"{prior.schema} on line {first_line[entity.id]}; records with one id "
                "must have related schemas to be merged")
        entities[entity.id] = prior.merged(entity)
    return Dataset(dsname, p, version, records, entities)


def _lines(p: Path) -> Iterator[tuple[int, str]]:
    opener = gzip.open if p.name.endswith(".gz") else open
    try:
        with opener(p, "rt", encoding="utf-8") as fh:
            yield from enumerate(fh, start=1)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{p}: cannot read the dataset file: {exc}") from exc


def parse_record(line: str, dataset: str, path: Path | str = "<string>", lineno: int = 1,
                 interned: dict[Any, Any] | None = None) -> Entity:
    """One FtM JSON line → Entity, or a DatasetError saying what is wrong with it."""
    where = f"{path}:{lineno}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{where}: an entity must be a JSON object, not "
                           f"{type(data).__name__}")
    eid = data.get("id")
    if not isinstance(eid, str) or not eid:
        raise DatasetError(f"{where}: the entity has no id (a non-empty string)")
    schema = data.get("schema")
    if not isinstance(schema, str) or not schema:
        raise DatasetError(f"{where}: entity {eid!r} has no schema (a non-empty string)")
    props = data.get("properties", {})
    if not isinstance(props, dict):
        raise DatasetError(f"{where}: entity {eid!r}: properties must be an object")
    for key, values in props.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise DatasetError(f"{where}: entity {eid!r}: property {key!r} must be a list "
                               "of strings")
    lists: dict[str, list[str]] = {}
    for key in ("datasets", "referents"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DatasetError(f"{where}: entity {eid!r}: {key} must be a list of strings")
        lists[key] = value
    caption = data.get("caption")
    if caption is not None and not isinstance(caption, str):
        raise DatasetError(f"{where}: entity {eid!r}: caption must be a string")
    cache = interned if interned is not None else {}
    names = _clean(props, NAME_PROPS)
    return Entity(
        id=eid, schema=schema, caption=caption or (names[0] if names else eid),
        names=names, weak_names=_clean(props, WEAK_NAME_PROPS),
        birth_dates=_intern(cache, _clean(props, ("birthDate",))),
        countries=_intern(cache, tuple(dict.fromkeys(
            c.lower() for c in _clean(props, COUNTRY_PROPS)))),
        topics=_intern(cache, _clean(props, ("topics",))),
        datasets=_intern(cache, (dataset,)),
        sources=_intern(cache, tuple(dict.fromkeys(lists["datasets"]))),
        record_hashes=(record_hash(data),))


def _clean(props: Mapping[str, list[str]], keys: tuple[str, ...]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for key in keys:
        for v in props.get(key, ()):
            v = v.strip()
            if v:
                out[v] = None
    return tuple(out)


def _intern(cache: dict[Any, Any], value: tuple[str, ...]) -> tuple[str, ...]:
    out: tuple[str, ...] = cache.setdefault(value, value)
    return out


def canonical_record(data: Mapping[str, Any]) -> bytes:
    """The canonical JSON a record's hash is taken over (see the module docstring)."""
    body: dict[str, Any] = {}
    for key, value in data.items():
        if key in VOLATILE_KEYS:
            continue
        if key == "properties":
            value = {k: sorted(set(v)) for k, v in value.items() if v}
        elif key in ("datasets", "referents") and isinstance(value, list):
            value = sorted(set(value))
        body[key] = value
    return json.dumps(body, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def record_hash(data: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical_record(data)).digest()
