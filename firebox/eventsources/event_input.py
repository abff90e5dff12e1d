"""What an EventBridge rule's target is sent: the event itself, a constant `Input`, the part of the event an
`InputPath` selects, or an `InputTransformer`'s template filled from the event.

JSON paths are the subset EventBridge evaluates: `$`, then dot-separated names (letters, digits, `-`, `_`, `/`, ...),
array indices (`$.resources[0]`) and wildcards (`$.detail.*`, `[*]`), which select a list of what they match.

Templates (`InputTemplate`) name variables as `<name>`: the keys of `InputPathsMap` and the predefined
`aws.events.rule-arn`, `aws.events.rule-name`, `aws.events.event.ingestion-time`, `aws.events.event` (the event
without its detail) and `aws.events.event.json` (the whole event). Values are placed as EventBridge places them:
- in a JSON template (one that is an object or an array), a placeholder outside quotes takes the value as JSON,
  strings quoted (`{"state": <state>}` → `{"state": "RUNNING"}`); inside quotes it takes the value's text, escaped
  so the string stays valid (`"in \\"<state>\\""`), objects and arrays with their inner quotes removed;
- in any other template (`"<instance> is in <state>"`, or plain text), the value's text;
- a variable whose path matches nothing is left out: null where a JSON value stands, nothing inside a string.
The JSON produced is sent minified.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

PREDEFINED = (
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event.ingestion-time",
    "aws.events.event",
    "aws.events.event.json",
)
PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_SEGMENT = re.compile(r"\.([^.\[\]\s]+)|\[(\d+|\*)\]")
MISSING: Any = object()
"""What `select` answers when the path matches nothing."""


def parse_path(path: str) -> tuple[str | int, ...]:
    """The segments of a JSON path (names, indices, and `*` for a wildcard); ValueError if it is not one
    EventBridge evaluates."""
    if not path.startswith("$"):
        raise ValueError(f"{path} is not a JSON path: it must start with $")
    segments: list[str | int] = []
    position = 1
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None:
            raise ValueError(f"{path} is not a valid JSON path at character {position + 1}")
        name, index = match.groups()
        if name is not None:
            segments.append(name)
        else:
            segments.append("*" if index == "*" else int(index))
        position = match.end()
    return tuple(segments)


def select(document: Any, path: str) -> Any:
    """The value at `path` in `document`; `MISSING` if nothing is there."""
    values = [document]
    wildcard = False
    for segment in parse_path(path):
        found: list[Any] = []
        for value in values:
            if segment == "*":
                wildcard = True
                if isinstance(value, Mapping):
                    found.extend(value.values())
                elif isinstance(value, list):
                    found.extend(value)
            elif isinstance(segment, int):
                if isinstance(value, list) and segment < len(value):
                    found.append(value[segment])
            elif isinstance(value, Mapping) and segment in value:
                found.append(value[segment])
        values = found
    if wildcard:
        return values
    return values[0] if values else MISSING


def placeholders(template: str) -> list[str]:
    """The variable names a template uses."""
    return PLACEHOLDER.findall(template)


def render_input(
    target: Mapping[str, Any], event: Mapping[str, Any], rule_arn: str, rule_name: str, ingestion_time: str
) -> bytes:
    """The payload the target gets for `event`."""
    if target.get("Input") is not None:
        return str(target["Input"]).encode()
    if target.get("InputPath") is not None:
        value = select(event, target["InputPath"])
        return _minified(None if value is MISSING else value)
    transformer = target.get("InputTransformer")
    if transformer is None:
        return _minified(event)
    variables: dict[str, Any] = {
        "aws.events.rule-arn": rule_arn,
        "aws.events.rule-name": rule_name,
        "aws.events.event.ingestion-time": ingestion_time,
        "aws.events.event": {k: v for k, v in event.items() if k != "detail"},
        "aws.events.event.json": dict(event),
    }
    paths = transformer.get("InputPathsMap") or {}
    for name, path in paths.items():
        variables[name] = select(event, path)
    return render_template(transformer["InputTemplate"], variables).encode()


def render_template(template: str, variables: Mapping[str, Any]) -> str:
    """Fill a template's `<name>` placeholders from `variables` (`MISSING` for a path that matched nothing; see
    the module's notes). Placeholders naming no variable are left as they are."""
    stripped = template.strip()
    json_template = stripped.startswith(("{", "["))
    out: list[str] = []
    in_string = False
    escaped = False
    position = 0
    while position < len(template):
        char = template[position]
        if in_string and escaped:
            escaped = False
        elif in_string and char == "\\":
            escaped = True
        elif char == '"':
            in_string = not in_string
        elif char == "<":
            match = PLACEHOLDER.match(template, position)
            if match is not None:
                name = match.group(1)
                if name in variables:
                    out.append(_placed(variables[name], in_string, json_template))
                    position = match.end()
                    continue
        out.append(char)
        position += 1
    text = "".join(out)
    if json_template or stripped.startswith('"'):
        try:
            return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
        except ValueError:
            return text
    return text


def _placed(value: Any, in_string: bool, json_template: bool) -> str:
    if value is MISSING:
        return "null" if json_template and not in_string else ""
    if in_string:
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)[1:-1]
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace('"', "")
        return json.dumps(value)
    if json_template:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _minified(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
