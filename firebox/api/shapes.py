"""Translation between Lambda's wire documents and Firebox's models, in both directions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from firebox.clock import aws_timestamp
from firebox.models.function import FunctionConfig

_PLAIN_FIELDS = {
    "Runtime": "runtime",
    "Handler": "handler",
    "Role": "role",
    "Description": "description",
    "Timeout": "timeout",
    "MemorySize": "memory_size",
    "PackageType": "package_type",
    "Layers": "layers",
    "Publish": "publish",
}
_ECHOED_FIELDS = ("VpcConfig", "KMSKeyArn", "FileSystemConfigs", "ImageConfig", "SnapStart")
"""Accepted and reported back, with no effect on how Firebox runs the function."""
_LOG_FIELDS = {
    "LogFormat": "log_format",
    "LogGroup": "log_group",
    "ApplicationLogLevel": "application_log_level",
    "SystemLogLevel": "system_log_level",
}


def config_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """The `FunctionConfig` changes a CreateFunction or UpdateFunctionConfiguration body asks for."""
    changes: dict[str, Any] = {field: body[key] for key, field in _PLAIN_FIELDS.items() if key in body}
    if "EphemeralStorage" in body:
        changes["ephemeral_storage"] = body["EphemeralStorage"]["Size"]
    if "Environment" in body:
        changes["environment"] = dict(body["Environment"].get("Variables") or {})
    if "Architectures" in body:
        changes["architectures"] = tuple(body["Architectures"])
    if "TracingConfig" in body:
        changes["tracing_mode"] = body["TracingConfig"].get("Mode") or "PassThrough"
    if "DeadLetterConfig" in body:
        changes["dead_letter_target"] = body["DeadLetterConfig"].get("TargetArn") or None
    if "LoggingConfig" in body:
        for key, field in _LOG_FIELDS.items():
            if key in body["LoggingConfig"]:
                changes[field] = body["LoggingConfig"][key]
    echoed = {key: body[key] for key in _ECHOED_FIELDS if key in body}
    if echoed:
        changes["echoed"] = echoed
    return changes


def function_configuration(config: FunctionConfig, arn: str, *, listing: bool = False) -> dict[str, Any]:
    """A FunctionConfiguration document. `listing` leaves out what ListFunctions leaves out (the state fields)."""
    doc: dict[str, Any] = {
        "FunctionName": config.name,
        "FunctionArn": arn,
        "Runtime": config.runtime,
        "Role": config.role,
        "Handler": config.handler,
        "CodeSize": config.code.size,
        "Description": config.description,
        "Timeout": config.timeout,
        "MemorySize": config.memory_size,
        "LastModified": aws_timestamp(config.last_modified),
        "CodeSha256": config.code.sha256_base64,
        "Version": config.version,
    }
    if config.environment is not None:
        doc["Environment"] = {"Variables": dict(config.environment)}
    if config.dead_letter_target:
        doc["DeadLetterConfig"] = {"TargetArn": config.dead_letter_target}
    doc["TracingConfig"] = {"Mode": config.tracing_mode}
    if config.layers:
        doc["Layers"] = [{"Arn": layer.arn, "CodeSize": layer.size} for layer in config.layers]
    doc["RevisionId"] = config.revision_id
    if not listing:
        doc["State"] = config.state.value
        if config.state_reason:
            doc["StateReason"] = config.state_reason
            doc["StateReasonCode"] = config.state_reason_code
        if config.last_update_status is not None:
            doc["LastUpdateStatus"] = config.last_update_status.value
            if config.last_update_status_reason:
                doc["LastUpdateStatusReason"] = config.last_update_status_reason
                doc["LastUpdateStatusReasonCode"] = config.last_update_status_reason_code
    doc["PackageType"] = "Zip"
    doc["Architectures"] = list(config.architectures)
    doc["EphemeralStorage"] = {"Size": config.ephemeral_storage}
    doc["SnapStart"] = {
        "ApplyOn": config.echoed.get("SnapStart", {}).get("ApplyOn", "None"),
        "OptimizationStatus": "Off",
    }
    logging_doc: dict[str, Any] = {
        "LogFormat": config.log_format,
        "LogGroup": config.log_group_name,
    }
    if config.log_format == "JSON":
        logging_doc["ApplicationLogLevel"] = config.application_log_level or "INFO"
        logging_doc["SystemLogLevel"] = config.system_log_level or "INFO"
    doc["LoggingConfig"] = logging_doc
    for key in ("VpcConfig", "KMSKeyArn", "FileSystemConfigs"):
        if key in config.echoed:
            doc[key] = config.echoed[key]
    if "ImageConfig" in config.echoed:
        doc["ImageConfigResponse"] = {"ImageConfig": config.echoed["ImageConfig"]}
    return doc
