"""Lambda event filtering: the FilterCriteria of an event source mapping, which records a poller passes on.

`RecordFilter.from_criteria` validates the criteria when a mapping is created or updated (raising Lambda's error)
and compiles each filter's pattern once; pollers then ask `keeps(record, kind)` for every record. As Lambda
documents ("Lambda event filtering" and its pages per service):
- no filters keep everything; several are OR-ed; each is an EventBridge pattern (`firebox.expressions.patterns`)
  matched against the record in the source's event shape;
- sqs: the record, its `body` matched as the JSON object it holds when it holds one. A pattern with an object for
  `body` drops a message whose body is not a JSON object; one with an array for `body` (plain-string matching)
  drops a message whose body is one;
- kinesis: the record's `kinesis` member (`partitionKey`, `data`, ...), `data` base64-decoded and matched as the
  JSON object it holds, or as text; the same mismatches drop the record. (Lambda refuses a plain-string `data`
  pattern for Kinesis and DynamoDB sources; `check_kind` says so for a mapping's kind.)
- dynamodb: the record as it is (`eventName`, `dynamodb.NewImage.<attr>.S`, ...);
- mq: the message, `data` decoded as for Kinesis; where the forms disagree or the data is not UTF-8, the pattern's
  `data` part is left out and its other fields decide, as Lambda does for Amazon MQ.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from firebox.errors import InvalidParameterValueException, ValidationException
from firebox.expressions.patterns import EventPattern, InvalidEventPattern, compile_pattern

MAX_FILTERS: Final = 5
"""Lambda's default quota of filters per mapping (AWS raises it to 10 on request)."""
MAX_PATTERN_LENGTH: Final = 4096
INVALID_PATTERN: Final = "Invalid filter pattern definition."
TOO_MANY_FILTERS: Final = f"The maximum number of filters ({MAX_FILTERS}) per event source mapping is exceeded."
"""Lambda's wording for this refusal is not published; this one is Firebox's."""
KINDS: Final = ("sqs", "kinesis", "dynamodb", "mq")
DATA_KEY: Final = {"sqs": "body", "kinesis": "data", "dynamodb": "dynamodb", "mq": "data"}
"""The member holding a record's payload, per kind."""

_NOT_JSON: Final = object()


@dataclass(frozen=True, slots=True)
class _Filter:
    pattern: EventPattern
    forms: Mapping[str, str]
    """For the payload members the pattern names at its top: `object` (matched as JSON) or `array` (as text)."""
    without_data: EventPattern | None
    """For mq: the pattern without its top-level `data`, None where nothing else remains (it then keeps all)."""


class RecordFilter:
    __slots__ = ("_filters", "_forms")

    def __init__(self, filters: list[_Filter]) -> None:
        self._filters = tuple(filters)
        self._forms = frozenset(key for f in filters for key in f.forms)

    @classmethod
    def from_criteria(cls, criteria: Mapping[str, Any] | None) -> RecordFilter:
        """The filter of a mapping's FilterCriteria (`{"Filters": [{"Pattern": "<json>"}, ...]}`, None or `{}` for
        none); raises InvalidParameterValueException (or ValidationException for an over-long pattern) as Lambda."""
        if criteria is None:
            return cls([])
        if not isinstance(criteria, Mapping):
            raise InvalidParameterValueException(INVALID_PATTERN)
        filters = criteria.get("Filters")
        if filters is None:
            return cls([])
        if not isinstance(filters, list | tuple):
            raise InvalidParameterValueException(INVALID_PATTERN)
        if len(filters) > MAX_FILTERS:
            raise InvalidParameterValueException(TOO_MANY_FILTERS)
        return cls([_compile(entry, number) for number, entry in enumerate(filters, start=1)])

    @property
    def empty(self) -> bool:
        return not self._filters

    def check_kind(self, kind: str) -> None:
        """Refuse what Lambda refuses for the mapping's kind: a plain-string pattern for Kinesis `data` or for
        DynamoDB's `dynamodb` (their payloads can only be matched as JSON)."""
        if kind in ("kinesis", "dynamodb") and any(f.forms.get(DATA_KEY[kind]) == "array" for f in self._filters):
            raise InvalidParameterValueException(INVALID_PATTERN)

    def keeps(self, record: Mapping[str, Any], kind: str) -> bool:
        """Whether the record passes one of the filters (any record passes where there are none)."""
        if not self._filters:
            return True
        if kind == "sqs":
            return self._keeps_payload(record, "body", _json_object, drop_mismatch=True)
        if kind == "kinesis":
            inner = record.get("kinesis")
            root = inner if isinstance(inner, Mapping) else record
            return self._keeps_payload(root, "data", _decoded, drop_mismatch=True)
        if kind == "mq":
            return self._keeps_payload(record, "data", _decoded, drop_mismatch=False)
        if kind == "dynamodb":
            return any(f.pattern.matches(record) for f in self._filters)
        raise ValueError(f"unknown record kind {kind!r}; expected one of {', '.join(KINDS)}")

    def _keeps_payload(
        self, root: Mapping[str, Any], key: str, decode: Callable[[Any], Any], *, drop_mismatch: bool
    ) -> bool:
        if key not in self._forms:
            return any(f.pattern.matches(root) for f in self._filters)
        payload = decode(root.get(key))  # a JSON object (parsed), a str, or _NOT_JSON for neither
        as_json = {**root, key: payload} if isinstance(payload, Mapping) else None
        as_text = {**root, key: payload} if isinstance(payload, str) else None
        for f in self._filters:
            form = f.forms.get(key)
            if form is None:
                view: Mapping[str, Any] | None = root
            else:
                view = as_json if form == "object" else as_text
            if view is not None:
                if f.pattern.matches(view):
                    return True
            elif not drop_mismatch and (f.without_data is None or f.without_data.matches(root)):
                return True
        return False

    def __repr__(self) -> str:
        return f"RecordFilter({[f.pattern for f in self._filters]!r})"


