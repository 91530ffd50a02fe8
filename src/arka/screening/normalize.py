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

7. Organisation names: legal forms written out are folded before tokenising (`Public
   Joint Stock Company` → `pjsc`, `Limited Liability Company` → `llc`, `Gesellschaft mit
   beschränkter Haftung` → `gmbh`, `Sociedad Anónima` → `sa`), and the Russian forms
   fold to their English equivalents (`ooo` → `llc`, `zao` → `cjsc`, `oao` → `ojsc`,
   `pao` → `pjsc`). Vessel names lose a leading `MV`, `M/V`, `M.T.`, ... prefix.
8. Person names: Arabic `Abd` compounds are split the same way however they are
   written (`Abdelaziz`, `Abdul Aziz`, `Abd al-Aziz` → `abd` `aziz`).

Romanisation keys (`romanised`) fold the spellings the same Cyrillic, Arabic, Persian,
Korean or Chinese name gets in different romanisation systems and languages to one
skeleton: German `tsch`/`sch`/`w`, French `tch`/`ou`/`j`, Spanish `j`, ISO 9 `č`/`š`/`ž`
(which transliterate to `c`/`s`/`z`), BGN `kh`/`zh`/`-iy`, passport `ie`/`ii`, Wade-Giles
`hs`, `y`/`j`/`i` before vowels, Arabic `q`/`gh`/`k`, `ou`/`u`, `ei`/`ay`/`ai` — so
`Chruschtschow`, `Khrouchtchev` and `Chruščëv`, or `Janukowytsch`, `Ianoukovytch` and
`Yanukovych`, meet on (nearly) one key. Scoring treats equal keys as a near match and
keys one edit apart as fuzzy (see `arka.screening.match`).

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
    "cjsc": "cjsc", "ooo": "llc", "oao": "ojsc", "zao": "cjsc", "pao": "pjsc", "ao": "ao",
    "fze": "fze", "fzco": "fzco", "fzc": "fzc", "pte": "pte", "pty": "pty", "bhd": "bhd",
    "sdn": "sdn", "group": "group", "holding": "holding", "holdings": "holding",
    "trading": "trading", "international": "intl", "intl": "intl",
}

# Legal forms written out, folded before tokenising (on the ASCII text of the name).
_LEGAL_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\b{phrase}\b"), short) for phrase, short in (
        ("public joint stock company", "pjsc"), ("open joint stock company", "ojsc"),
        ("closed joint stock company", "cjsc"), ("joint stock company", "jsc"),
        ("limited liability company", "llc"), ("limited liability partnership", "llp"),
        ("gesellschaft mit beschrankter haftung", "gmbh"),
        ("aktiengesellschaft", "ag"), ("sociedad anonima", "sa"),
        ("societe anonyme", "sa"), ("societa per azioni", "spa"),
        ("obshchestvo s ogranichennoy otvetstvennostyu", "llc"),
        ("public limited company", "plc"),
    ))
# A vessel's type prefix (`MV`, `M/V`, `M.T.`, `MT`, `SS`, ...), dropped from its name.
_VESSEL_PREFIX = re.compile(r"^\s*(?:m\s*[/.]?\s*[vty]|mts|mfv|fv|ss)\s*\.?\s+(?=\S)",
                            re.IGNORECASE)
# Arabic `Abd` compounds: `abdelaziz`, `abdulaziz`, `abdurrahman` → `abd` + the rest.
_ABD = re.compile(r"^abd(?:ul|el|al|ol|ur|ar|ir|us|un|u)?([a-z]{4,})$")
_ABD_ALONE = frozenset({"abdul", "abdel", "abdal", "abdol", "abdu"})
_ABD_WHOLE = frozenset({"abdullah", "abdallah", "abdellah", "abdollah", "abdulla"})

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


