"""Hypothesis strategies for hostile data at the boundary: numbers out of range, deep
nesting, duplicate keys, lone surrogates, YAML alias bombs. Each JSON strategy draws a
`Hostile` case: the text to send, the path the answer must name and the error code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

PLACEHOLDER = "__hostile__"
KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)


@dataclass(frozen=True)
class Hostile:
    text: str  # the JSON (or YAML) text
    path: str  # the path the error must name, e.g. input.transaction.amount
    code: str  # E_NUMBER, E_NESTING, E_DUPLICATE_KEY, E_UNICODE, ...


# ------------------------------------------------------------------ numbers

def _digits(n: int, first: str = "9") -> str:
    return first + "7" * (n - 1)


OUT_OF_RANGE_NUMBERS = st.one_of(
    # exponents past ±60 (the magnitude bound), up to ones that used to cost gigabytes
    st.tuples(st.integers(1, 9), st.sampled_from(["e", "E", "e+", "e-", "E-"]),
              st.integers(61, 10 ** 9)).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
    st.tuples(st.integers(1, 9), st.integers(1, 99), st.integers(62, 999_999_999))
    .map(lambda t: f"{t[0]}.{t[1]}e-{t[2]}"),
    # more than 40 significant digits, as integers and as fractions
    st.integers(41, 100).map(_digits),
    st.integers(41, 99).map(lambda n: "0." + _digits(n, "1")),
    st.integers(41, 60).map(lambda n: "-" + _digits(n, "3") + ".5"),
    # very long literals (quadratic to convert naively)
    st.integers(1_000, 300_000).map(_digits),
    st.integers(1_000, 100_000).map(lambda n: "1" + "0" * n),
    st.integers(100, 100_000).map(lambda n: "0." + "0" * n + "1"),
)
NON_FINITE = st.sampled_from(["NaN", "Infinity", "-Infinity"])
IN_RANGE_NUMBERS = st.one_of(
    st.integers(-(10 ** 40) + 1, 10 ** 40 - 1).map(str),
    st.tuples(st.integers(0, 10 ** 20), st.integers(0, 10 ** 19))
    .map(lambda t: f"{t[0]}.{t[1]:019d}"),
    st.tuples(st.integers(1, 9), st.integers(-60, 60)).map(lambda t: f"{t[0]}e{t[1]}"),
    st.sampled_from(["0", "-0", "0.0", "1e-60", "9.999e60", "123456789.123456789"]),
)


# ------------------------------------------------------------------ nesting a value

@st.composite
def placements(draw: st.DrawFn, max_steps: int = 6) -> tuple[Any, str]:
    """A JSON value with PLACEHOLDER somewhere inside, and the placeholder's path below
    `input` (keys are identifiers, so the path is `a.b[2].c`)."""
    steps = draw(st.lists(st.one_of(KEYS, st.integers(0, 3)), min_size=0, max_size=max_steps))
    value: Any = PLACEHOLDER
    for step in reversed(steps):
        if isinstance(step, int):
            value = [draw(st.integers(0, 9)) for _ in range(step)] + [value]
        else:
            sibling = draw(KEYS.filter(lambda k, s=step: k != s))
            value = {sibling: "benign", step: value} if draw(st.booleans()) else {step: value}
    path = ""
    for step in steps:
        path += f"[{step}]" if isinstance(step, int) else f".{step}"
    return value, path


def _embed(value: Any, literal: str) -> str:
    return json.dumps(value).replace(json.dumps(PLACEHOLDER), literal, 1)


@st.composite
def hostile_number_inputs(draw: st.DrawFn) -> Hostile:
    """An `input` object with one out-of-range or non-finite number somewhere."""
    value, path = draw(placements())
    literal = draw(st.one_of(OUT_OF_RANGE_NUMBERS, NON_FINITE))
    return Hostile(_embed({"tx": value}, literal), "input.tx" + path, "E_NUMBER")


@st.composite
def duplicate_key_inputs(draw: st.DrawFn) -> Hostile:
    value, path = draw(placements())
    key = draw(KEYS)
    first, second = draw(st.integers(0, 9)), draw(st.integers(0, 9))
    literal = f'{{"{key}": {first}, "other": true, "{key}": {second}}}'
    return Hostile(_embed({"tx": value}, literal), f"input.tx{path}.{key}",
                   "E_DUPLICATE_KEY")


@st.composite
def unicode_inputs(draw: st.DrawFn) -> Hostile:
    """A lone surrogate escape in a value or a key, or NUL in a key."""
    value, path = draw(placements())
    unit = draw(st.integers(0xD800, 0xDFFF))
    escape = f"\\u{unit:04x}"
    kind = draw(st.sampled_from(["value", "key", "nul-key", "pair-then-lone"]))
    if kind == "value":
        return Hostile(_embed({"tx": value}, f'"ab{escape}cd"'), "input.tx" + path,
                       "E_UNICODE")
    if kind == "pair-then-lone":  # a valid pair first: only the lone one is refused
        return Hostile(_embed({"tx": value}, f'"\\ud83d\\ude00 {escape}"'),
                       "input.tx" + path, "E_UNICODE")
    key = f"k{escape}" if kind == "key" else "k\\u0000"
    shown = json.dumps(json.loads(f'"{key}"'), ensure_ascii=True)
    return Hostile(_embed({"tx": value}, f'{{"{key}": 1}}'), f"input.tx{path}[{shown}]",
                   "E_UNICODE")


@st.composite
def deep_json(draw: st.DrawFn, min_depth: int = 65, max_depth: int = 5000) -> str:
    """JSON nested `depth` lists/objects deep (mixed), as text."""
    depth = draw(st.integers(min_depth, max_depth))
    kinds = draw(st.lists(st.booleans(), min_size=1, max_size=8))
    opens, closes = [], []
    for i in range(depth):
        if kinds[i % len(kinds)]:
            opens.append("[")
            closes.append("]")
        else:
            opens.append('{"k": ')
            closes.append("}")
    return "".join(opens) + "1" + "".join(reversed(closes))


# ------------------------------------------------------------------ YAML documents

RULE_HEAD = "rule:\n  metadata: {name: hostile, version: 1.0.0}\n"


@st.composite
def alias_bombs(draw: st.DrawFn) -> str:
    """A small YAML text whose aliases expand to more than 100,000 values."""
    fan = draw(st.integers(4, 12))
    levels = draw(st.integers(3, 9))
    while fan ** levels <= 200_000:
        levels += 1
    leaf = draw(st.sampled_from(['"x"', "1", "lol", "[a, b]", "{k: v}"]))
    style = draw(st.sampled_from(["list", "map"]))
    lines = []
    for level in range(levels):
        items = [leaf] * fan if level == 0 else [f"*a{level - 1}"] * fan
        if style == "list":
            body = "[" + ", ".join(items) + "]"
        else:
            body = "{" + ", ".join(f"k{i}: {x}" for i, x in enumerate(items)) + "}"
        lines.append(f"  x{level}: &a{level} {body}")
    head = draw(st.sampled_from([RULE_HEAD, "table:\n  name: t\n", "ruleset:\n  name: r\n",
                                 "tests:\n"]))
    return head + "\n".join(lines) + "\n"


@st.composite
def deep_yaml(draw: st.DrawFn) -> str:
    depth = draw(st.integers(65, 900))
    style = draw(st.sampled_from(["flow-list", "flow-map", "block-map", "block-list"]))
    if style == "flow-list":
        body = "[" * depth + "]" * depth
    elif style == "flow-map":
        body = "{a: " * depth + "1" + "}" * depth
    elif style == "block-map":
        return RULE_HEAD + "".join(f"{'  ' * (i + 1)}k{i}:\n" for i in range(depth)) + \
            "  " * (depth + 1) + "v\n"
    else:
        return RULE_HEAD + "  deep:\n" + "".join(f"{'  ' * (i + 2)}-\n" for i in range(depth))
    return RULE_HEAD + f"  deep: {body}\n"


@st.composite
def yaml_numbers(draw: st.DrawFn) -> str:
    """A rule or table document with one out-of-range number (YAML reads `1e5` as text,
    so exponents are written the YAML way: 1.0e+N)."""
    literal = draw(st.one_of(
        st.integers(61, 10 ** 9).map(lambda n: f"1.0e+{n}"),
        st.integers(61, 10 ** 9).map(lambda n: f"1.5e-{n}"),
        st.integers(41, 100_000).map(_digits),
        st.integers(41, 90).map(lambda n: "0." + _digits(n, "1")),
    ))
    if draw(st.booleans()):
        return ("table:\n  name: rates\n  version: 1.0.0\n  kind: fx_rate\n  rows:\n"
                f"    - {{from: EUR, to: USD, rate: {literal}, effective_date: 2024-01-01}}\n")
    return RULE_HEAD + f"  limits: {{amount: {literal}}}\n"
