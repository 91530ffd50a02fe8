"""Reference tables (`docs/tables.md`): dated threshold, FX-rate and list data behind
`threshold()`, `convert_currency()` and `table()`.

A table file is YAML or JSON with a top-level `table` key:

    table:
      name: fx-rates            # [a-z0-9-]+
      version: 1.0.0
      kind: fx_rate             # threshold | fx_rate | list
      rows:
        - { from: EUR, to: USD, rate: 1.0850, effective_date: 2024-01-01 }

Row keys by kind (every row may also have `effective_date` and `expiry_date`):
- threshold: `jurisdiction` (US, US-CA, ALL), `type` (default "default"), `value` (decimal)
- fx_rate:   `from`, `to` (ISO 4217 codes), `rate` (decimal: 1 `from` = rate `to`)
- list:      `value` (any JSON value)

A row is in force on the context date d when effective_date <= d < expiry_date.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from arka.base import values as V
from arka.base.errors import CompileError, Diagnostic, EvalError, Span, TableError
from arka.base.semver import VERSION_BOUNDS
from arka.rules.loader import NAME_RE, SEMVER_RE
from arka.rules.source import Located, SourceFault, load_document

TABLE_KINDS = {
    "threshold": (("value",), ("jurisdiction", "type")),
    "fx_rate": (("from", "to", "rate"), ()),
    "list": (("value",), ()),
}
_ROW_DATES = ("effective_date", "expiry_date")


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    version: str
    kind: str
    rows: tuple[dict[str, Any], ...]
    content_hash: str
    file: str = ""

    def ref(self) -> dict[str, str]:
        return {"table": self.name, "version": self.version, "content_hash": self.content_hash}


def _in_force(row: dict[str, Any], on: date) -> bool:
    eff, exp = row.get("effective_date"), row.get("expiry_date")
    return (eff is None or eff <= on) and (exp is None or on < exp)


def parse_table(text: str, file: str) -> tuple[Table | None, list[Diagnostic]]:
    try:
        doc = load_document(text, file)
    except SourceFault as fault:
        return None, [fault.diagnostic]
    diags: list[Diagnostic] = []

    def err(span: Span, msg: str, code: str = "E_TABLE") -> None:
        diags.append(Diagnostic(code, span, msg))

    if not isinstance(doc.value, dict) or "table" not in doc.value:
        err(doc.span, "a table file needs a top-level 'table' key", "E_NOT_A_TABLE")
        return None, diags
    body = doc.value["table"]
    if not isinstance(body.value, dict):
        err(body.span, "table must be a mapping")
        return None, diags
    m: dict[str, Located] = body.value
    for key in m:
        if key not in ("name", "version", "kind", "description", "rows"):
            err(m[key].key_span or m[key].span, f"unknown key {key!r} in table", "E_UNKNOWN_KEY")
    for key in ("name", "version", "kind", "rows"):
        if key not in m:
            err(body.span, f"table needs {key!r}", "E_MISSING_KEY")
    if diags:
        return None, diags
    name, version, kind = (str(m[k].value) for k in ("name", "version", "kind"))
    if not NAME_RE.match(name):
        err(m["name"].span, f"table name {name!r} must be [a-z0-9-]+", "E_NAME")
    if not SEMVER_RE.match(version):
        err(m["version"].span, f"table version {version!r} is not semver MAJOR.MINOR.PATCH "
            f"({VERSION_BOUNDS})",
            "E_VERSION")
    if kind not in TABLE_KINDS:
        err(m["kind"].span, f"table kind {kind!r} must be one of {', '.join(TABLE_KINDS)}")
        return None, diags
    required, optional = TABLE_KINDS[kind]
    rows: list[dict[str, Any]] = []
    if not isinstance(m["rows"].value, list):
        err(m["rows"].span, "rows must be a list")
        return None, diags
    for row_loc in m["rows"].value:
        if not isinstance(row_loc.value, dict):
            err(row_loc.span, "each row must be a mapping")
            continue
        row: dict[str, Any] = {}
        for key, loc in row_loc.value.items():
            if key not in required + optional + _ROW_DATES:
                err(loc.key_span or loc.span, f"unknown key {key!r} in a {kind} row",
                    "E_UNKNOWN_KEY")
            elif key in _ROW_DATES:
                try:
                    row[key] = date.fromisoformat(str(loc.value)) if loc.value is not None else None
                except ValueError:
                    err(loc.span, f"{key} must be YYYY-MM-DD")
            elif key in ("value", "rate") and kind != "list":
                if not isinstance(loc.value, Decimal):
                    err(loc.span, f"{key} must be a number")
                else:
                    row[key] = loc.value
            else:
                row[key] = loc.plain() if kind == "list" else str(loc.value)
        for key in required:
            if key not in row_loc.value:
                err(row_loc.span, f"a {kind} row needs {key!r}", "E_MISSING_KEY")
        if kind == "fx_rate" and isinstance(row.get("rate"), Decimal) and row["rate"] <= 0:
            err(row_loc.value["rate"].span, "rate must be positive")
        rows.append(row)
    if diags:
        return None, diags
    canonical = json.dumps({"name": name, "version": version, "kind": kind,
                            "rows": [V.to_json(_row_json(r)) for r in rows]},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return Table(name, version, kind, tuple(rows), digest, file), []


def _row_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (V.from_json(v) if not isinstance(v, date) else v) for k, v in row.items()}


@dataclass
class TableSet:
    tables: dict[str, Table] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # name -> document (remote RTVM)

    @classmethod
    def from_paths(cls, paths: list[Path]) -> TableSet:
        out = cls()
        errors: list[Diagnostic] = []
        files: list[Path] = []
        for p in paths:
            if p.is_dir():
                files += sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml", ".json"))
            else:
                files.append(p)
        for f in files:
            table, diags = parse_table(f.read_text(encoding="utf-8"), str(f))
            errors += diags
            if table is not None:
                if table.name in out.tables:
                    errors.append(Diagnostic("E_DUPLICATE_NAME", Span(str(f), 1, 1),
                                             f"table {table.name!r} is defined twice"))
                out.tables[table.name] = table
        if errors:
            raise CompileError(errors)
        return out

    def of_kind(self, kind: str, name: str | None = None) -> list[Table]:
        if name is not None:
            t = self.tables.get(name)
            if t is None:
                raise EvalError(f"no reference table named {name!r}", code="E_TABLE")
            if t.kind != kind:
                raise EvalError(f"table {name!r} is a {t.kind} table, not {kind}", code="E_TABLE")
            return [t]
        return [self.tables[n] for n in sorted(self.tables) if self.tables[n].kind == kind]


class TableLookup:
    """The table side of a running evaluation; records which tables it read."""

    def __init__(self, tables: TableSet, on: date):
        self.tables = tables
        self.on = on
        self.used: dict[str, Table] = {}

    def _use(self, t: Table) -> None:
        self.used[t.name] = t

    def threshold(self, type_: str, jurisdiction: str | None, default: Any,
                  table: str | None) -> Any:
        chain = _jurisdiction_chain(jurisdiction)
        for j in chain:
            best: tuple[date, Any] | None = None
            for t in self.tables.of_kind("threshold", table):
                for row in t.rows:
                    if row.get("jurisdiction", "ALL") != j or row.get("type", "default") != type_:
                        continue
                    if not _in_force(row, self.on):
                        continue
                    eff = row.get("effective_date") or date.min
                    if best is None or eff > best[0]:
                        best = (eff, row["value"])
                        self._use(t)
            if best is not None:
                return best[1]
        if default is not None:
            return default
        raise EvalError(f"no threshold {type_!r} for jurisdiction {jurisdiction!r} in force on "
                        f"{self.on.isoformat()}, and no default", code="E_TABLE")

    def convert_currency(self, amount: Decimal, src: str, dst: str) -> Decimal:
        if src == dst:
            return amount
        direct = self._rate(src, dst)
        if direct is not None:
            return V.mul(amount, direct)
        inverse = self._rate(dst, src)
        if inverse is not None:
            return V.div(amount, inverse)
        raise EvalError(f"no FX rate {src}->{dst} in force on {self.on.isoformat()}",
                        code="E_TABLE")

    def _rate(self, src: str, dst: str) -> Decimal | None:
        best: tuple[date, Decimal, Table] | None = None
        for t in self.tables.of_kind("fx_rate"):
            for row in t.rows:
                if row["from"].upper() == src and row["to"].upper() == dst and \
                        _in_force(row, self.on):
                    eff = row.get("effective_date") or date.min
                    if best is None or eff > best[0]:
                        best = (eff, row["rate"], t)
        if best is None:
            return None
        self._use(best[2])
        return best[1]

    def table_rows(self, name: str) -> list[Any]:
        (t,) = self.tables.of_kind("list", name)
        self._use(t)
        return [V.from_json(r["value"]) for r in t.rows if _in_force(r, self.on)]


def _jurisdiction_chain(j: str | None) -> list[str]:
    if not j or j == "ALL":
        return ["ALL"]
    chain = [j]
    if "-" in j:
        chain.append(j.split("-", 1)[0])
    return chain + ["ALL"]


def load_tables(paths: list[str | Path]) -> TableSet:
    """Load every table file under the given files/directories."""
    try:
        return TableSet.from_paths([Path(p) for p in paths])
    except OSError as exc:
        raise TableError(f"cannot read tables: {exc}") from None
