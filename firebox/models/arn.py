"""Function identifiers: names, partial ARNs and full ARNs, with optional qualifiers."""

from __future__ import annotations

import re
from dataclasses import dataclass

FUNCTION_NAME = re.compile(r"[a-zA-Z0-9\-_]{1,64}")
QUALIFIER = re.compile(r"\$LATEST|[a-zA-Z0-9\-_]{1,128}")
_FUNCTION_ID = re.compile(
    r"(?:arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9\-_]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9\-_]+))?"
)


@dataclass(frozen=True, slots=True)
class FunctionId:
    """What a client named: a function, perhaps with a qualifier, perhaps in another region or account."""

    name: str
    qualifier: str | None = None
    region: str | None = None
    account: str | None = None


def parse_function_id(text: str) -> FunctionId | None:
    """Parse `my-fn`, `my-fn:prod`, `123456789012:function:my-fn` or a full ARN; None if it is none of them."""
    match = _FUNCTION_ID.fullmatch(text)
    if match is None:
        return None
    return FunctionId(match["name"], match["qualifier"], match["region"], match["account"])


_LAYER_VERSION = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9\-_]+)"
    r":(?P<version>\d+)"
)


@dataclass(frozen=True, slots=True)
class LayerVersionId:
    name: str
    version: int
    region: str
    account: str


def parse_layer_version_arn(text: str) -> LayerVersionId | None:
    match = _LAYER_VERSION.fullmatch(text)
    if match is None:
        return None
    return LayerVersionId(match["name"], int(match["version"]), match["region"], match["account"])


def layer_arn(region: str, account: str, name: str, version: int | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:layer:{name}"
    return f"{arn}:{version}" if version is not None else arn


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn
