"""Candidate blocking: which listed names are worth scoring for a query name.

Built once per set of dataset versions. Every name of every screenable entity gets a
name id; the index has, over the *vocabulary* of distinct tokens (not over entities, so
the fuzzy keys stay small even for a million entities):

- `postings[token]`: the name ids containing the token (an `array('I')`);
- phonetic buckets: Metaphone key → tokens (`Qaddafi` finds `Gaddafi`, `Kadhafi`);
- deletion keys: each token and its one-character deletions → tokens, so a query token
  one or two edits away from a listed token finds it (`Smiht` → `Smith`);
- trigrams: character 3-grams of tokens of 5+ letters → tokens, so a token two edits away
  (`Shevchovich` ~ `Savchovich`) is found when most of its trigrams are shared and the
  edit distance is within what scoring allows (`match.allowed_edits`);
- romanisation keys: each token's `romanised` skeleton and its one-character deletions →
  tokens (only for tokens whose key differs from the token: the others' keys are its
  deletion keys already, and a query looks its keys up in both tables), so `Janukowytsch` finds `Yanukovych` and `Gorbatschow` finds `Gorbachev`
  (the pairs `match.token_similarity` scores by their keys);
- initials: a one-letter listed token (`J.`) is found by any query token starting with it;
- compact keys: a name's tokens, and their romanisation keys, joined without spaces
  (`mao ze dong` = `mao zedong`, `teng hsiao ping` ~ `deng xiaoping`).

A query token expands to the similar vocabulary tokens, their postings are united, and a
name is a candidate when it is reached by enough distinct strong query tokens that the
name score could still reach the threshold (`needed_hits`), or by the compact key.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from itertools import combinations

from rapidfuzz.distance import OSA, JaroWinkler

from arka.screening.match import allowed_edits
from arka.screening.normalize import NameForm, deletion_keys, phonetic_key, romanised

# Similarity a phonetic-bucket token must have with the query token to be expanded to.
PHONETIC_FLOOR = 0.7
# A query token reaching at most this many names makes them candidates on its own, even
# when the name would need more hits: a rare surname is worth scoring against although
# the given name is spelled beyond the fuzzy keys (`Giorgos` ~ `Georgios`).
RARE_REACH = 300
# At most this many names are scored per query name: when blocking finds more, those
# reached by every query token, then by the rarest ones, are kept (`_rarest`).
MAX_CANDIDATES = 400
# Trigram blocking: a vocabulary token is a neighbour when it shares this share of the
# query token's trigrams; trigrams common to more tokens than the cap are not used.
TRIGRAM_SHARE = 0.5
TRIGRAM_CAP = 5000
# Posting lists at least this long are stored as frozensets once the index is built.
FREEZE_MIN = 64


class NameIndex:
    """The blocking index over a list of (entity number, name form, weak?) entries."""

    def __init__(self) -> None:
        self.name_entity = array("I")
        self.name_forms: list[NameForm] = []
        self.name_weak = bytearray()
        self.vocab: dict[str, int] = {}
        self.tokens: list[str] = []
        self.postings: list[array[int] | frozenset[int]] = []
        self.phonetic: dict[str, list[int]] = {}
        self.deletions: dict[str, list[int]] = {}
        self.compact: dict[str, array[int]] = {}
        self.trigrams: dict[str, list[int]] = {}
        self.romanised: dict[str, list[int]] = {}
        self._weights: dict[tuple[float, ...], tuple[float, ...]] = {}
        self._expand = lru_cache(maxsize=16384)(self._expand_uncached)

    def __len__(self) -> int:
        return len(self.name_forms)

    def add(self, entity_number: int, form: NameForm, weak: bool) -> None:
        nid = len(self.name_forms)
        seen: set[int] = set()
        shared: list[str] = []  # the vocabulary's string objects, so tokens are stored once
        for tok in form.tokens:
            tid = self.vocab.get(tok)
            if tid is None:
                tid = self._new_token(tok)
            shared.append(self.tokens[tid])
            if tid not in seen:
                seen.add(tid)
                posting = self.postings[tid]
                assert isinstance(posting, array), "the index is frozen"
                posting.append(nid)
        weights = self._weights.setdefault(form.weights, form.weights)
        self.name_entity.append(entity_number)
        self.name_forms.append(NameForm(tuple(shared), weights))
        self.name_weak.append(1 if weak else 0)
        if len(form.tokens) > 1:
            for key in dict.fromkeys((form.compact, form.compact_romanised)):
                bucket = self.compact.get(key)
                if bucket is None:
                    bucket = self.compact[key] = array("I")
                bucket.append(nid)

    def freeze(self) -> None:
        """End of building: long posting lists become frozensets (sharing one int object
        per name id), so uniting and intersecting them is set-to-set work in C instead
        of boxing every array element on every query."""
        ids = list(range(len(self.name_forms)))
        for tid, posting in enumerate(self.postings):
            if isinstance(posting, array) and len(posting) >= FREEZE_MIN:
                self.postings[tid] = frozenset(map(ids.__getitem__, posting))

    def _new_token(self, tok: str) -> int:
        tid = len(self.tokens)
        self.vocab[tok] = tid
        self.tokens.append(tok)
        self.postings.append(array("I"))
        key = phonetic_key(tok)
        if len(key) >= 2:
            self.phonetic.setdefault(key, []).append(tid)
        for k in (tok, *deletion_keys(tok)):
            self.deletions.setdefault(k, []).append(tid)
        for g in trigrams(tok):
            self.trigrams.setdefault(g, []).append(tid)
        if romanised(tok) != tok:  # a key equal to the token is in `deletions` already
            for k in romanised_keys(tok):
                self.romanised.setdefault(k, []).append(tid)
        return tid

    def _expand_uncached(self, tok: str) -> tuple[int, ...]:
        """The vocabulary tokens a query token may stand for (token ids, sorted)."""
        found: set[int] = set()
        exact = self.vocab.get(tok)
        if exact is not None:
            found.add(exact)
        if len(tok) > 1:
            initial = self.vocab.get(tok[0])
            if initial is not None:
                found.add(initial)
            key = phonetic_key(tok)
            if len(key) >= 2:
                for tid in self.phonetic.get(key, ()):
                    if JaroWinkler.similarity(tok, self.tokens[tid]) >= PHONETIC_FLOOR:
                        found.add(tid)
            for k in (tok, *deletion_keys(tok)):
                found.update(self.deletions.get(k, ()))
            for k in romanised_keys(tok):
                found.update(self.romanised.get(k, ()))
                found.update(self.deletions.get(k, ()))
            found.update(self._trigram_neighbours(tok))
        return tuple(sorted(found))

    def _trigram_neighbours(self, tok: str) -> set[int]:
        grams = trigrams(tok)
        if not grams:
            return set()
        counts: Counter[int] = Counter()
        for g in grams:
            tids = self.trigrams.get(g)
            if tids is not None and len(tids) <= TRIGRAM_CAP:
                counts.update(tids)
        need = max(2, math.ceil(TRIGRAM_SHARE * len(grams)))
        out: set[int] = set()
        for tid, c in counts.items():
            if c >= need:
                other = self.tokens[tid]
                if OSA.distance(tok, other) <= allowed_edits(min(len(tok), len(other))):
                    out.add(tid)
        return out

    def reach(self, tok: str) -> set[int]:
        """Name ids reachable from one query token."""
        out: set[int] = set()
        for tid in self._expand(tok):
            out.update(self.postings[tid])
        return out

    def reach_size(self, tok: str) -> int:
        """An upper bound of `len(reach(tok))`, without building the set."""
        return sum(len(self.postings[tid]) for tid in self._expand(tok))

    def reach_within(self, tok: str, within: set[int]) -> set[int]:
        """`reach(tok) & within`, intersecting each posting list in C."""
        out: set[int] = set()
        for tid in self._expand(tok):
            out |= within.intersection(self.postings[tid])
        return out

    def candidates(self, form: NameForm, name_floor: float) -> set[int]:
        """Name ids worth scoring against `form` when a name score below `name_floor`
        cannot produce a match.

        A name must be reached by `need` of the `n` strong query tokens, so it is reached
        by at least one of the `n - need + 1` rarest: their reaches are built as sets (the
        seed), and the other tokens are only intersected with the seed."""
        strong = [t for t, w in zip(form.tokens, form.weights, strict=True)
                  if w >= 1.0 and len(t) > 1]
        if not strong:
            strong = list(form.tokens)
        strong = sorted(dict.fromkeys(strong), key=lambda t: (self.reach_size(t), t))
        need = needed_hits(len(strong), name_floor)
        seeds = len(strong) - need + 1
        hits = [self.reach(t) for t in strong[:seeds]]
        seed: set[int] = set().union(*hits)
        hits.extend(self.reach_within(t, seed) for t in strong[seeds:])
        found = _at_least(hits, need) if need > 1 else seed
        if need > 1:
            for t in strong:
                if 0 < self.reach_size(t) <= RARE_REACH:
                    found |= self.reach(t)
        if len(found) > MAX_CANDIDATES:
            found = _rarest(found, hits)
        for key in (form.compact, form.compact_romanised):  # `Oceanpearl` = `Ocean Pearl`
            found.update(self.compact.get(key, ()))
        return found


def _rarest(found: set[int], hits: list[set[int]]) -> set[int]:
    """The first MAX_CANDIDATES of `found` in this order: names every query token
    reaches, then names the rarest token reaches, the next rarest, ... (`hits` is in
    rarity order; ids ascending within a tier)."""
    every = set(found)
    for r in hits:
        every &= r
    kept: list[int] = sorted(every)[:MAX_CANDIDATES]
    seen = set(kept)
    for r in hits:
        if len(kept) >= MAX_CANDIDATES:
            break
        tier = sorted((r & found) - seen)[:MAX_CANDIDATES - len(kept)]
        kept.extend(tier)
        seen.update(tier)
    return seen


def romanised_keys(token: str) -> tuple[str, ...]:
    """A token's romanisation key and the key's one-character deletions: two tokens whose
    keys are at most one edit apart share one (tokens of 2+ characters)."""
    if len(token) < 2:
        return ()
    key = romanised(token)
    return (key, *deletion_keys(key))


def trigrams(token: str) -> frozenset[str]:
    """The character 3-grams of a token of 5+ characters (none for shorter ones)."""
    if len(token) < 5:
        return frozenset()
    return frozenset(token[i:i + 3] for i in range(len(token) - 2))


def needed_hits(n: int, name_floor: float) -> int:
    """The fewest of `n` strong query tokens a name must contain to score `name_floor`
    under the token score (matched / (matched + 0.5 × unmatched query tokens)); see
    `arka.screening.match`."""
    if n <= 1:
        return n
    t = min(max(name_floor, 0.0), 0.999)
    k = 0.5 * t * n / (1 - 0.5 * t)
    return max(1, min(n, math.ceil(k - 1e-9)))


def _at_least(given: Iterable[set[int]], need: int) -> set[int]:
    """Ids in at least `need` of the sets."""
    sets = sorted(given, key=len)
    if not sets:
        return set()
    if need <= 1:
        return set().union(*sets)
    if need >= len(sets):
        return sets[0].intersection(*sets[1:])
    if math.comb(len(sets), need) <= 10:
        out: set[int] = set()
        for group in combinations(sets, need):  # each group smallest first: C-level work
            out |= group[0].intersection(*group[1:])
        return out
    counts: Counter[int] = Counter()
    for s in sets:
        counts.update(s)
    return {nid for nid, c in counts.items() if c >= need}
