"""Functions and their configuration, as frozen data.

A `FunctionConfig` is one version of a function (`$LATEST` for now): everything the data plane needs to run it and
everything the API reports about it. Changes are made with `dataclasses.replace`, never in place.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

LATEST = "$LATEST"


class State(StrEnum):
    PENDING = "Pending"
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    FAILED = "Failed"


class LastUpdateStatus(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    IN_PROGRESS = "InProgress"


@dataclass(frozen=True, slots=True)
class CodeArchive:
    """A zip archive stored by content: its sha256 (hex), zipped size and real unzipped size."""

    sha256: str
    size: int
    unzipped_size: int

    @property
    def sha256_base64(self) -> str:
        """CodeSha256 as Lambda reports it: base64 of the raw digest."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


@dataclass(frozen=True, slots=True)
class LayerRef:
    """A layer version a function uses: its ARN and its archive."""

    arn: str
    sha256: str
    size: int
    unzipped_size: int


@dataclass(frozen=True, slots=True)
class LayerVersion:
    layer_name: str
    version: int
    code: CodeArchive
    created_at: float
    description: str = ""
    license_info: str | None = None
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    name: str
    runtime: str
    handler: str
    role: str
    code: CodeArchive
    revision_id: str
    last_modified: float
    version: str = LATEST
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    ephemeral_storage: int = 512
    environment: Mapping[str, str] | None = None
    """None until variables are first set; then a (possibly empty) map, as Lambda reports it."""
    architectures: tuple[str, ...] = ("x86_64",)
    tracing_mode: str = "PassThrough"
    log_format: str = "Text"
    log_group: str | None = None
    application_log_level: str | None = None
    system_log_level: str | None = None
    dead_letter_target: str | None = None
    layers: tuple[LayerRef, ...] = ()
    """In the order given: later layers override earlier ones in /opt."""
    echoed: Mapping[str, Any] = field(default_factory=dict)
    """Settings accepted and reported back but with no effect here (VpcConfig, KMSKeyArn, SnapStart, ...)."""
    state: State = State.PENDING
    state_reason: str | None = None
    state_reason_code: str | None = None
    last_update_status: LastUpdateStatus | None = None
    last_update_status_reason: str | None = None
    last_update_status_reason_code: str | None = None

    @property
    def log_group_name(self) -> str:
        """Where the function's logs go: LoggingConfig.LogGroup, or Lambda's default `/aws/lambda/<name>`."""
        return self.log_group or f"/aws/lambda/{self.name}"

    @property
    def is_settling(self) -> bool:
        """True while a create or update is still being applied (Pending, or an update InProgress)."""
        return self.state is State.PENDING or self.last_update_status is LastUpdateStatus.IN_PROGRESS


@dataclass(frozen=True, slots=True)
class Alias:
    """A named pointer to a version, optionally sending a share of invocations to one other version."""

    function_name: str
    name: str
    function_version: str
    revision_id: str
    description: str = ""
    additional_version: str | None = None
    additional_weight: float = 0.0


@dataclass(frozen=True, slots=True)
class Function:
    """A function: its `$LATEST` configuration and the settings that belong to the function as a whole."""

    latest: FunctionConfig
    tags: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class AccountUsage:
    function_count: int
    total_code_size: int
    reserved_concurrency: int
