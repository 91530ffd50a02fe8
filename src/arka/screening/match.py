"""Scoring one query against one listed entity: name features, then evidence.

**Name score** (the best over the entity's names). Weak aliases (FtM `weakAlias`: short
nicknames like `El Chapo` that lists flag as low quality) count × `WEAK_FACTOR` (0.75),
so a weak alias alone never reaches the default threshold; with a matching birth date it
does (0.85).

- `name_exact`: the same tokens in any order → 1.
- token alignment: every query token is paired with at most one listed token, best pairs
  first (ties by position). A pair's similarity is 1 for equal tokens (`token_exact`),
  `INITIAL_SIM` when one is the initial of the other (`token_initial`: `J.` ~ `John`),
  otherwise the mean of Jaro-Winkler similarity and 1 − OSA edits / length
  (`token_fuzzy`) — but only within `allowed_edits` of the shorter token's length (none
  up to 3 letters, 1 up to 6, 2 up to 10, 3 beyond), so `Putin` is not `Pushkin` —,
  lifted halfway to 1 when both tokens share a phonetic key and are at most two edits
  further apart (`token_phonetic`: `Aleksandr` ~ `Alexander`, `Qaddafi` ~ `Kadhafi`).
  Otherwise, tokens with equal romanisation keys (`normalize.same_romanisation`; short
  syllables must also share their consonants, so `jin` is not `yin`) are
  `token_romanised` at least `ROMANISED_SIM` (`Abramowitsch` ~ `Abramovich`,
  `Schtscherbakowa` ~ `Shcherbakova`); keys one edit apart (and within `allowed_edits`)
  give the fuzzy similarity of the keys when that is better than the spelling's
  (`Gorbatschow` ~ `Gorbachev`: `gorbacov` ~ `gorbacev`).
  Pairs under `PAIR_FLOOR` are not pairs. The score is Σ w·sim / (Σ w_matched +
  `MISSING_QUERY` × unmatched query weight + `MISSING_LISTED` × min(1, unmatched listed
  weight)), so listed middle names the query lacks cost one token's worth at most
  (`Vladimir Putin` ~ `Vladimir Vladimirovich Putin` = 0.96, the patronymic being low
  weight; `Emmanuel Macron` ~ `Emmanuel Jean-Michel Frédéric Macron` = 0.87) while a query
  token with no counterpart costs more (`John Robert Smith` ~ `John Smith` = 0.8), and a
  lone surname never reaches 0.8 against a full name (`Putin` ~ `Vladimir Putin` = 0.77).
- `name_compact`: the names written without spaces are nearly equal (`Mao Zedong` ~
  `毛泽东` = `mao ze dong`), or — for names split into a different number of tokens —
  their romanisation keys are (`Teng Hsiao-p'ing` ~ `Deng Xiaoping`), counted when at
  least `COMPACT_FLOOR`.
- `name_token_sort`: rapidfuzz's token-sort ratio (order-independent whole-name
  similarity), counted when at least `TOKEN_SORT_FLOOR`.

**Evidence** is then added: birth date (`birth_date_match` +0.10 when day-exact,
`birth_year_match` +0.05 when equal at the precision both sides have,
`birth_date_mismatch` −0.10 for the same year but a different day, `birth_year_mismatch`
−0.30 when no year agrees: a hard non-match, since even a perfect name then stays below
0.8) and country (`country_match` +0.03, `country_mismatch` −0.25 when the entity lists
countries and none is the query's). Evidence only applies where both sides have it.

Every contribution is a Decimal with 4 places computed from similarities rounded to 4
places, and the score is their exact sum (clamped to 0–1 with an explicit `clamp` item),
so the explanation always adds up and the same input gives the same score everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from arka.screening.normalize import NameForm, phonetic_key, romanised, same_romanisation

INITIAL_SIM = 0.8
ROMANISED_SIM = 0.9
PAIR_FLOOR = 0.6
MISSING_QUERY = 0.5
MISSING_LISTED = 0.3
COMPACT_FLOOR = 0.9
TOKEN_SORT_FLOOR = 0.92
WEAK_FACTOR = Decimal("0.75")

BIRTH_DATE_MATCH = Decimal("0.1000")
BIRTH_YEAR_MATCH = Decimal("0.0500")
BIRTH_DATE_MISMATCH = Decimal("-0.2500")
BIRTH_YEAR_MISMATCH = Decimal("-0.3000")
COUNTRY_MATCH = Decimal("0.0300")
COUNTRY_MISMATCH = Decimal("-0.2500")
# The most evidence can add: a name scoring below threshold - MAX_BOOST cannot match.
MAX_BOOST = float(BIRTH_DATE_MATCH + COUNTRY_MATCH)

Q4 = Decimal("0.0001")
ZERO = Decimal("0.0000")
ONE = Decimal("1.0000")


def q4(x: float | Decimal) -> Decimal:
    """A similarity as an exact 4-place Decimal (floats rounded half-even first)."""
    if isinstance(x, float):
        return Decimal(round(x * 10000)) / 10000
    return x.quantize(Q4, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Contribution:
    """One explanation item: which query feature met which listed value, and how much it
    added to (or took from) the score."""

    feature: str
    query: str | None
    candidate: str | None
    contribution: Decimal

    def to_json(self) -> dict[str, str | None]:
        return {"feature": self.feature, "query": self.query, "candidate": self.candidate,
                "contribution": str(self.contribution)}


@dataclass(frozen=True, slots=True)
class NameScore:
    """A query name against one listed name: float score for ranking, and how to explain."""

    score: float
    feature: str
    query: NameForm
    listed: NameForm
    listed_text: str
    weak: bool
    pairs: tuple[tuple[int, int, float, str], ...] = ()
    denominator: float = 1.0
    value: float = 1.0  # compact / token-sort similarity


def allowed_edits(length: int) -> int:
    """Edits (OSA: insert, delete, substitute, swap neighbours) a token of this length may
    differ by and still be the same name: none up to 3 characters, 1 up to 6, 2 up to 10,
    3 beyond."""
    if length <= 3:
        return 0
    if length <= 6:
        return 1
    if length <= 10:
        return 2
    return 3


@lru_cache(maxsize=1 << 18)
def token_similarity(a: str, b: str) -> tuple[float, str]:
    """(similarity 0–1, kind) of two normalised tokens (memoised: names share tokens)."""
    if a == b:
        return 1.0, "token_exact"
    if len(a) == 1 or len(b) == 1:
        if a[0] == b[0]:
            return INITIAL_SIM, "token_initial"
        return 0.0, "token_fuzzy"
    longest = max(len(a), len(b))
    edits = OSA.distance(a, b)
    sim = (JaroWinkler.similarity(a, b) + 1 - edits / longest) / 2
    pa = phonetic_key(a)
    if len(pa) >= 2 and pa == phonetic_key(b) and edits <= allowed_edits(min(len(a), len(b))) + 2:
        return round((1 + sim) / 2, 4), "token_phonetic"
    if same_romanisation(a, b):
        return round(max((1 + sim) / 2, ROMANISED_SIM), 4), "token_romanised"
    ra, rb = romanised(a), romanised(b)
    if edits > allowed_edits(min(len(a), len(b))):
        sim = 0.0
    r_edits = OSA.distance(ra, rb)
    if 0 < r_edits <= min(1, allowed_edits(min(len(ra), len(rb)))):  # equal: above
        r_sim = (JaroWinkler.similarity(ra, rb) + 1 - r_edits / max(len(ra), len(rb))) / 2
        sim = max(sim, r_sim)
    return round(sim, 4), "token_fuzzy"


def compare_names(query: NameForm, listed: NameForm, listed_text: str,
                  weak: bool) -> NameScore:
    """Score a normalised query name against a normalised listed name."""
    qt, lt = query.tokens, listed.tokens
    if sorted(qt) == sorted(lt):
        return NameScore(1.0, "name_exact", query, listed, listed_text, weak)
    scored: list[tuple[float, int, int, str]] = []
    for i, a in enumerate(qt):
        for j, b in enumerate(lt):
            sim, kind = token_similarity(a, b)
            if sim >= PAIR_FLOOR:
                scored.append((-sim, i, j, kind))
    scored.sort()
    used_q: set[int] = set()
    used_l: set[int] = set()
    pairs: list[tuple[int, int, float, str]] = []
    for neg, i, j, kind in scored:
        if i in used_q or j in used_l:
            continue
        used_q.add(i)
        used_l.add(j)
        pairs.append((i, j, -neg, kind))
    qw, lw = query.weights, listed.weights
    matched = sum(qw[i] for i, _, _, _ in pairs)
    numerator = sum(qw[i] * sim for i, _, sim, _ in pairs)
    missing_q = sum(w for i, w in enumerate(qw) if i not in used_q)
    missing_l = sum(w for j, w in enumerate(lw) if j not in used_l)
    if pairs:
        missing_l = min(missing_l, 1.0)
    denominator = matched + MISSING_QUERY * missing_q + MISSING_LISTED * missing_l
    best = NameScore(numerator / denominator if denominator else 0.0, "name_tokens", query,
                     listed, listed_text, weak, tuple(sorted(pairs)), denominator)
    if best.score >= 1.0:
        return best
    qc = query.compact
    if len(qc) >= 6:
        compact = Levenshtein.normalized_similarity(qc, listed.compact,
                                                    score_cutoff=COMPACT_FLOOR)
        if len(qt) != len(lt):  # syllables written apart or together: compare the keys
            compact = max(compact, Levenshtein.normalized_similarity(
                query.compact_romanised, listed.compact_romanised,
                score_cutoff=COMPACT_FLOOR))
        compact = round(compact, 4)
        if compact >= COMPACT_FLOOR and compact > best.score:
            best = NameScore(compact, "name_compact", query, listed, listed_text, weak,
                             value=compact)
    ts = round(fuzz.token_sort_ratio(query.text, listed.text,
                                     score_cutoff=TOKEN_SORT_FLOOR * 100) / 100, 4)
    if ts >= TOKEN_SORT_FLOOR and ts > best.score:
        best = NameScore(ts, "name_token_sort", query, listed, listed_text, weak, value=ts)
    return best


def weighted(score: NameScore) -> float:
    return score.score * float(WEAK_FACTOR) if score.weak else score.score


def name_contributions(ns: NameScore, query_text: str) -> list[Contribution]:
    """The name part of an explanation; the contributions sum to the name's share."""
    factor = WEAK_FACTOR if ns.weak else ONE
    suffix = "_weak_alias" if ns.weak else ""
    if ns.feature != "name_tokens":
        value = ONE if ns.feature == "name_exact" else q4(ns.value)
        return [Contribution(ns.feature + suffix, query_text, ns.listed_text,
                             q4(value * factor))]
    out: list[Contribution] = []
    denominator = Decimal(repr(ns.denominator))
    used_q = {i for i, _, _, _ in ns.pairs}
    used_l = {j for _, j, _, _ in ns.pairs}
    for i, j, sim, kind in ns.pairs:
        weight = Decimal(repr(ns.query.weights[i]))
        share = q4(weight * q4(sim) * factor / denominator)
        out.append(Contribution(kind + suffix, ns.query.tokens[i], ns.listed.tokens[j], share))
    for i, tok in enumerate(ns.query.tokens):
        if i not in used_q:
            out.append(Contribution("token_unmatched", tok, None, ZERO))
    for j, tok in enumerate(ns.listed.tokens):
        if j not in used_l:
            out.append(Contribution("token_not_in_query", None, tok, ZERO))
    return out


