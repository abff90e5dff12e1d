"""Semantic rules for function settings, beyond the wire constraints the API checks from the service model.

Each check raises the error AWS raises for the same mistake, with its message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from firebox.errors import InvalidParameterValueException

RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
MAX_ENVIRONMENT_BYTES = 4096
DEPRECATED_RUNTIMES = frozenset({"python2.7", "python3.6", "python3.7", "python3.8"})
MAX_TAGS = 50


def check_runtime(runtime: str, available: Mapping[str, str]) -> None:
    if runtime in available:
        return
    if runtime in DEPRECATED_RUNTIMES:
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
            "functions. We recommend you use a supported runtime while creating or updating functions."
        )
    raise InvalidParameterValueException(
        f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
        f"[{', '.join(available)}] or be a valid ARN"
    )


def check_environment(variables: Mapping[str, str]) -> None:
    reserved = [key for key in variables if key in RESERVED_ENVIRONMENT_KEYS]
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            "provided contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {', '.join(reserved)}"
        )
    measured = json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode("utf-8")) > MAX_ENVIRONMENT_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            f"provided exceeded the 4KB limit. String measured: {measured}"
        )


def check_logging(changes: Mapping[str, Any], current_format: str) -> None:
    log_format = changes.get("log_format", current_format)
    levels = changes.get("application_log_level") or changes.get("system_log_level")
    if log_format == "Text" and levels:
        raise InvalidParameterValueException(
            'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change '
            'the LogFormat to "JSON" and try again.'
        )


def check_tags(tags: Mapping[str, str], existing: int = 0) -> None:
    for key in tags:
        if key.lower().startswith("aws:"):
            raise InvalidParameterValueException(f"Tag keys starting with 'aws:' are reserved: {key}")
    if existing + len(tags) > MAX_TAGS:
        raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")


def check_unsupported(changes: Mapping[str, Any]) -> None:
    """Settings whose machinery Firebox does not have: refused clearly rather than silently ignored."""
    target = changes.get("dead_letter_target")
    if target and not target.startswith(("arn:aws:sqs:", "arn:aws:sns:")):
        raise InvalidParameterValueException(
            f"The dead-letter target {target} is not supported: Firebox sends dead-letter messages to SQS queues "
            "and SNS topics."
        )
    if changes.get("package_type", "Zip") != "Zip":
        raise InvalidParameterValueException(
            "Firebox runs Zip packages only: PackageType Image is not supported. Upload a zip archive as ZipFile."
        )
