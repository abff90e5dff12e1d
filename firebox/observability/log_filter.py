"""CloudWatch Logs filter patterns (FilterLogEvents' `filterPattern`), compiled to a predicate on a message.

Two forms, both case-sensitive as CloudWatch's:

- Terms: `ERROR timeout` (every term appears in the message), `"exact phrase"`, `?ERROR ?WARN` (at least one of
  the `?` terms), `-DEBUG` (the term does not appear; `-"a phrase"` too). An empty pattern matches everything.
- JSON: `{ $.level = "error" }`, `{ $.latency > 100 && $.path != "/health" }`, with `=`, `!=`, `<`, `<=`, `>`,
  `>=`, `&&`, `||` and parentheses; `$.a.b` walks nested objects, `$.list[0]` indexes arrays. Only messages that
  parse as a JSON object can match; a string value may end with `*` to match a prefix.

Anything else (space-delimited `[a, b]` patterns, unbalanced quotes, a dangling operator) is refused with
`InvalidParameterException("Invalid filter pattern")`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from firebox.errors import InvalidParameterException

Predicate = Callable[[str], bool]

_INVALID = "Invalid filter pattern"
_MISSING = object()


def compile_pattern(pattern: str | None) -> Predicate:
    """The predicate `pattern` describes; raises InvalidParameterException when it is not a valid pattern."""
    text = (pattern or "").strip()
    if not text:
        return _always
    if text.startswith("{"):
        return _compile_json(text)
    if text.startswith("["):
        raise InvalidParameterException(_INVALID)
    return _compile_terms(text)


def _always(_: str) -> bool:
    return True


# terms


def _compile_terms(text: str) -> Predicate:
    required: list[str] = []
    any_of: list[str] = []
    excluded: list[str] = []
    for prefix, term in _split_terms(text):
        {"": required, "?": any_of, "-": excluded}[prefix].append(term)

    def matches(message: str) -> bool:
        return (
            all(term in message for term in required)
            and (not any_of or any(term in message for term in any_of))
            and not any(term in message for term in excluded)
        )

    return matches


def _split_terms(text: str) -> list[tuple[str, str]]:
    """(prefix, term) pairs: prefix is '', '?' or '-'; quoted phrases come back without their quotes."""
    terms: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        prefix = ""
        if text[i] in "?-" and i + 1 < len(text) and not text[i + 1].isspace():
            prefix, i = text[i], i + 1
        if text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0 or end == i + 1:
                raise InvalidParameterException(_INVALID)
            term, i = text[i + 1 : end], end + 1
            if i < len(text) and not text[i].isspace():
                raise InvalidParameterException(_INVALID)
        else:
            start = i
            while i < len(text) and not text[i].isspace():
                if text[i] == '"':
                    raise InvalidParameterException(_INVALID)
                i += 1
            term = text[start:i]
        terms.append((prefix, term))
    return terms


# JSON

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<selector>\$(?:\.[A-Za-z_@][\w@-]*|\[\d+\])*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<word>true|false|null|NULL|TRUE|FALSE)
      | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
    )""",
    re.VERBOSE,
)
_STEP = re.compile(r"\.([A-Za-z_@][\w@-]*)|\[(\d+)\]")
_COMPARISONS = {"=", "!=", "<", "<=", ">", ">="}


def _compile_json(text: str) -> Predicate:
    if not text.endswith("}"):
        raise InvalidParameterException(_INVALID)
    tokens = _tokenize(text[1:-1])
    if not tokens:
        raise InvalidParameterException(_INVALID)
    parser = _JsonParser(tokens)
    test = parser.expression()
    if parser.pos != len(tokens):
        raise InvalidParameterException(_INVALID)

    def matches(message: str) -> bool:
        stripped = message.strip()
        if not stripped.startswith("{"):
            return False
        try:
            doc = json.loads(stripped)
        except ValueError:
            return False
        return isinstance(doc, dict) and test(doc)

    return matches


def _tokenize(body: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        match = _TOKEN.match(body, pos)
        if match is None or match.lastgroup is None:
            raise InvalidParameterException(_INVALID)
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return tokens


JsonTest = Callable[[Any], bool]


class _JsonParser:
    """Recursive descent over `or := and ('||' and)*`, `and := atom ('&&' atom)*`, `atom := '(' or ')' | cmp`."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise InvalidParameterException(_INVALID)
        self.pos += 1
        return token

    def expression(self) -> JsonTest:
        parts = [self._conjunction()]
        while self._peek() == ("op", "||"):
            self.pos += 1
            parts.append(self._conjunction())
        return parts[0] if len(parts) == 1 else lambda doc: any(part(doc) for part in parts)

    def _conjunction(self) -> JsonTest:
        parts = [self._atom()]
        while self._peek() == ("op", "&&"):
            self.pos += 1
            parts.append(self._atom())
        return parts[0] if len(parts) == 1 else lambda doc: all(part(doc) for part in parts)

    def _atom(self) -> JsonTest:
        kind, value = self._take()
        if (kind, value) == ("op", "("):
            inner = self.expression()
            if self._take() != ("op", ")"):
                raise InvalidParameterException(_INVALID)
            return inner
        if kind != "selector":
            raise InvalidParameterException(_INVALID)
        path = [(m.group(1), m.group(2)) for m in _STEP.finditer(value[1:])]
        op_kind, op = self._take()
        if op_kind != "op" or op not in _COMPARISONS:
            raise InvalidParameterException(_INVALID)
        literal_kind, literal = self._take()
        return _comparison(path, op, literal_kind, literal)


def _comparison(path: list[tuple[str, str]], op: str, kind: str, literal: str) -> JsonTest:
    if kind == "number":
        number = float(literal)
        compare = _numeric(op, number)
        return lambda doc: compare(_select(doc, path))
    if kind == "string":
        if op not in ("=", "!="):
            raise InvalidParameterException(_INVALID)
        expected: str = json.loads(literal)
        prefix = expected.endswith("*")

        def equal(value: Any) -> bool:
            if not isinstance(value, str):
                return False
            return value.startswith(expected[:-1]) if prefix else value == expected

        if op == "=":
            return lambda doc: equal(_select(doc, path))
        return lambda doc: (value := _select(doc, path)) is not _MISSING and not equal(value)
    if kind == "word" and op in ("=", "!="):
        constant = {"true": True, "false": False, "null": None}[literal.lower()]

        def same(value: Any) -> bool:
            return value is constant if constant is None or isinstance(value, bool) else False

        if op == "=":
            return lambda doc: same(_select(doc, path))
        return lambda doc: (value := _select(doc, path)) is not _MISSING and not same(value)
    raise InvalidParameterException(_INVALID)


def _numeric(op: str, number: float) -> JsonTest:
    tests: dict[str, Callable[[float], bool]] = {
        "=": lambda v: v == number,
        "!=": lambda v: v != number,
        "<": lambda v: v < number,
        "<=": lambda v: v <= number,
        ">": lambda v: v > number,
        ">=": lambda v: v >= number,
    }
    test = tests[op]

    def compare(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return test(float(value))

    return compare


def _select(doc: Any, path: list[tuple[str, str]]) -> Any:
    """The value at `path` in `doc`, or `_MISSING`."""
    for key, index in path:
        if key is not None and isinstance(doc, dict) and key in doc:
            doc = doc[key]
        elif index is not None and isinstance(doc, list) and int(index) < len(doc):
            doc = doc[int(index)]
        else:
            return _MISSING
    return doc