def birth_date_evidence(query_date: str | None,
                        listed: Sequence[str]) -> Contribution | None:
    """Birth date as supporting or disqualifying evidence (None when either side has no
    date). Dates are `YYYY[-MM[-DD]]` prefixes; sides are compared at the precision both
    have."""
    if query_date is None or not listed:
        return None
    best: Contribution | None = None
    same_year: str | None = None
    for value in listed:
        n = min(len(query_date), len(value))
        if query_date[:n] == value[:n]:
            if n >= 10:
                return Contribution("birth_date_match", query_date, value, BIRTH_DATE_MATCH)
            if best is None:
                best = Contribution("birth_year_match", query_date, value, BIRTH_YEAR_MATCH)
        elif query_date[:4] == value[:4] and same_year is None:
            same_year = value
    if best is not None:
        return best
    if same_year is not None:
        return Contribution("birth_date_mismatch", query_date, same_year, BIRTH_DATE_MISMATCH)
    return Contribution("birth_year_mismatch", query_date, ", ".join(listed),
                        BIRTH_YEAR_MISMATCH)


def country_evidence(query_countries: Sequence[str],
                     listed: Sequence[str]) -> Contribution | None:
    """A shared country supports a match slightly; a listed entity with countries, none of
    them the query's, counts against it. None when either side has no country."""
    if not query_countries or not listed:
        return None
    for c in query_countries:
        if c in listed:
            return Contribution("country_match", c, c, COUNTRY_MATCH)
    return Contribution("country_mismatch", ", ".join(query_countries), ", ".join(listed),
                        COUNTRY_MISMATCH)


def evidence_float(query_date: str | None, query_countries: Sequence[str],
                   dates: Sequence[str], countries: Sequence[str]) -> float:
    total = ZERO
    for item in (birth_date_evidence(query_date, dates),
                 country_evidence(query_countries, countries)):
        if item is not None:
            total += item.contribution
    return float(total)


def explain(ns: NameScore, query_text: str, query_date: str | None,
            query_countries: Sequence[str], dates: Sequence[str],
            countries: Sequence[str]) -> tuple[Decimal, list[Contribution]]:
    """The final score and its explanation; the score is the sum of the contributions."""
    items = name_contributions(ns, query_text)
    for item in (birth_date_evidence(query_date, dates),
                 country_evidence(query_countries, countries)):
        if item is not None:
            items.append(item)
    total = sum((c.contribution for c in items), ZERO)
    if total > ONE:
        items.append(Contribution("clamp", None, None, ONE - total))
        total = ONE
    elif total < ZERO:
        items.append(Contribution("clamp", None, None, -total))
        total = ZERO
    return total, items
