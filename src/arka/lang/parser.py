"""Lexer and Pratt parser for the expression language (`docs/language.md`).

Every token and node carries a file span computed through an `Origin`, which maps an
offset inside the expression text back to the rule file (block scalars, quoted strings).

Depth is bounded so that nothing that walks a tree recursively (checker, code generator,
reference evaluator) can run out of Python stack: nesting through parentheses, brackets,
arguments, branches, lambdas and prefix operators, and the height of the finished tree,
are each at most `MAX_NESTING` (`E_NESTING`, at the place the limit is crossed). Runs of
one binary operator level (`a OR b OR ...`, `a + b - ...`) are n-ary nodes and cost one
level however long they are; the expression text is at most `MAX_EXPRESSION_LENGTH`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from arka.base.errors import Diagnostic, Span
from arka.lang import ast

MAX_NESTING = 64
MAX_EXPRESSION_LENGTH = 64 * 1024

KEYWORDS = {
    "if", "then", "else", "case", "when", "end", "in", "true", "false", "null",
    "and", "or", "not", "AND", "OR", "NOT",
}
_WORD_OPS = {"AND": "and", "OR": "or", "NOT": "not"}
_SYMBOLS = ("=>", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[",
            "]", "{", "}", ",", ".", ":")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0",
            "$": "$"}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where expression text sits in its file.

    `line`/`column` locate the first character; continuation lines start at
    `continuation_column` (the block scalar's indentation + 1).
    """

    file: str
    line: int = 1
    column: int = 1
    continuation_column: int = 1

    def span(self, text: str, offset: int) -> Span:
        before = text[:offset]
        nl = before.count("\n")
        if nl == 0:
            return Span(self.file, self.line, self.column + offset)
        return Span(self.file, self.line + nl,
                    self.continuation_column + offset - before.rfind("\n") - 1)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "num", "str", "name", "kw", "op", "eof"
    value: str
    offset: int
    parsed: object = None


class SyntaxFault(Exception):
    """A parse error at `offset` in the expression text, or at `span` when the parser
    already knows the file position (a node of the finished tree)."""

    def __init__(self, offset: int, message: str, code: str = "E_SYNTAX",
                 span: Span | None = None):
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.code = code
        self.span = span


def _nesting_message() -> str:
    return (f"expression nested deeper than {MAX_NESTING} levels; split it into `let` "
            "definitions")


_DIGITS = frozenset("0123456789")
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_CHARS = _IDENT_START | _DIGITS


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c == "#":  # comment to end of line
            while i < n and text[i] != "\n":
                i += 1
            continue
        start = i
        if c in _DIGITS:
            while i < n and text[i] in _DIGITS:
                i += 1
            if i + 1 < n and text[i] == "." and text[i + 1] in _DIGITS:
                i += 1
                while i < n and text[i] in _DIGITS:
                    i += 1
            if i < n and text[i] in "eE":
                j = i + 1
                if j < n and text[j] in "+-":
                    j += 1
                if j < n and text[j] in _DIGITS:
                    i = j
                    while i < n and text[i] in _DIGITS:
                        i += 1
            if i < n and text[i] in _IDENT_START:
                raise SyntaxFault(i, f"unexpected {text[i]!r} after number")
            lexeme = text[start:i]
            tokens.append(Token("num", lexeme, start, Decimal(lexeme)))
            continue
        if c in _IDENT_START:
            while i < n and text[i] in _IDENT_CHARS:
                i += 1
            word = text[start:i]
            tokens.append(Token("kw" if word in KEYWORDS else "name", _WORD_OPS.get(word, word),
                                start))
            continue
        if c in "\"'":
            quote, i, buf = c, i + 1, []
            while True:
                if i >= n:
                    raise SyntaxFault(start, "unterminated string literal; close it with " + quote)
                ch = text[i]
                if ch == quote:
                    i += 1
                    break
                if ch == "\n":
                    raise SyntaxFault(start, "string literal runs past the end of the line")
                if ch == "\\":
                    if i + 1 >= n:
                        raise SyntaxFault(i, "unterminated escape sequence")
                    esc = text[i + 1]
                    if esc == "u" and i + 5 < n + 0 and all(
                            h in "0123456789abcdefABCDEF" for h in text[i + 2:i + 6]) and \
                            len(text[i + 2:i + 6]) == 4:
                        buf.append(chr(int(text[i + 2:i + 6], 16)))
                        i += 6
                        continue
                    # Other escapes keep their backslash, so regex classes like \d work.
                    buf.append(_ESCAPES.get(esc, "\\" + esc))
                    i += 2
                    continue
                buf.append(ch)
                i += 1
            tokens.append(Token("str", text[start:i], start, "".join(buf)))
            continue
        for sym in _SYMBOLS:
            if text.startswith(sym, i):
                tokens.append(Token("op", sym, start))
                i += len(sym)
                break
        else:
            hint = " (use AND / OR)" if c in "&|" else " (use != or NOT)" if c == "!" else ""
            raise SyntaxFault(i, f"unexpected character {c!r}{hint}")
    tokens.append(Token("eof", "", len(text.rstrip())))
    return tokens


