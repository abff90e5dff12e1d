"""The leaf level of EventBridge's event-pattern language: what may sit in a field's array, and how it tests a value.

A field's array (`"state": ["running", {"prefix": "stop"}, {"exists": false}]`) is compiled by `compile_leaf` into a
`Leaf`: one `test` for the field's values (any element matching is enough) and whether the field's absence also
matches (`{"exists": false}`). `firebox.expressions.patterns` walks the objects around the leaves.

Semantics, as EventBridge's matcher (aws/event-ruler, whose messages `InvalidEventPattern` repeats) has them:
- exact values keep their JSON type: `"5"` never matches `5`, `true` never matches `1`, `null` is its own value;
  numbers compare as numbers (`5` matches `5.0`); a string that is an IP address also matches the same address
  written differently;
- prefix, suffix, equals-ignore-case, wildcard and cidr only ever match strings, numeric only numbers (not booleans);
- anything-but matches every present value except the excluded ones, whatever its type (`null` included): a string
  exclusion never excludes a number, a numeric one never a string;
- wildcard `*` matches any run of characters; `\\*` is a literal star, `\\\\` a backslash, `**` and any other
  escape are refused.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

Test = Callable[[Any], bool]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REASON_PREFIX: Final = "Event pattern is not valid. Reason: "
ONE_KEY: Final = "Only one key allowed in match expression"
TOO_MANY: Final = "Too many elements in numeric expression"
TOO_COMPLEX: Final = (
    "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a "
    "wildcard character"
)
MAX_WILDCARDS: Final = 5
"""EventBridge refuses wildcard values it finds too complex; it does not publish its measure. Six `*` in one value
are refused by AWS and one or two are not, so this approximation refuses more than five."""

_IPV4: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")
_MASK: Final = re.compile(r"[+-]?[0-9]+")
_AFFIX_KINDS: Final = ("equals-ignore-case", "prefix", "suffix", "wildcard")


class InvalidEventPattern(ValueError):
    """A pattern EventBridge would refuse; `str(exc)` is the message EventBridge gives, `reason` its last part."""

    def __init__(self, reason: str) -> None:
        super().__init__(REASON_PREFIX + reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Leaf:
    test: Test
    """Whether one present value (a string, number, boolean or null; never an object or array) matches."""
    absent_ok: bool
    """Whether the field matches where it has no value at all (`{"exists": false}`)."""


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def token_text(value: Any) -> str:
    """How the JSON parser behind EventBridge's messages prints a token."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{"
    if isinstance(value, list | tuple):
        return "["
    return repr(value)


def _comparable(value: int | float) -> float:
    """The number as the double EventBridge compares; refused when no double holds it exactly."""
    try:
        as_float = float(value)
    except OverflowError:
        as_float = math.inf
    if not math.isfinite(as_float) or (isinstance(value, int) and as_float != value):
        raise InvalidEventPattern(f"Cannot compare number : {token_text(value)}")
    return as_float


def _always(value: Any) -> bool:
    return True


# ---- exact values --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def ip_literal(text: str) -> IPAddress | None:
    """The address `text` writes, when it looks like one (EventBridge's test) and is one."""
    if not (_IPV4.fullmatch(text) or _IPV6.fullmatch(text)):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _assemble(
    strings: set[str], numbers: set[int | float], consts: set[Any], preds: list[Test], addresses: set[IPAddress]
) -> Test:
    """One test for a field's values: exact values by set lookup first, then the operators in order."""
    strs = frozenset(strings)
    nums = frozenset(numbers)
    has_true, has_false, has_null = True in consts, False in consts, None in consts
    checks = tuple(preds)
    ips = frozenset(addresses)
    exact = bool(strs or nums or has_true or has_false or has_null)
    if not (nums or has_true or has_false or has_null or checks or ips):

        def strings_only(value: Any) -> bool:
            return type(value) is str and value in strs

        return strings_only
    if not exact and len(checks) == 1:
        return checks[0]

    def test(value: Any) -> bool:
        kind = type(value)
        if kind is str:
            if value in strs or (ips and ip_literal(value) in ips):
                return True
        elif kind is int or kind is float:
            if value in nums:
                return True
        elif value is None:
            if has_null:
                return True
        elif kind is bool and (has_true if value else has_false):
            return True
        for check in checks:  # noqa: SIM110 - a loop: any() and its generator cost more on the hot path
            if check(value):
                return True
        return False

    return test


