"""EventBridge event patterns, as rules' EventPattern, TestEventPattern and Lambda's FilterCriteria use them.

`compile_pattern` validates a pattern fully (refusing it with EventBridge's own reason, see `InvalidEventPattern`)
and compiles it once into small closures, so that `EventPattern.matches` costs a few dictionary look-ups per event:
it runs for every record on the pollers' hot paths.

A pattern has the event's shape; its leaves are arrays of match values (`firebox.expressions.pattern_rules`):
- every field the pattern names must match (AND); a field matches when any value of its array does (OR); fields
  the pattern does not name are ignored;
- `"$or": [{...}, {...}]` matches when one of its objects does. As EventBridge does, the pattern is expanded into
  branches, one per choice (more than 1000 are refused), where a later field of the same path replaces an earlier;
- arrays in the event: a value in an array is one of the field's values, and an object in an array is one of the
  objects at that path. All the values one branch matches must be consistent: two fields under the same array
  match in the same element of it (`{"a": {"b": ["x"], "c": ["y"]}}` needs one element of `a` with both);
- absence (`{"exists": false}`, a field with no value: missing, an object, or an array of objects or of nothing)
  is judged in the elements the branch's matched values are in, and in all the elements of any other array: with
  `{"items": {"discount": [{"exists": false}]}}`, no item may have a discount.

The array rule is event-ruler's ("array-consistent matching"), with its absence check made independent of the
order of field names. Not supported: event-ruler's dotted-name aliasing (`{"a.b": [...]}` matching `{"a": {"b": ...}}`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from firebox.expressions.pattern_rules import RESERVED_IN_OR, InvalidEventPattern, Leaf, compile_leaf

__all__ = ["EventPattern", "InvalidEventPattern", "compile_pattern", "test_event_pattern"]

MAX_COMBINATIONS: Final = 1000
TOO_MANY_COMBINATIONS: Final = f"The use of $or results in more than {MAX_COMBINATIONS} rule combinations"
"""AWS documents the limit, not its wording: this reason is Firebox's."""
EVENT_FIELDS: Final = ("id", "account", "source", "time", "region", "detail-type")
"""The members TestEventPattern requires of its event (AWS lists `resources` too, but does not require it)."""
INVALID_EVENT: Final = "Parameter Event is not valid."

Path = tuple[str, ...]
Branch = dict[Path, Leaf]
Score = int
"""What a (sub-)pattern makes of a value: 0 no match, 1 a match on absences only, 2 a match with a matched value."""

_MISSING: Final = object()


def compile_pattern(pattern: str | Mapping[str, Any]) -> EventPattern:
    """The compiled form of a pattern (JSON text or parsed); raises `InvalidEventPattern` when EventBridge would."""
    parsed: Any = _parse(pattern) if isinstance(pattern, str) else pattern
    if not isinstance(parsed, Mapping):
        raise InvalidEventPattern("Filter is not an object")
    branches = _expand(parsed, (), inside_or=False)
    return EventPattern(parsed, tuple(_compile_tree(_tree(branch)) for branch in branches))


def test_event_pattern(pattern: str, event: str) -> bool:
    """EventBridge's TestEventPattern: ValueError("Parameter Event is not valid.") for an event that is not a JSON
    object with the members AWS requires, `InvalidEventPattern` (also a ValueError) for a bad pattern."""
    try:
        parsed = json.loads(event, parse_constant=_refuse_constant)
    except ValueError:
        raise ValueError(INVALID_EVENT) from None
    if not isinstance(parsed, dict) or not all(name in parsed for name in EVENT_FIELDS):
        raise ValueError(INVALID_EVENT)
    return compile_pattern(pattern).matches(parsed)


class EventPattern:
    """A compiled pattern. `pattern` is the parsed JSON it was compiled from."""

    __slots__ = ("_branches", "_single", "pattern")

    def __init__(self, pattern: Mapping[str, Any], branches: Sequence[_Node]) -> None:
        self.pattern = pattern
        self._branches = tuple(node.on_dict for node in branches)
        self._single = self._branches[0] if len(self._branches) == 1 else None

    def matches(self, event: Mapping[str, Any]) -> bool:
        if not isinstance(event, Mapping):
            return False
        if self._single is not None:
            return self._single(event) > 0
        return any(branch(event) > 0 for branch in self._branches)

    def __repr__(self) -> str:
        return f"EventPattern({json.dumps(self.pattern, default=str)})"