_COMPARISON_LEVEL, _NOT_LEVEL, _NEG_LEVEL = 4, 3, 7
_LEVELS = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4,
           "not in": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}


@dataclass(slots=True)
class _Pending:
    """An operator waiting for its right side: a prefix (`not`, `-`), or a run of binary
    operators of one precedence level with the operands read so far."""

    level: int
    span: Span
    prefix: str | None = None
    operands: list[ast.Node] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    def add(self, operand: ast.Node, op: str, span: Span) -> None:
        self.operands.append(operand)
        self.ops.append(op)
        self.spans.append(span)

    def finish(self, last: ast.Node) -> ast.Node:
        if self.prefix == "-":
            if isinstance(last, ast.Literal) and isinstance(last.value, Decimal):
                return ast.Literal(self.span, -last.value if last.value else last.value)
            return ast.Unary(self.span, "-", last)
        if self.prefix is not None:
            return ast.Unary(self.span, self.prefix, last)
        operands = (*self.operands, last)
        if self.level == _COMPARISON_LEVEL:
            return ast.Binary(self.span, self.ops[0], operands[0], operands[1])
        if self.level < _NOT_LEVEL:
            return ast.Logical(self.span, self.ops[0], operands, tuple(self.spans))
        return ast.Arithmetic(self.span, tuple(self.ops), operands, tuple(self.spans))