def compile_leaf(values: Sequence[Any]) -> Leaf:
    """The `Leaf` for a field's array; raises `InvalidEventPattern` with EventBridge's reason when it is refused."""
    strings: set[str] = set()
    numbers: set[int | float] = set()
    consts: set[Any] = set()
    addresses: set[IPAddress] = set()
    preds: list[Test] = []
    present = absent = False
    for value in values:
        if isinstance(value, str):
            strings.add(value)
            address = ip_literal(value)
            if address is not None:
                addresses.add(address)
        elif value is None or isinstance(value, bool):
            consts.add(value)
        elif is_number(value):
            numbers.add(value)
        elif isinstance(value, Mapping):
            compiled = match_expression(value)
            if compiled is True:
                present = True
            elif compiled is False:
                absent = True
            else:
                preds.append(compiled)
        else:
            raise InvalidEventPattern("Match value must be String, number, true, false, or null")
    if not values:
        raise InvalidEventPattern("Empty arrays are not allowed")
    test = _always if present else _assemble(strings, numbers, consts, preds, addresses)
    return Leaf(test, absent)


# ---- match expressions: {"prefix": ...}, {"numeric": [...]}, ... ---------------------------------------------


def match_expression(expression: Mapping[str, Any]) -> Test | bool:
    """A test for one `{operator: operand}` object; `True`/`False` stand for `{"exists": true/false}`."""
    if not expression:
        raise InvalidEventPattern("Match expression name not found")
    name, operand = next(iter(expression.items()))
    extra = len(expression) > 1
    handler = _OPERATORS.get(name)
    if handler is None:
        raise InvalidEventPattern(f"Unrecognized match type {name}")
    return handler(operand, extra)


def _only_one(extra: bool, message: str = ONE_KEY) -> None:
    if extra:
        raise InvalidEventPattern(message)


def _prefix(operand: Any, extra: bool) -> Test:
    if isinstance(operand, Mapping):
        low = _ignore_case_operand(operand, "Prefix", extra)
        return lambda value: type(value) is str and value.lower().startswith(low)
    if not isinstance(operand, str):
        raise InvalidEventPattern("prefix match pattern must be a string")
    _only_one(extra)
    start = operand
    return lambda value: type(value) is str and value.startswith(start)


def _suffix(operand: Any, extra: bool) -> Test:
    if isinstance(operand, Mapping):
        low = _ignore_case_operand(operand, "Suffix", extra)
        return lambda value: type(value) is str and value.lower().endswith(low)
    if not isinstance(operand, str):
        raise InvalidEventPattern("suffix match pattern must be a string")
    _only_one(extra)
    end = operand
    return lambda value: type(value) is str and value.endswith(end)


def _ignore_case_operand(operand: Mapping[str, Any], which: str, extra: bool) -> str:
    """The lower-cased text of `{"prefix"|"suffix": {"equals-ignore-case": text}}`."""
    if not operand:
        raise InvalidEventPattern(f"{which} expression name not found")
    name, text = next(iter(operand.items()))
    if name != "equals-ignore-case":
        raise InvalidEventPattern(f"Unsupported {which.lower()} pattern: {name}")
    if not isinstance(text, str):
        raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
    _only_one(extra or len(operand) > 1)
    return text.lower()


def _equals_ignore_case(operand: Any, extra: bool) -> Test:
    if not isinstance(operand, str):
        raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
    _only_one(extra)
    low = operand.lower()
    return lambda value: type(value) is str and value.lower() == low


def _wildcard(operand: Any, extra: bool) -> Test:
    if not isinstance(operand, str):
        raise InvalidEventPattern("wildcard match pattern must be a string")
    glob = wildcard_matcher(operand)
    _only_one(extra)
    return lambda value: type(value) is str and glob(value)


