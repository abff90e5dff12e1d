"""Request bodies checked against botocore's own model of the Lambda API.

The model names every member of every operation's input with its type and constraints (length, range, pattern,
enum), so the checks follow whatever the SDKs send without hand-written schemas. Firebox's own limits, where they
are tighter than the model's (Lambda allows Timeout up to 900 s, not the model's 5400), are layered on top here.

Unknown members and values of the wrong JSON type are `InvalidRequestContentException` (the request cannot be
read); constraint failures are collected into one `ValidationException` in AWS's wording.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from typing import Any

from botocore.loaders import create_loader
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from firebox.errors import InvalidRequestContentException, ValidationException

_LIMIT_OVERRIDES: dict[str, dict[str, Any]] = {
    "Timeout": {"max": 900},
    "MemorySize": {"max": 10240},
    "EphemeralStorageSize": {"max": 10240},
}
"""Per shape name: constraints tighter than botocore's model."""
_WEBHOOK = r"|https?://[^\s]+"
"""Destinations may also be webhook URLs (a Firebox extension)."""
_SEMANTIC_ENUMS = frozenset({"Runtime"})
"""Shapes whose values the control plane checks with its own error (the runtimes this host has)."""

Violation = tuple[Any, str, str]


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    return ServiceModel(create_loader().load_service_model("lambda", "service-2"), "lambda")


@cache
def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequestContentException(f"Could not parse request body into json: {exc}") from None


def check_body(operation_name: str, body: Any) -> dict[str, Any]:
    """Check a decoded JSON body against the operation's input shape; return it as a dict."""
    shape = operation(operation_name).input_shape
    assert shape is not None, f"{operation_name} takes no input"
    if not isinstance(body, dict):
        raise _unreadable("the request body must be a JSON object")
    violations: list[Violation] = []
    body_members = {n: s for n, s in shape.members.items() if not s.serialization.get("location")}
    _check_members(body_members, shape.required_members, body, "", violations)
    if violations:
        raise ValidationException.of(violations)
    return body


def _unreadable(detail: str) -> InvalidRequestContentException:
    return InvalidRequestContentException(f"Could not parse request body into json: {detail}")


def _field(prefix: str, member: str) -> str:
    name = member[:1].lower() + member[1:]
    return f"{prefix}.{name}" if prefix else name


def _check_members(
    members: dict[str, Shape], required: list[str], value: dict[str, Any], path: str, out: list[Violation]
) -> None:
    for key in value:
        if key not in members:
            raise _unreadable(f'Unrecognized field "{key}", not marked as ignorable')
    for key in required:
        if key in members and value.get(key) is None:
            out.append((None, _field(path, key), "Member must not be null"))
    for key, item in value.items():
        if item is not None:
            _check(members[key], item, _field(path, key), out)


