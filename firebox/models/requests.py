"""Requests the edges hand to the planes: frozen data, never an HTTP object or a raw wire dict.

`changes` maps `FunctionConfig` field names to new values; a field that is absent is left as it is (on create:
takes its default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CreateFunction:
    name: str
    zip_file: bytes
    changes: Mapping[str, Any]
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UpdateFunctionConfiguration:
    function: str
    changes: Mapping[str, Any]
    revision_id: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateFunctionCode:
    function: str
    zip_file: bytes
    architectures: tuple[str, ...] | None = None
    dry_run: bool = False
    revision_id: str | None = None
    publish: bool = False
