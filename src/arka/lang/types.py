"""Static types of the expression language.

Types are gradual: `ANY` (unknown) is compatible with everything and stops follow-on errors;
`NULL` is compatible with everything because every value may be null at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from arka.base.values import with_article


@dataclass(frozen=True, slots=True)
class Type:
    kind: str  # any null boolean decimal string datetime date duration list object function
    elem: Type | None = None  # list element type
    fields: tuple[tuple[str, Type], ...] | None = None  # known object fields; None = open
    closed: bool = False  # object: fields other than `fields` do not exist
    arity: int = 0  # function (lambda) arity
    ret: Type | None = field(default=None, compare=False)
    # Where a value of this type comes from when that is an input: the field path
    # (`transaction`, `history[]`, `customer.address`). A field read below it that no
    # schema declares is an untyped read, which validation reports as a warning.
    origin: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        if self.kind == "list" and self.elem is not None and self.elem.kind != "any":
            return f"list<{self.elem}>"
        if self.kind == "function":
            return f"lambda/{self.arity}"
        return self.kind

    @property
    def a(self) -> str:
        """The type as a phrase for messages, with its article: `an object`, `a list<decimal>`."""
        return with_article(str(self))

    def field_type(self, name: str) -> Type | None:
        """Type of a known field; None when the object is closed and lacks it."""
        if self.fields is None:
            return ANY
        for k, t in self.fields:
            if k == name:
                return t
        return None if self.closed else ANY


ANY = Type("any")
NULL = Type("null")
BOOLEAN = Type("boolean")
DECIMAL = Type("decimal")
STRING = Type("string")
DATETIME = Type("datetime")
DATE = Type("date")
DURATION = Type("duration")
OBJECT = Type("object")
LIST = Type("list", elem=ANY)


def list_of(t: Type) -> Type:
    return Type("list", elem=t)


def object_of(fields: dict[str, Type] | None, closed: bool = True,
              origin: str | None = None) -> Type:
    if fields is None:
        return Type("object", origin=origin) if origin else OBJECT
    return Type("object", fields=tuple(sorted(fields.items())), closed=closed, origin=origin)


def from_input(t: Type, origin: str) -> Type:
    """`t` marked as read from the input field `origin` (lists mark their elements)."""
    if t.kind == "list":
        return Type("list", elem=from_input(t.elem or ANY, f"{origin}[]"), origin=origin)
    if t.kind in ("any", "object"):
        return Type(t.kind, t.elem, t.fields, t.closed, t.arity, t.ret, origin)
    return t


def function(arity: int, ret: Type = ANY) -> Type:
    return Type("function", arity=arity, ret=ret)


SCHEMA_TYPES = {
    "string": STRING, "decimal": DECIMAL, "number": DECIMAL, "integer": DECIMAL,
    "boolean": BOOLEAN, "datetime": DATETIME, "date": DATE, "duration": DURATION,
    "array": LIST, "object": OBJECT, "any": ANY,
}


def is_known(t: Type) -> bool:
    return t.kind not in ("any", "null")


def compatible(actual: Type, expected: Type) -> bool:
    """Can a value of static type `actual` be used where `expected` is wanted?"""
    if not is_known(actual) or not is_known(expected):
        return True
    if actual.kind != expected.kind:
        return False
    if actual.kind == "list" and actual.elem and expected.elem:
        return compatible(actual.elem, expected.elem)
    if actual.kind == "function":
        return actual.arity == expected.arity
    return True


def join(a: Type, b: Type) -> Type:
    """The type of a value that is either `a` or `b` (if/case branches)."""
    if a.kind == "null":
        return b
    if b.kind == "null":
        return a
    if a == b:
        return a
    if a.kind == b.kind == "list":
        return list_of(join(a.elem or ANY, b.elem or ANY) if (a.elem and b.elem and
                       a.elem.kind == b.elem.kind) else ANY)
    if a.kind == b.kind:
        return Type(a.kind) if a.kind != "object" else OBJECT
    return ANY