class Parser:
    def __init__(self, text: str, origin: Origin):
        self.text = text
        self.origin = origin
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    # -- helpers
    def span(self, tok: Token) -> Span:
        return self.origin.span(self.text, tok.offset)

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.pos + k, len(self.tokens) - 1)]

    def at(self, kind: str, value: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (value is None or t.value == value)

    def accept(self, kind: str, value: str | None = None) -> Token | None:
        if self.at(kind, value):
            t = self.tok
            self.pos += 1
            return t
        return None

    def expect(self, kind: str, value: str, what: str) -> Token:
        t = self.accept(kind, value)
        if t is None:
            raise SyntaxFault(self.tok.offset, f"expected {value!r} {what}, found {self.describe()}")
        return t

    def describe(self) -> str:
        t = self.tok
        return "end of expression" if t.kind == "eof" else repr(t.value)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise SyntaxFault(self.tok.offset, _nesting_message(), "E_NESTING")

    # -- grammar
    def parse(self) -> ast.Node:
        if self.at("eof"):
            raise SyntaxFault(0, "empty expression")
        node = self.expression()
        if not self.at("eof"):
            raise SyntaxFault(self.tok.offset, f"unexpected {self.describe()} after expression")
        # Runs of postfix operators (`.a.b[0].f()`) and mixed operators nest without
        # recursing here; bound the finished tree too, so every later walk is shallow.
        deep = ast.too_deep(node, MAX_NESTING)
        if deep is not None:
            raise SyntaxFault(0, _nesting_message(), "E_NESTING", deep.span)
        return node

    def expression(self) -> ast.Node:
        self.enter()
        try:
            lam = self.try_lambda()
            if lam is not None:
                return lam
            return self.operators()
        finally:
            self.depth -= 1

    def try_lambda(self) -> ast.Node | None:
        t = self.tok
        if t.kind == "name" and self.peek().kind == "op" and self.peek().value == "=>":
            self.pos += 2
            return ast.Lambda(self.span(t), (t.value,), self.expression())
        if t.kind == "op" and t.value == "(":
            k = 1
            params: list[str] = []
            while True:
                p = self.peek(k)
                if p.kind == "op" and p.value == ")" and not params and k == 1:
                    break
                if p.kind != "name":
                    return None
                params.append(p.value)
                sep = self.peek(k + 1)
                if sep.kind == "op" and sep.value == ",":
                    k += 2
                    continue
                if sep.kind == "op" and sep.value == ")":
                    k += 1
                    break
                return None
            arrow = self.peek(k + 1)
            if not (arrow.kind == "op" and arrow.value == "=>"):
                return None
            if len(set(params)) != len(params):
                raise SyntaxFault(t.offset, "lambda parameters must have distinct names")
            self.pos += k + 2
            return ast.Lambda(self.span(t), tuple(params), self.expression())
        return None

    def operators(self) -> ast.Node:
        """OR down to unary minus by operator precedence, with an explicit stack of the
        operators still waiting for their right side: a run of 10,000 `+` or `OR` costs no
        recursion and becomes one n-ary node (`ast.Arithmetic`, `ast.Logical`)."""
        pending: list[_Pending] = []
        prefixes = 0
        try:
            while True:
                while True:  # prefix operators, innermost last
                    t = self.tok
                    if t.kind == "kw" and t.value == "not":
                        if pending and pending[-1].level > _NOT_LEVEL:
                            raise SyntaxFault(t.offset, "unexpected keyword 'not' (NOT applies "
                                              "to a whole comparison; put it in parentheses)")
                        level = _NOT_LEVEL
                    elif t.kind == "op" and t.value == "-":
                        level = _NEG_LEVEL
                    else:
                        break
                    self.pos += 1
                    self.enter()
                    prefixes += 1
                    pending.append(_Pending(level, self.span(t), t.value))
                operand = self.postfix()
                t = self.tok
                op = self.binary_operator()
                level = _LEVELS[op] if op is not None else 0
                while pending and pending[-1].level > level:
                    done = pending.pop()
                    operand = done.finish(operand)
                    if done.prefix is not None:  # its operand is complete: one level less
                        self.depth -= 1
                        prefixes -= 1
                if op is None:
                    return operand
                top = pending[-1] if pending else None
                if top is not None and top.level == level and top.prefix is None:
                    if level == _COMPARISON_LEVEL:
                        raise SyntaxFault(t.offset, "comparisons do not chain; join them with AND")
                    top.add(operand, op, self.span(t))
                else:
                    pending.append(_Pending(level, self.span(t), None, [operand], [op],
                                            [self.span(t)]))
        finally:
            self.depth -= prefixes

    def binary_operator(self) -> str | None:
        """The binary operator at the current token (consumed), or None."""
        t = self.tok
        if t.kind == "op" and t.value in _LEVELS:
            self.pos += 1
            return t.value
        if t.kind == "kw" and t.value in ("or", "and", "in"):
            self.pos += 1
            return t.value
        if t.kind == "kw" and t.value == "not" and self.peek().kind == "kw" and \
                self.peek().value == "in":
            self.pos += 2
            return "not in"
        return None

    def postfix(self) -> ast.Node:
        node = self.primary()
        while True:
            t = self.tok
            if t.kind == "op" and t.value == ".":
                self.pos += 1
                name = self.tok
                if name.kind not in ("name", "kw"):
                    raise SyntaxFault(name.offset, f"expected a field name after '.', found "
                                                   f"{self.describe()}")
                self.pos += 1
                if self.at("op", "("):
                    args, kwargs = self.arguments()
                    node = self.method_call(node, name, args, kwargs)
                else:
                    node = ast.Field(self.span(name), node, name.value)
            elif t.kind == "op" and t.value == "[":
                self.pos += 1
                index = self.expression()
                self.expect("op", "]", "to close the index")
                node = ast.Index(self.span(t), node, index)
            elif t.kind == "op" and t.value == "(":
                raise SyntaxFault(t.offset, "only named functions can be called")
            else:
                return node

    def method_call(self, recv: ast.Node, name: Token, args: tuple[ast.Node, ...],
                    kwargs: tuple[tuple[str, ast.Node], ...]) -> ast.Node:
        # plugin.<name>.<function>(args)
        if isinstance(recv, ast.Field) and isinstance(recv.obj, ast.Name) and \
                recv.obj.name == "plugin":
            return ast.PluginCall(recv.obj.span, recv.name, name.value, args, kwargs)
        return ast.Call(self.span(name), name.value, (recv,) + args, kwargs, method=True)

    def arguments(self) -> tuple[tuple[ast.Node, ...], tuple[tuple[str, ast.Node], ...]]:
        self.expect("op", "(", "to start the arguments")
        args: list[ast.Node] = []
        kwargs: list[tuple[str, ast.Node]] = []
        while not self.at("op", ")"):
            t = self.tok
            if t.kind == "name" and self.peek().kind == "op" and self.peek().value == ":":
                self.pos += 2
                if any(k == t.value for k, _ in kwargs):
                    raise SyntaxFault(t.offset, f"argument {t.value!r} given twice")
                kwargs.append((t.value, self.expression()))
            else:
                if kwargs:
                    raise SyntaxFault(t.offset, "positional argument after a named argument")
                args.append(self.expression())
            if not self.accept("op", ","):
                break
        self.expect("op", ")", "to close the argument list")
        return tuple(args), tuple(kwargs)

    def primary(self) -> ast.Node:
        t = self.tok
        sp = self.span(t)
        if t.kind == "num":
            self.pos += 1
            return ast.Literal(sp, t.parsed)
        if t.kind == "str":
            self.pos += 1
            return ast.Literal(sp, t.parsed)
        if t.kind == "kw":
            if t.value in ("true", "false", "null"):
                self.pos += 1
                return ast.Literal(sp, {"true": True, "false": False, "null": None}[t.value])
            if t.value == "if":
                return self.if_expr()
            if t.value == "case":
                return self.case_expr()
            raise SyntaxFault(t.offset, f"unexpected keyword {t.value!r}")
        if t.kind == "name":
            self.pos += 1
            if self.at("op", "("):
                args, kwargs = self.arguments()
                return ast.Call(sp, t.value, args, kwargs)
            return ast.Name(sp, t.value)
        if t.kind == "op":
            if t.value == "(":
                self.pos += 1
                inner = self.expression()
                self.expect("op", ")", "to close the parenthesis")
                return inner
            if t.value == "[":
                self.pos += 1
                items: list[ast.Node] = []
                while not self.at("op", "]"):
                    items.append(self.expression())
                    if not self.accept("op", ","):
                        break
                self.expect("op", "]", "to close the list")
                return ast.ListLit(sp, tuple(items))
            if t.value == "{":
                self.pos += 1
                pairs: list[tuple[str, ast.Node]] = []
                while not self.at("op", "}"):
                    k = self.tok
                    if k.kind == "name" or k.kind == "kw":
                        key = k.value
                    elif k.kind == "str":
                        key = str(k.parsed)
                    else:
                        raise SyntaxFault(k.offset, f"expected an object key, found {self.describe()}")
                    if any(key == p for p, _ in pairs):
                        raise SyntaxFault(k.offset, f"duplicate object key {key!r}")
                    self.pos += 1
                    self.expect("op", ":", "after the object key")
                    pairs.append((key, self.expression()))
                    if not self.accept("op", ","):
                        break
                self.expect("op", "}", "to close the object")
                return ast.ObjectLit(sp, tuple(pairs))
        raise SyntaxFault(t.offset, f"expected an expression, found {self.describe()}")

    def if_expr(self) -> ast.Node:
        t = self.expect("kw", "if", "")
        cond = self.expression()
        self.expect("kw", "then", "after the if condition")
        then = self.expression()
        self.expect("kw", "else", "(every if needs an else branch)")
        # `else if` chains parse naturally: the else branch is an expression.
        orelse = self.expression()
        return ast.If(self.span(t), cond, then, orelse)

    def case_expr(self) -> ast.Node:
        t = self.expect("kw", "case", "")
        subject = None if self.at("kw", "when") else self.expression()
        whens: list[tuple[ast.Node, ast.Node]] = []
        while self.accept("kw", "when"):
            value = self.expression()
            self.expect("kw", "then", "after the when value")
            whens.append((value, self.expression()))
        if not whens:
            raise SyntaxFault(self.tok.offset, "case needs at least one `when ... then ...`")
        default = self.expression() if self.accept("kw", "else") else None
        self.expect("kw", "end", "to close the case")
        return ast.Case(self.span(t), subject, tuple(whens), default)


def parse_expression(text: str, origin: Origin) -> ast.Node:
    """Parse one expression; raises SyntaxFault (with offset) on the first error."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise SyntaxFault(0, f"expression longer than {MAX_EXPRESSION_LENGTH} characters",
                          "E_TOO_LARGE")
    return Parser(text, origin).parse()


def parse_or_diagnose(text: str, origin: Origin) -> ast.Node | Diagnostic:
    try:
        return parse_expression(text, origin)
    except SyntaxFault as fault:
        return Diagnostic(fault.code, fault.span or origin.span(text, fault.offset),
                          fault.message)


def parse_template(text: str, origin: Origin) -> ast.Node | Diagnostic:
    """A string value: plain text, or text with `${expr}` parts (an Interpolation node).

    A string that is exactly one `${expr}` keeps the expression's own value and type.
    """
    if "${" not in text:
        return ast.Literal(origin.span(text, 0), text)
    stripped = text.strip()
    if stripped.startswith("${") and stripped.endswith("}") and stripped != text:
        # `|` block scalars end in a newline; a lone `${expr}` keeps its typed value.
        lead = len(text) - len(text.lstrip())
        whole = parse_template(stripped, _shifted(origin, text, lead))
        if not isinstance(whole, ast.Interpolation):
            return whole
    parts: list[str | ast.Node] = []
    i = 0
    while True:
        j = text.find("${", i)
        if j < 0:
            if text[i:]:
                parts.append(text[i:])
            break
        if j > i:
            parts.append(text[i:j])
        depth, k = 1, j + 2
        quote: str | None = None
        while k < len(text) and depth:
            ch = text[k]
            if quote:
                if ch == "\\":
                    k += 1
                elif ch == quote:
                    quote = None
            elif ch in "\"'":
                quote = ch
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            k += 1
        if depth:
            return Diagnostic("E_SYNTAX", origin.span(text, j), "unterminated ${...} in string")
        inner = text[j + 2:k - 1]
        sub_origin = _shifted(origin, text, j + 2)
        node = parse_or_diagnose(inner, sub_origin)
        if isinstance(node, Diagnostic):
            return node
        parts.append(node)
        i = k
    if len(parts) == 1 and isinstance(parts[0], ast.Node):
        return parts[0]
    return ast.Interpolation(origin.span(text, 0), tuple(parts))


def _shifted(origin: Origin, text: str, offset: int) -> Origin:
    sp = origin.span(text, offset)
    return Origin(origin.file, sp.line, sp.column, origin.continuation_column)