def wildcard_matcher(text: str) -> Callable[[str], bool]:
    """A matcher for a wildcard value: its literal pieces between the `*`s are found left to right."""
    pieces = [""]
    stars = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            if text.startswith("*", index + 1):
                raise InvalidEventPattern(f"Consecutive wildcard characters at pos {_position(text, index)}")
            pieces.append("")
            stars += 1
        elif char == "\\":
            if index + 1 < len(text) and text[index + 1] in "*\\":
                pieces[-1] += text[index + 1]
                index += 2
                continue
            raise InvalidEventPattern(f"Invalid escape character at pos {_position(text, index)}")
        else:
            pieces[-1] += char
        index += 1
    if stars > MAX_WILDCARDS:
        raise InvalidEventPattern(TOO_COMPLEX)
    if len(pieces) == 1:
        exact = pieces[0]
        return lambda value: value == exact
    first, middle, last = pieces[0], tuple(pieces[1:-1]), pieces[-1]
    fixed = len(first) + len(last)

    def glob(value: str) -> bool:
        if len(value) < fixed or not value.startswith(first) or not value.endswith(last):
            return False
        at, end = len(first), len(value) - len(last)
        for piece in middle:
            found = value.find(piece, at, end)
            if found < 0:
                return False
            at = found + len(piece)
        return True

    return glob


def _position(text: str, index: int) -> int:
    """The position EventBridge reports: in UTF-8 bytes, counting the value's opening quote."""
    return len(text[:index].encode()) + 1


def _exists(operand: Any, extra: bool) -> bool:
    if not isinstance(operand, bool):
        raise InvalidEventPattern("exists match pattern must be either true or false.")
    _only_one(extra)
    return operand


# ---- numeric ---------------------------------------------------------------------------------------------------

_LOWER = {">": operator.lt, ">=": operator.le}
_UPPER = {"<": operator.lt, "<=": operator.le}


def _numeric(operand: Any, extra: bool) -> Test:
    if not isinstance(operand, list | tuple):
        raise InvalidEventPattern("Value of numeric must be an array.")
    terms = list(operand)
    end = object()
    terms.append(end)
    op = terms[0]
    if op is end or not isinstance(op, str):
        raise InvalidEventPattern(f"Invalid member in numeric match: {']' if op is end else token_text(op)}")
    if op not in ("=", "<", "<=", ">", ">="):
        raise InvalidEventPattern(f"Unrecognized numeric range operator: {op}")
    if not is_number(terms[1]):
        raise InvalidEventPattern(f"Value of {'equals' if op == '=' else op} must be numeric")
    first = _comparable(terms[1])
    test: Test
    if op == "=" or op in _UPPER:
        if terms[2] is not end:
            raise InvalidEventPattern(TOO_MANY)
        test = _one_sided(op, first)
    elif terms[2] is end:
        test = _one_sided(op, first)
    else:
        top_op = terms[2]
        if not isinstance(top_op, str):
            raise InvalidEventPattern(f"Bad value in numeric range: {token_text(top_op)}")
        if top_op not in _UPPER:
            raise InvalidEventPattern(f"Bad numeric range operator: {top_op}")
        if not is_number(terms[3]):
            raise InvalidEventPattern(f"Value of {top_op} must be numeric")
        if terms[4] is not end:
            raise InvalidEventPattern("Too many terms in numeric range expression")
        top = _comparable(terms[3])
        if not first < top:
            raise InvalidEventPattern("Bottom must be less than top")
        low_cmp, high_cmp = _LOWER[op], _UPPER[top_op]

        def test(value: Any) -> bool:
            kind = type(value)
            return (kind is int or kind is float) and low_cmp(first, value) and high_cmp(value, top)

    _only_one(extra, TOO_MANY)
    return test


def _one_sided(op: str, bound: float) -> Test:
    if op == "=":
        return lambda value: (type(value) is int or type(value) is float) and value == bound
    if op in _LOWER:
        low_cmp = _LOWER[op]
        return lambda value: (type(value) is int or type(value) is float) and low_cmp(bound, value)
    high_cmp = _UPPER[op]
    return lambda value: (type(value) is int or type(value) is float) and high_cmp(value, bound)


# ---- cidr ------------------------------------------------------------------------------------------------------


def _cidr(operand: Any, extra: bool) -> Test:
    if not isinstance(operand, str):
        raise InvalidEventPattern("prefix match pattern must be a string")  # sic: EventBridge's wording
    network = parse_cidr(operand)
    _only_one(extra)

    def test(value: Any) -> bool:
        if type(value) is not str:
            return False
        address = ip_literal(value)
        return address is not None and address.version == network.version and address in network

    return test


def parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    parts = text.split("/")
    while parts and not parts[-1]:
        parts.pop()  # Java's split, which EventBridge's check uses, drops trailing empty strings
    if len(parts) != 2:
        raise InvalidEventPattern("Malformed CIDR, one '/' required")
    address_text, mask_text = parts
    if not _MASK.fullmatch(mask_text) or not -(2**31) <= int(mask_text) < 2**31:
        raise InvalidEventPattern("Malformed CIDR, mask bits must be an integer")
    mask = int(mask_text)
    if mask < 0:
        raise InvalidEventPattern("Malformed CIDR, mask bits must not be negative")
    if not (_IPV4.fullmatch(address_text) or _IPV6.fullmatch(address_text)):
        raise InvalidEventPattern(f"Nonstandard IP address: {address_text}")
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        raise InvalidEventPattern(f"Invalid IP address: {address_text}") from None
    if address.version == 4 and mask > 31:
        raise InvalidEventPattern("IPv4 mask bits must be < 32")
    if address.version == 6 and mask > 127:
        raise InvalidEventPattern("IPv6 mask bits must be < 128")
    return ipaddress.ip_network(f"{address}/{mask}", strict=False)


# ---- anything-but ----------------------------------------------------------------------------------------------


def _anything_but(operand: Any, extra: bool) -> Test:
    kind: str | None = None
    inner_extra = False
    if isinstance(operand, Mapping):
        if not operand:
            raise InvalidEventPattern("Anything-But expression name not found")
        inner_extra = len(operand) > 1
        kind, operand = next(iter(operand.items()))
        if kind not in _AFFIX_KINDS:
            raise InvalidEventPattern(f"Unsupported anything-but pattern: {kind}")
    if not (isinstance(operand, list | tuple | str) or is_number(operand)):
        raise InvalidEventPattern("Value of anything-but must be an array or single string/number value.")
    values = list(operand) if isinstance(operand, list | tuple) else [operand]
    keep = _but_values(values) if kind is None else _but_affixes(kind, values)
    _only_one(extra or inner_extra, TOO_MANY)
    return keep


def _but_values(values: list[Any]) -> Test:
    """Plain anything-but: it excludes strings, or numbers (compared as numbers), never both."""
    strings: set[str] = set()
    numbers: set[float] = set()
    for value in values:
        if isinstance(value, str):
            strings.add(value)
        elif is_number(value):
            numbers.add(_comparable(value))
        else:
            raise InvalidEventPattern("Inside anything but list, start|null|boolean is not supported.")
    if bool(strings) == bool(numbers):
        raise InvalidEventPattern(
            "Inside anything but list, either all values are number or string, mixed type is not supported"
        )
    if strings:
        frozen_strings = frozenset(strings)
        return lambda value: type(value) is not str or value not in frozen_strings
    frozen_numbers = frozenset(numbers)
    return lambda value: (type(value) is not int and type(value) is not float) or value not in frozen_numbers


def _but_affixes(kind: str, values: list[Any]) -> Test:
    """Anything-but with prefix, suffix, equals-ignore-case or wildcard: it excludes strings only."""
    texts: list[str] = []
    for value in values:
        if not isinstance(value, str):
            if kind == "equals-ignore-case":
                raise InvalidEventPattern(
                    "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
                )
            if kind == "wildcard":
                raise InvalidEventPattern("wildcard match pattern must be a string")
            raise InvalidEventPattern("prefix/suffix match pattern must be a string")
        if not value and kind in ("prefix", "suffix"):
            raise InvalidEventPattern("Null prefix/suffix not allowed")
        texts.append(value)
    if kind == "prefix":
        starts = tuple(texts)
        return lambda value: type(value) is not str or not value.startswith(starts)
    if kind == "suffix":
        ends = tuple(texts)
        return lambda value: type(value) is not str or not value.endswith(ends)
    if kind == "equals-ignore-case":
        lows = frozenset(text.lower() for text in texts)
        return lambda value: type(value) is not str or value.lower() not in lows
    globs = tuple(wildcard_matcher(text) for text in texts)
    return lambda value: type(value) is not str or not any(glob(value) for glob in globs)


_OPERATORS: Final[dict[str, Callable[[Any, bool], Test | bool]]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "exists": _exists,
    "numeric": _numeric,
    "cidr": _cidr,
    "anything-but": _anything_but,
}

RESERVED_IN_OR: Final = frozenset(
    {
        "exactly",
        *_OPERATORS,
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)
"""Field names EventBridge refuses inside `$or` objects (its operators, and some it reserves for later)."""