# ---- parsing and expansion -------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}'")


def _parse(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidEventPattern(f"{exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:
        raise InvalidEventPattern(str(exc)) from None


def _expand(obj: Mapping[str, Any], path: Path, *, inside_or: bool) -> list[Branch]:
    """The branches of one object of the pattern (its `$or`s expanded), checking it as EventBridge does: in order."""
    if not obj:
        raise InvalidEventPattern("Empty objects are not allowed")
    branches: list[Branch] = [{}]
    for key, value in obj.items():
        name = str(key)
        if name == "$or":
            branches = _product(branches, _expand_or(value, path))
            continue
        if inside_or and name in RESERVED_IN_OR:
            raise InvalidEventPattern(f"{name} is Ruler reserved fieldName which cannot be used inside $or.")
        if isinstance(value, Mapping):
            branches = _product(branches, _expand(value, (*path, name), inside_or=inside_or))
        elif isinstance(value, list | tuple):
            leaf = compile_leaf(value)
            for branch in branches:
                branch[(*path, name)] = leaf
        else:
            raise InvalidEventPattern(f'"{name}" must be an object or an array')
    return branches


def _expand_or(value: Any, path: Path) -> list[Branch]:
    if not isinstance(value, list | tuple):
        raise InvalidEventPattern("It must be an Array followed with $or.")
    choices: list[Branch] = []
    for element in value:
        if not isinstance(element, Mapping):
            raise InvalidEventPattern("Only JSON object is allowed in array of $or relationship.")
        choices.extend(_expand(element, path, inside_or=True))
        if len(choices) > MAX_COMBINATIONS:
            raise InvalidEventPattern(TOO_MANY_COMBINATIONS)
    if len(value) < 2:
        raise InvalidEventPattern("There must have at least 2 Objects in $or relationship.")
    return choices


def _product(branches: list[Branch], choices: list[Branch]) -> list[Branch]:
    if len(branches) * len(choices) > MAX_COMBINATIONS:
        raise InvalidEventPattern(TOO_MANY_COMBINATIONS)
    return [{**branch, **choice} for branch in branches for choice in choices]


@dataclass(slots=True)
class _Tree:
    """One object level of a branch: per field name, the leaf there and/or the object below."""

    fields: dict[str, tuple[Leaf | None, _Tree | None]]


def _tree(branch: Branch) -> _Tree:
    root = _Tree({})
    for path, leaf in branch.items():
        node = root
        for name in path[:-1]:
            here, below = node.fields.get(name, (None, None))
            if below is None:
                below = _Tree({})
                node.fields[name] = (here, below)
            node = below
        _, below = node.fields.get(path[-1], (None, None))
        node.fields[path[-1]] = (leaf, below)
    return root


# ---- compiled form ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Node:
    """A compiled object level. `on_dict`/`on_value` score one event value; `on_union` says whether the level matches
    on absences alone across all of the given values (the elements of arrays no matched value pins down)."""

    on_dict: Callable[[Mapping[str, Any]], Score]
    on_value: Callable[[Any], Score]
    on_union: Callable[[list[Any]], bool]
    can_absent: bool


def _compile_tree(tree: _Tree) -> _Node:
    checks: list[Callable[[Mapping[str, Any]], Score]] = []
    parts: list[tuple[str, Leaf | None, _Node | None]] = []
    can_absent = True
    for name, (leaf, below) in tree.fields.items():
        node = _compile_tree(below) if below is not None else None
        if leaf is not None and node is not None:  # `$or` can name a path both as a leaf and as an object
            checks.append(_leaf_and_nested_check(name, leaf, node))
        elif leaf is not None:
            checks.append(_leaf_check(name, leaf))
        elif node is not None:
            checks.append(_nested_check(name, node))
        can_absent = can_absent and (leaf is None or leaf.absent_ok) and (node is None or node.can_absent)
        parts.append((name, leaf, node))
    on_dict = _all_of(tuple(checks))
    on_union = _union(tuple(parts)) if can_absent else _never
    absent_score = 1 if can_absent else 0

    def on_list(items: Sequence[Any]) -> Score:
        for element in _objects(items):
            if on_dict(element) == 2:
                return 2
        return 1 if can_absent and on_union([items]) else 0

    def on_value(value: Any) -> Score:
        kind = type(value)
        if kind is dict:
            return on_dict(value)
        if kind is list:
            return on_list(value)
        if isinstance(value, Mapping):
            return on_dict(value)
        if isinstance(value, tuple):
            return on_list(value)
        return absent_score  # a scalar, null or nothing: no field below it

    return _Node(on_dict, on_value, on_union, can_absent)


def _all_of(checks: tuple[Callable[[Mapping[str, Any]], Score], ...]) -> Callable[[Mapping[str, Any]], Score]:
    if len(checks) == 1:
        return checks[0]

    def on_dict(obj: Mapping[str, Any]) -> Score:
        score = 1
        for check in checks:
            result = check(obj)
            if not result:
                return 0
            if result == 2:
                score = 2
        return score

    return on_dict


def _leaf_check(name: str, leaf: Leaf) -> Callable[[Mapping[str, Any]], Score]:
    test = leaf.test
    absent = 1 if leaf.absent_ok else 0

    def check(obj: Mapping[str, Any]) -> Score:
        value = obj.get(name, _MISSING)
        kind = type(value)
        if kind is str or kind is int or kind is float or kind is bool or value is None:
            return 2 if test(value) else 0
        if kind is list or kind is tuple:
            return _score_values(value, test, absent)
        if value is _MISSING or isinstance(value, Mapping):
            return absent
        if isinstance(value, list | tuple):
            return _score_values(value, test, absent)
        return 2 if test(value) else 0

    return check


def _score_values(items: Sequence[Any], test: Callable[[Any], bool], absent: Score) -> Score:
    """2 when a value in the array (or in arrays within it) matches, 0 when there are values but none does."""
    seen = False
    for item in items:
        if isinstance(item, list | tuple):
            result = _score_values(item, test, -1)
            if result == 2:
                return 2
            seen = seen or result == 0
        elif not isinstance(item, Mapping):
            if test(item):
                return 2
            seen = True
    return 0 if seen else absent


def _nested_check(name: str, node: _Node) -> Callable[[Mapping[str, Any]], Score]:
    on_value = node.on_value

    def check(obj: Mapping[str, Any]) -> Score:
        return on_value(obj.get(name, _MISSING))

    return check


def _leaf_and_nested_check(name: str, leaf: Leaf, node: _Node) -> Callable[[Mapping[str, Any]], Score]:
    """A path with both a leaf and an object below: in an array, the value and the object cannot be one element."""
    as_leaf, as_object = _leaf_check(name, leaf), _nested_check(name, node)

    def check(obj: Mapping[str, Any]) -> Score:
        items = obj.get(name)
        if not isinstance(items, list | tuple):
            first, second = as_leaf(obj), as_object(obj)
            return max(first, second) if first and second else 0
        values = _score_values(items, leaf.test, -1)
        if values == 2 and node.can_absent:
            return 2
        if leaf.absent_ok and any(node.on_dict(element) == 2 for element in _objects(items)):
            return 2
        return 1 if leaf.absent_ok and values == -1 and node.can_absent and node.on_union([items]) else 0

    return check


def _union(parts: tuple[tuple[str, Leaf | None, _Node | None], ...]) -> Callable[[list[Any]], bool]:
    def on_union(values: list[Any]) -> bool:
        for name, leaf, node in parts:
            below = [element[name] for element in _objects(values) if name in element]
            if leaf is not None and (not leaf.absent_ok or _has_value(below)):
                return False
            if node is not None and not node.on_union(below):
                return False
        return True

    return on_union


def _never(values: list[Any]) -> bool:
    return False


def _objects(items: Sequence[Any]) -> Iterator[Mapping[str, Any]]:
    """The objects in `items`, looking into arrays within it."""
    for item in items:
        if isinstance(item, Mapping):
            yield item
        elif isinstance(item, list | tuple):
            yield from _objects(item)


def _has_value(items: Sequence[Any]) -> bool:
    """Whether `items` holds a value (not an object), looking into arrays within it."""
    for item in items:
        if isinstance(item, list | tuple):
            if _has_value(item):
                return True
        elif not isinstance(item, Mapping):
            return True
    return False


# Its name is the AWS operation's: pytest must not collect it from a test module that imports it.
test_event_pattern.__test__ = False  # type: ignore[attr-defined]
