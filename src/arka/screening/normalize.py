"""Name normalisation for screening: text → ASCII tokens with weights and phonetic keys.

The pipeline is the same for list names (at index time) and query names (at screening
time), so both sides of a comparison always went through identical steps:

1. Unicode NFKC (compatibility forms: full-width letters, ligatures, `ﬁ` → `fi`).
2. Transliteration to ASCII with `anyascii` (Cyrillic, Greek, Arabic, Hebrew, diacritics).
   Han, Kana and Hangul characters are transliterated one by one and separated by spaces,
   so `毛泽东` becomes the tokens `mao ze dong` (each character is one syllable).
3. Casefold; apostrophes and ayn/hamza marks are dropped (`O'Brien` → `obrien`,
   `Ma'mun` → `mamun`); every other non-alphanumeric character (hyphens, dots, commas)
   separates tokens (`al-Qaddafi` → `al qaddafi`, `J.` → `j`).
4. Honorifics (`mr`, `dr`, `sheikh`, ...) are dropped from person names.
   In a person name of three or more tokens, the first patronymic-looking token after
   the first (`Vladimirovich`, `Ryhoravich`, `Akhmatovna`) is low weight: the middle name
   a query most often leaves out (only the first, so `Roman Arkadyevich Abramovich`
   keeps its surname at full weight).
5. In organisation names, dotted abbreviations are one token (`S.A.` → `sa`, `B.V.` →
   `bv`); in person names dots separate initials (`J.R. Smith` → `j r smith`).
6. Each token gets a weight: name particles (`al`, `bin`, `van`, `de`, ...) and, for
   organisations, legal forms (`llc`, `ltd`, `gmbh`, `ooo`, ... — normalised to one
   spelling: `limited` → `ltd`) weigh `LOW_WEIGHT`; everything else weighs 1. Low-weight
   tokens still count, they only count less, so `Acme Ltd` and `Acme GmbH` stay close
   without `Ltd` being ignored.

Phonetic keys are Metaphone codes of a token after a few spelling folds common in
transliterated names (`q`→`k`, `dh`/`th`→`d`/`t`, `kh`→`k`, `ph`→`f`, doubled letters
collapsed), so `Qaddafi`, `Gaddafi`, `Kadhafi` and `Gadhafi` share the key `KTF`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
from anyascii import anyascii

LOW_WEIGHT = 0.3

HONORIFICS = frozenset({
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "madam", "mme", "mlle",
    "herr", "frau", "sheikh", "shaikh", "sheik", "hon", "rev", "messrs",
})

PARTICLES = frozenset({
    "al", "el", "bin", "ben", "ibn", "bint", "binti", "abu", "ul", "ud",
    "van", "von", "der", "den", "de", "da", "di", "du", "la", "le", "dos", "das", "del",
    "y", "e",
})

# Legal forms, each folded to one spelling (variants map to the canonical short form).
LEGAL_FORMS: dict[str, str] = {
    "limited": "ltd", "ltd": "ltd", "llc": "llc", "inc": "inc", "incorporated": "inc",
    "corporation": "corp", "corp": "corp", "company": "co", "co": "co", "plc": "plc",
    "llp": "llp", "lp": "lp", "gmbh": "gmbh", "ag": "ag", "kg": "kg", "sa": "sa",
    "sas": "sas", "sarl": "sarl", "srl": "srl", "spa": "spa", "bv": "bv", "nv": "nv",
    "ab": "ab", "as": "as", "oy": "oy", "jsc": "jsc", "ojsc": "ojsc", "pjsc": "pjsc",
    "cjsc": "cjsc", "ooo": "ooo", "oao": "oao", "zao": "zao", "pao": "pao", "ao": "ao",
    "fze": "fze", "fzco": "fzco", "fzc": "fzc", "pte": "pte", "pty": "pty", "bhd": "bhd",
    "sdn": "sdn", "group": "group", "holding": "holding", "holdings": "holding",
    "trading": "trading", "international": "intl", "intl": "intl",
}

_CJK = re.compile(r"[\u2e80-\u2fdf\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
                  r"\uac00-\ud7af\uf900-\ufaff]+")
_QUOTES = re.compile(r"['`\u2018\u2019\u02bb\u02bc\u02be\u02bf\u00b4]")
_SEPARATORS = re.compile(r"[^a-z0-9]+")
_DOUBLE = re.compile(r"(.)\1+")
_DOTTED = re.compile(r"(?<!\w)(?:\w\.){2,}")
# East Slavic patronymics (`Vladimirovich`, `Akhmatovna`, `Ryhoravich`): low weight, as a
# middle name a query often leaves out.
_PATRONYMIC = re.compile(r"^[a-z]{3,}(ovich|evich|ovych|evych|avich|ovna|evna|ivna|ichna|"
                         r"ovitch|evitch)$")  # the first such token after the first, in 3+


def _split_cjk(match: re.Match[str]) -> str:
    return " " + " ".join(anyascii(ch) for ch in match.group()) + " "


@lru_cache(maxsize=65536)
def ascii_text(text: str) -> str:
    """NFKC, transliterated to ASCII, casefolded, punctuation turned into single spaces."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        text = _CJK.sub(_split_cjk, text)
        text = anyascii(text)
    text = _QUOTES.sub("", text.casefold())
    return _SEPARATORS.sub(" ", text).strip()


