"""The screening API: `Query` → `Screener.screen` → `ScreenResult` of `Match`es.

A `Screener` is built once over a set of loaded datasets (entities with the same id in
several datasets are merged and screened once, listing every dataset) and answers any
number of queries; it is immutable after construction, so one instance can serve
concurrent readers. To take a list update, build a new `Screener` and swap it in whole.

Topics: an entity qualifies when it carries one of the query's topics exactly, as
OpenSanctions defines them. `sanction` does **not** include `sanction.linked` (owned or
controlled by a sanctioned party, not itself designated) or `sanction.counter`
(counter-sanctions, e.g. Russian designations of Western officials): both are different
risks a caller asks for explicitly. Likewise `role.pep` does not include `role.rca`
(close associates and family). PEP screening is `topics=("role.pep",)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from arka.base.errors import ArkaError
from arka.screening.ftm import (
    ORGANISATION_SCHEMATA,
    SCHEMATA,
    Dataset,
    DatasetError,
    Entity,
    compatible,
    related_schemas,
)
from arka.screening.index import NameIndex
from arka.screening.match import (
    MAX_BOOST,
    Contribution,
    NameScore,
    compare_names,
    evidence_float,
    explain,
    weighted,
)
from arka.screening.normalize import NameForm, date_prefix, name_form

# OpenSanctions' topic vocabulary (https://www.opensanctions.org/docs/topics/).
TOPICS = frozenset({
    "sanction", "sanction.linked", "sanction.counter", "debarment", "export.control",
    "export.risk", "asset.frozen", "role.pep", "role.rca", "role.pol", "role.judge",
    "role.civil", "role.diplo", "role.lawyer", "role.acct", "role.spy", "role.oligarch",
    "role.journo", "role.act", "role.lobby", "crime", "crime.fraud", "crime.cyber",
    "crime.fin", "crime.env", "crime.theft", "crime.war", "crime.boss", "crime.terror",
    "crime.traffick", "crime.traffick.drug", "crime.traffick.human", "wanted", "poi",
    "corp.offshore", "corp.shell", "corp.public", "corp.disqual", "gov", "gov.national",
    "gov.state", "gov.muni", "gov.soe", "gov.igo", "gov.head", "gov.admin",
    "gov.executive", "gov.legislative", "gov.judicial", "gov.security", "gov.financial",
    "fin", "fin.bank", "fin.fund", "fin.advisor", "reg.action", "reg.warn", "pol.party",
    "pol.union", "rel", "mil", "sanction.program",
})
MAX_NAME_LENGTH = 500
MAX_LIMIT = 1000
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_COUNTRY = re.compile(r"^[a-z][a-z0-9-]{1,9}$")
# Candidates whose float score is within this of the threshold get the exact Decimal
# score, which alone decides; floats only pick what is worth computing exactly.
_MARGIN = 0.005


class ScreeningError(ArkaError):
    """A screening query is invalid (or the datasets cannot be screened together)."""

    code = "E_SCREENING"


@dataclass(frozen=True, slots=True)
class Query:
    """What to screen: a name, the FtM schema of the thing named, optional birth date
    (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`) and countries (ISO codes, any case), the topics an
    entity must carry to qualify, the score threshold (0–1; a Decimal, an int or decimal
    text — never a float, whose binary value is not the decimal written) and the most
    matches to return (1–1000). Invalid values raise `ScreeningError` (E_SCREENING) on
    construction; countries are lower-cased and de-duplicated, the threshold becomes a
    Decimal."""

    name: str
    schema: str = "Person"
    birth_date: str | None = None
    countries: tuple[str, ...] = ()
    topics: tuple[str, ...] = ("sanction",)
    threshold: Decimal = Decimal("0.8")
    limit: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ScreeningError("query name must be a non-empty string")
        if len(self.name) > MAX_NAME_LENGTH:
            raise ScreeningError(f"query name is longer than {MAX_NAME_LENGTH} characters")
        if not name_form(self.name, False).tokens:
            raise ScreeningError(f"query name {self.name!r} has no letters or digits")
        if self.schema not in SCHEMATA:
            raise ScreeningError(f"unknown schema {self.schema!r}; known schemata: "
                                 + ", ".join(sorted(SCHEMATA)))
        if self.birth_date is not None:
            _check_date(self.birth_date)
        if isinstance(self.countries, str) or not isinstance(self.countries, tuple | list):
            raise ScreeningError("countries must be a sequence of country codes")
        countries = tuple(dict.fromkeys(str(c).strip().lower() for c in self.countries))
        for c in countries:
            if not _COUNTRY.match(c):
                raise ScreeningError(f"invalid country code {c!r} (ISO 3166 codes: 'ru', "
                                     "'us', ...)")
        object.__setattr__(self, "countries", countries)
        if isinstance(self.topics, str) or not isinstance(self.topics, tuple | list):
            raise ScreeningError("topics must be a sequence of topic names")
        topics = tuple(dict.fromkeys(self.topics))
        if not topics:
            raise ScreeningError("topics must name at least one topic")
        for t in topics:
            if t not in TOPICS:
                raise ScreeningError(f"unknown topic {t!r}; known topics: "
                                     + ", ".join(sorted(TOPICS)))
        object.__setattr__(self, "topics", topics)
        try:
            threshold = Decimal(self.threshold)
        except (InvalidOperation, TypeError, ValueError):
            raise ScreeningError(f"threshold must be a decimal, not {self.threshold!r}") \
                from None
        if isinstance(self.threshold, float) or not threshold.is_finite() \
                or not Decimal(0) <= threshold <= Decimal(1):
            raise ScreeningError(f"threshold must be a Decimal between 0 and 1, not "
                                 f"{self.threshold!r}")
        object.__setattr__(self, "threshold", threshold)
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) \
                or not 1 <= self.limit <= MAX_LIMIT:
            raise ScreeningError(f"limit must be an integer from 1 to {MAX_LIMIT}")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "schema": self.schema, "birth_date": self.birth_date,
                "countries": list(self.countries), "topics": list(self.topics),
                "threshold": str(self.threshold), "limit": self.limit}


def _query_form(query: Query) -> NameForm:
    return name_form(query.name, query.schema in ORGANISATION_SCHEMATA,
                     query.schema == "Vessel")


def _check_date(value: str) -> None:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ScreeningError(f"birth date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    parts = [int(p) for p in value.split("-")]
    try:
        date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        raise ScreeningError(f"birth date {value!r} is not a real date") from None


@dataclass(frozen=True, slots=True)
class Match:
    """One listed entity scoring at least the threshold, with why."""

    entity_id: str
    caption: str
    schema: str
    score: Decimal
    datasets: tuple[str, ...]
    sources: tuple[str, ...]
    topics: tuple[str, ...]
    countries: tuple[str, ...]
    birth_dates: tuple[str, ...]
    entity_hash: str
    explanation: tuple[Contribution, ...]

    def to_json(self) -> dict[str, Any]:
        return {"entity_id": self.entity_id, "caption": self.caption, "schema": self.schema,
                "score": str(self.score), "datasets": list(self.datasets),
                "sources": list(self.sources), "topics": list(self.topics),
                "countries": list(self.countries), "birth_dates": list(self.birth_dates),
                "entity_hash": self.entity_hash,
                "explanation": [c.to_json() for c in self.explanation]}


@dataclass(frozen=True, slots=True)
class ScreenResult:
    """`hit` when any entity scored at least the threshold; `score` the best such score
    (0 without a hit); `matches` best first, ties by entity id, at most `limit`."""

    query: Query
    hit: bool
    score: Decimal
    matches: tuple[Match, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query.to_json(), "hit": self.hit, "score": str(self.score),
                "matches": [m.to_json() for m in self.matches]}


class Screener:
    """An index over one or more datasets, built once; `screen` answers queries."""

    def __init__(self, datasets: Sequence[Dataset]):
        if not datasets:
            raise ScreeningError("a screener needs at least one dataset")
        names = [d.name for d in datasets]
        if len(set(names)) != len(names):
            raise ScreeningError(f"dataset names must be distinct: {names}")
        self._versions = [{"name": d.name, "version": d.version, "records": d.records}
                          for d in datasets]
        merged: dict[str, Entity] = {}
        for ds in datasets:
            for eid, entity in ds.entities.items():
                prior = merged.get(eid)
                if prior is None:
                    merged[eid] = entity
                elif not related_schemas(prior.schema, entity.schema):
                    raise DatasetError(
                        f"entity {eid!r} is a {entity.schema} in {ds.name} but a "
                        f"{prior.schema} in {', '.join(prior.datasets)}")
                else:
                    merged[eid] = prior.merged(entity)
        self.entities: list[Entity] = [e for e in merged.values() if e.screenable]
        self.index = NameIndex()
        for number, entity in enumerate(self.entities):
            org = entity.schema in ORGANISATION_SCHEMATA
            vessel = entity.schema == "Vessel"
            for name in entity.names:
                self.index.add(number, name_form(name, org, vessel), False)
            for name in entity.weak_names:
                if name not in entity.names:
                    self.index.add(number, name_form(name, org, vessel), True)
        self.index.freeze()
        self._texts: list[str] = []
        for entity in self.entities:
            self._texts.extend(entity.names)
            self._texts.extend(n for n in entity.weak_names if n not in entity.names)

    @property
    def versions(self) -> list[dict[str, Any]]:
        """`{"name", "version", "records"}` for each dataset, in the order given."""
        return [dict(v) for v in self._versions]

    def __len__(self) -> int:
        return len(self.entities)

    def screen(self, query: Query) -> ScreenResult:
        """Screen one query against every dataset of this screener."""
        form = _query_form(query)
        floor = float(query.threshold) - MAX_BOOST
        return self._score(query, form, self.index.candidates(form, floor))

    def screen_exhaustively(self, query: Query) -> ScreenResult:
        """The reference: score every listed name, no blocking. Slow; tests compare
        `screen` with it to show blocking loses no match."""
        form = _query_form(query)
        return self._score(query, form, range(len(self.index)))

    def _score(self, query: Query, form: NameForm, names: Iterable[int]) -> ScreenResult:
        threshold = float(query.threshold)
        date = date_prefix(query.birth_date) if query.birth_date else None
        topics = set(query.topics)
        index = self.index
        best: dict[int, NameScore] = {}
        memo: dict[tuple[tuple[str, ...], tuple[float, ...]], NameScore] = {}
        for nid in sorted(names):
            number = index.name_entity[nid]
            entity = self.entities[number]
            if not compatible(query.schema, entity.schema) or topics.isdisjoint(entity.topics):
                continue
            listed = index.name_forms[nid]
            weak = bool(index.name_weak[nid])
            key = (listed.tokens, listed.weights)
            ns = memo.get(key)  # lists repeat names: score each distinct form once
            if ns is None:
                ns = memo[key] = compare_names(form, listed, self._texts[nid], weak)
            elif ns.weak != weak or ns.listed_text != self._texts[nid]:
                ns = replace(ns, listed_text=self._texts[nid], weak=weak)
            prior = best.get(number)
            if prior is None or weighted(ns) > weighted(prior):
                best[number] = ns
        matches: list[Match] = []
        for number, ns in best.items():
            entity = self.entities[number]
            dates = tuple(d for d in (date_prefix(v) for v in entity.birth_dates) if d)
            rough = weighted(ns) + evidence_float(date, query.countries, dates,
                                                  entity.countries)
            if rough < threshold - _MARGIN:
                continue
            score, items = explain(ns, query.name, date, query.countries, dates,
                                   entity.countries)
            if score < query.threshold:
                continue
            matches.append(Match(
                entity_id=entity.id, caption=entity.caption, schema=entity.schema,
                score=score, datasets=entity.datasets, sources=entity.sources,
                topics=entity.topics, countries=entity.countries,
                birth_dates=entity.birth_dates, entity_hash=entity.content_hash,
                explanation=tuple(items)))
        matches.sort(key=lambda m: (-m.score, m.entity_id))
        top = tuple(matches[:query.limit])
        return ScreenResult(query, bool(top), top[0].score if top else Decimal(0), top)