def _check(shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise _unreadable(f"{path} must be an object")
        _check_members(dict(shape.members), shape.required_members, value, path, out)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise _unreadable(f"{path} must be an array")
        _check_size(shape, value, len(value), path, out)
        for index, item in enumerate(value, start=1):
            if item is None:
                out.append((None, f"{path}.{index}.member", "Member must not be null"))
            else:
                _check(shape.member, item, f"{path}.{index}.member", out)
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise _unreadable(f"{path} must be an object")
        _check_size(shape, value, len(value), path, out)
        _check_map(shape, value, path, out)
    elif kind == "string":
        if not isinstance(value, str):
            raise _unreadable(f"{path} must be a string")
        _check_string(shape, value, path, out)
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise _unreadable(f"{path} must be an integer")
        _check_range(shape, value, path, out)
    elif kind in ("double", "float"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _unreadable(f"{path} must be a number")
        _check_range(shape, value, path, out)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _unreadable(f"{path} must be true or false")
    elif kind == "blob":
        if not isinstance(value, str):
            raise _unreadable(f"{path} must be a base64 string")
    elif kind == "timestamp" and not isinstance(value, int | float | str):
        raise _unreadable(f"{path} must be a timestamp")


def _limits(shape: Shape) -> dict[str, Any]:
    limits = {**shape.metadata, **_LIMIT_OVERRIDES.get(shape.name, {})}
    if shape.name == "DestinationArn" and "pattern" in limits:
        limits["pattern"] += _WEBHOOK
    return limits


def _shown(shape: Shape, value: Any) -> Any:
    return "****" if shape.metadata.get("sensitive") else value


def _check_size(shape: Shape, value: Any, size: int, path: str, out: list[Violation]) -> None:
    limits = _limits(shape)
    if "max" in limits and size > limits["max"]:
        out.append((_shown(shape, value), path, f"Member must have length less than or equal to {limits['max']}"))
    if limits.get("min") and size < limits["min"]:
        out.append((_shown(shape, value), path, f"Member must have length greater than or equal to {limits['min']}"))


def _check_range(shape: Shape, value: float, path: str, out: list[Violation]) -> None:
    out.extend((value, path, problem) for problem in _range_problems(shape, value))


def _string_problems(shape: Shape, value: str) -> list[str]:
    limits = _limits(shape)
    problems = []
    if "max" in limits and len(value) > limits["max"]:
        problems.append(f"Member must have length less than or equal to {limits['max']}")
    if limits.get("min") and len(value) < limits["min"]:
        problems.append(f"Member must have length greater than or equal to {limits['min']}")
    pattern = limits.get("pattern")
    if pattern and not _regex(pattern).fullmatch(value):
        problems.append(f"Member must satisfy regular expression pattern: {pattern}")
    enum = limits.get("enum")
    if enum and shape.name not in _SEMANTIC_ENUMS and value not in enum:
        problems.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
    return problems


def _check_string(shape: Shape, value: str, path: str, out: list[Violation]) -> None:
    for problem in _string_problems(shape, value):
        out.append((_shown(shape, value), path, problem))


def _check_map(shape: MapShape, value: dict[str, Any], path: str, out: list[Violation]) -> None:
    """AWS reports a bad map key or value with every constraint of the member, not only the broken one."""
    numeric = shape.value.type_name in ("integer", "long", "double", "float")
    for key, item in value.items():
        if _string_problems(shape.key, key):
            constraints = ", ".join(_constraints(shape.key))
            out.append((_shown(shape, value), path, f"Map keys must satisfy constraint: [{constraints}]"))
            return
        if numeric:
            if item is not None and (not isinstance(item, int | float) or isinstance(item, bool)):
                raise _unreadable(f"{path} values must be numbers")
            broken = item is None or bool(_range_problems(shape.value, item))
        else:
            if not isinstance(item, str):
                raise _unreadable(f"{path} values must be strings")
            broken = bool(_string_problems(shape.value, item))
        if broken:
            constraints = ", ".join(_constraints(shape.value) + ["Member must not be null"] * numeric)
            out.append((_shown(shape, value), path, f"Map value must satisfy constraint: [{constraints}]"))
            return


def _range_problems(shape: Shape, value: float) -> list[str]:
    limits = _limits(shape)
    problems = []
    if "max" in limits and value > limits["max"]:
        problems.append(f"Member must have value less than or equal to {limits['max']}")
    if "min" in limits and value < limits["min"]:
        problems.append(f"Member must have value greater than or equal to {limits['min']}")
    return problems


def _constraints(shape: Shape) -> list[str]:
    """Every constraint of a member, worded as AWS words them."""
    limits = _limits(shape)
    kind = "value" if shape.type_name in ("integer", "long", "double", "float") else "length"
    texts = []
    if "max" in limits:
        texts.append(f"Member must have {kind} less than or equal to {limits['max']}")
    if "min" in limits:
        texts.append(f"Member must have {kind} greater than or equal to {limits['min']}")
    if "pattern" in limits:
        texts.append(f"Member must satisfy regular expression pattern: {limits['pattern']}")
    return texts


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    """Compile a model pattern (Java syntax); Unicode classes map to their Python equivalents."""
    translated = pattern.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\w").replace(r"\p{Z}", r"\s")
    return re.compile(translated, re.DOTALL)