@lru_cache(maxsize=262144)
def phonetic_key(token: str) -> str:
    """Metaphone of `token` after the transliteration folds; '' for digits-only tokens."""
    if not token.isalpha():
        return ""
    folded = (token.replace("q", "k").replace("dh", "d").replace("th", "t")
              .replace("kh", "k").replace("ph", "f").replace("ck", "k"))
    return str(jellyfish.metaphone(_DOUBLE.sub(r"\1", folded)))


@dataclass(frozen=True, slots=True)
class NameForm:
    """One name, normalised: its tokens (in written order) and each token's weight."""

    tokens: tuple[str, ...]
    weights: tuple[float, ...]

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    @property
    def compact(self) -> str:
        """The tokens joined without spaces: `mao ze dong` and `mao zedong` agree here."""
        return "".join(self.tokens)


def name_form(name: str, organisation: bool) -> NameForm:
    """Normalise a name. `organisation` selects the legal-form table instead of dropping
    honorifics. A name that is nothing but noise keeps its tokens rather than vanishing."""
    return _name_form(name, organisation)


@lru_cache(maxsize=65536)
def _name_form(name: str, organisation: bool) -> NameForm:
    if organisation:  # dotted abbreviations are one word in a company name: S.A. = sa
        name = _DOTTED.sub(lambda m: m.group().replace(".", ""), name)
    raw = ascii_text(name).split()
    tokens: list[str] = []
    weights: list[float] = []
    patronymic_seen = False
    for tok in raw:
        if organisation:
            form = LEGAL_FORMS.get(tok)
            if form is not None:
                tokens.append(form)
                weights.append(LOW_WEIGHT)
                continue
        elif tok in HONORIFICS and len(raw) > 1:
            continue
        low = tok in PARTICLES
        if (not organisation and not patronymic_seen and tokens and len(raw) >= 3
                and _PATRONYMIC.match(tok)):
            low = patronymic_seen = True
        tokens.append(tok)
        weights.append(LOW_WEIGHT if low else 1.0)
    if tokens and all(w < 1.0 for w in weights):
        weights = [1.0] * len(tokens)
    return NameForm(tuple(tokens), tuple(weights))


def deletion_keys(token: str) -> tuple[str, ...]:
    """The token with each single character removed (tokens of 4+ characters): two
    tokens one edit apart (substitution, insertion, deletion, adjacent swap) share one."""
    if len(token) < 4:
        return ()
    return tuple(sorted({token[:i] + token[i + 1:] for i in range(len(token))}))


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def date_prefix(value: str) -> str | None:
    """`YYYY`, `YYYY-MM` or `YYYY-MM-DD` from an FtM date (longer values — times — are
    cut to the day); None when the text does not start with a year."""
    m = _DATE.match(value.strip())
    if m is None:
        return None
    return "-".join(p for p in m.groups() if p is not None)