# Romanisation folds, applied in this order (see the module docstring).
_ROMAN_STEPS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl) for pattern, repl in (
        (r"w", "v"),
        (r"schtsch|chtch|shtch", "shch"),  # German, French щ
        (r"dsch", "j"), (r"tsch|tch", "ch"), (r"sch", "sh"),  # German, French ч, ш, дж
        (r"^hs", "x"), (r"(?<=[^aeiou])hs", "x"),  # Wade-Giles hs = pinyin x
        (r"^ch(?=[rl])", "kh"),  # German Chr-, Chl- = Khr-, Khl-
        (r"gu(?=[ei])", "g"),  # French Evguéni
        (r"ou", "u"), (r"eo", "o"), (r"eu", "u"),  # French, Korean vowels
        (r"(?:iy|ii|yi|ij|yy|ey|ei|ej)$", "i"),  # -iy / -ii / -y, -ey / -ei / -ej endings
        (r"j(?=[^aeiouy]|$)", "zh"),  # French j (= zh) before a consonant: Jdanov
        (r"j", "y"),  # German/Slavic j before a vowel: Janukowytsch, Natalja
        (r"y", "i"),
        (r"ph", "f"), (r"gh|q", "k"), (r"ts|tz", "c"),
        (r"(?<=[bcdfgjklmnpqrstvwxz])h", ""),  # kh, zh, sh, ch, th, dh lose their h
        (r"z", "s"),
        (r"ei|ai|ay", "ai"),
        (r"(.)\1+", r"\1"),
    ))
# Whole-token variants the folds cannot reach.
_ROMAN_TOKENS = {
    "ibn": "bin", "ben": "bin", "binti": "bint", "el": "al", "ul": "al",
    **dict.fromkeys(("mohammed", "mohamed", "mohammad", "mohamad", "muhammed", "muhamed",
                     "muhammad", "muhamad", "mouhamed", "mohamud", "mohd"), "muhamad"),
}


@lru_cache(maxsize=262144)
def romanised(token: str) -> str:
    """The romanisation skeleton of a normalised token (see the module docstring)."""
    fixed = _ROMAN_TOKENS.get(token)
    if fixed is not None or not token.isalpha():
        return fixed or token
    for pattern, repl in _ROMAN_STEPS:
        token = pattern.sub(repl, token)
    return token


_VOWELS = str.maketrans("", "", "aeiou")


def same_romanisation(a: str, b: str) -> bool:
    """Whether two tokens are one name in two romanisations: equal `romanised` keys —
    and, when one has 3 letters or fewer (Chinese and Korean syllables: `jin` is not
    `yin`, `wu` is not `vu`), the same consonants (`eun` ~ `un`) or a table variant
    (`ibn` ~ `bin`)."""
    ra = romanised(a)
    if len(ra) < 2 or ra != romanised(b):
        return False
    if min(len(a), len(b)) >= 4 or a in _ROMAN_TOKENS or b in _ROMAN_TOKENS:
        return True
    return a.translate(_VOWELS) == b.translate(_VOWELS)


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

    @property
    def compact_romanised(self) -> str:
        """The tokens' romanisation keys joined: `teng hsiao ping` ~ `deng xiaoping`."""
        return "".join(romanised(t) for t in self.tokens)


def name_form(name: str, organisation: bool, vessel: bool = False) -> NameForm:
    """Normalise a name. `organisation` selects the legal-form table instead of dropping
    honorifics; `vessel` drops a type prefix (`MV`, `M/T`). A name that is nothing but
    noise keeps its tokens rather than vanishing."""
    return _name_form(name, organisation, vessel)


@lru_cache(maxsize=65536)
def _name_form(name: str, organisation: bool, vessel: bool) -> NameForm:
    if vessel:
        name = _VESSEL_PREFIX.sub("", name, count=1)
    if organisation:  # dotted abbreviations are one word in a company name: S.A. = sa
        name = _DOTTED.sub(lambda m: m.group().replace(".", ""), name)
    text = ascii_text(name)
    if organisation:
        for phrase, short in _LEGAL_PHRASES:
            text = phrase.sub(short, text)
    raw = text.split()
    if not organisation and not vessel:
        raw = _split_abd(raw)
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


def _split_abd(raw: list[str]) -> list[str]:
    """`abdelaziz` / `abdul aziz` / `abd al aziz` → `abd` (`aziz`), one spelling."""
    out: list[str] = []
    for tok in raw:
        if tok in _ABD_ALONE:
            out.append("abd")
            continue
        m = _ABD.match(tok) if tok not in _ABD_WHOLE else None
        if m is not None:
            out.extend(("abd", m.group(1)))
        else:
            out.append(tok)
    return out


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