def _compile(entry: Any, number: int) -> _Filter:
    pattern = entry.get("Pattern") if isinstance(entry, Mapping) else None
    if not isinstance(pattern, str) or not pattern.strip():
        raise InvalidParameterValueException(INVALID_PATTERN)
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValidationException.of(
            [
                (
                    pattern,
                    f"filterCriteria.filters.{number}.member.pattern",
                    f"Member must have length less than or equal to {MAX_PATTERN_LENGTH}",
                )
            ]
        )
    try:
        compiled = compile_pattern(pattern)
    except InvalidEventPattern:
        raise InvalidParameterValueException(INVALID_PATTERN) from None
    forms = _top_forms(compiled.pattern)
    without_data: EventPattern | None = None
    rest = {name: value for name, value in compiled.pattern.items() if name != "data"}
    if "data" in forms and rest:
        without_data = compile_pattern(rest)  # a part of a valid pattern: valid
    return _Filter(compiled, forms, without_data)


def _top_forms(pattern: Mapping[str, Any]) -> dict[str, str]:
    """How the pattern's top level (including its top-level `$or` objects) names each payload member."""
    forms: dict[str, str] = {}
    objects = [pattern]
    while objects:
        obj = objects.pop()
        for name, value in obj.items():
            if name == "$or" and isinstance(value, list | tuple):
                objects.extend(v for v in value if isinstance(v, Mapping))
            elif name in ("body", "data", "dynamodb"):
                form = "object" if isinstance(value, Mapping) else "array"
                forms[name] = "object" if forms.get(name) == "object" else form
    return forms


def _json_object(body: Any) -> Any:
    """An SQS body as the JSON object it holds, else the body itself when it is text."""
    if isinstance(body, Mapping):
        return body
    if not isinstance(body, str):
        return _NOT_JSON
    return _parse_object(body, body)


def _decoded(data: Any) -> Any:
    """Kinesis or MQ data: base64-decoded, as the JSON object it holds, else as UTF-8 text, else `_NOT_JSON`."""
    if isinstance(data, Mapping):
        return data
    if not isinstance(data, str | bytes):
        return _NOT_JSON
    try:
        raw = base64.b64decode(data, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return _NOT_JSON
    return _parse_object(text, text)


def _parse_object(text: str, otherwise: Any) -> Any:
    if not text.lstrip().startswith("{"):
        return otherwise
    try:  # not orjson: it turns integers beyond 64 bits into floats, which exact matching must not see
        parsed = json.loads(text, parse_constant=_refuse)
    except ValueError:
        return otherwise
    return parsed if isinstance(parsed, dict) else otherwise


def _refuse(name: str) -> Any:
    raise ValueError(name)
