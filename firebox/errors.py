"""The one error hierarchy of Firebox.

Every error a client can see is a `FireboxError` subclass that knows its AWS wire identity: the exception name
(`code`, sent as `x-amzn-ErrorType`), the HTTP status, the body key that carries the message (AWS is not consistent:
some exceptions use `Message`, others `message`) and the `Type` member (`User`, `Service` or absent).
`firebox.api.errors` turns them into responses; nothing else builds an error body.

Function errors (a handler raising) are not exceptions here: they are data in an invocation result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar


class FireboxError(Exception):
    """Root of every error Firebox reports to a client. Unexpected exceptions become `ServiceException`."""

    code: ClassVar[str] = "ServiceException"
    status: ClassVar[int] = 500
    message_key: ClassVar[str] = "Message"
    error_type: ClassVar[str | None] = "Service"
    query_code: ClassVar[str | None] = None
    """The error code of AWS's older query protocol (CloudWatch), sent as `x-amzn-query-error` to clients that ask."""

    def __init__(self, message: str, **members: Any) -> None:
        super().__init__(message)
        self.message = message
        self.members = members  # extra modelled members, e.g. Reason on TooManyRequestsException

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.error_type is not None:
            doc["Type"] = self.error_type
        doc[self.message_key] = self.message
        doc.update(self.members)
        return doc


class ServiceException(FireboxError):
    pass


class ResourceNotFoundException(FireboxError):
    code = "ResourceNotFoundException"
    status = 404
    error_type = "User"


class ResourceConflictException(FireboxError):
    code = "ResourceConflictException"
    status = 409
    message_key = "message"
    error_type = "User"


class InvalidParameterValueException(FireboxError):
    code = "InvalidParameterValueException"
    status = 400
    message_key = "message"
    error_type: ClassVar[str | None] = "User"


class UntypedInvalidParameterValueException(InvalidParameterValueException):
    """The same exception as AWS sends it for the concurrency-limit refusals: without a `Type` member."""

    error_type = None


class ResourceInUseException(FireboxError):
    """A resource (an event source mapping) busy with a change of state: try again later."""

    code = "ResourceInUseException"
    status = 400
    error_type = "User"


class InvalidRequestContentException(FireboxError):
    code = "InvalidRequestContentException"
    status = 400
    message_key = "message"
    error_type = "User"


class PreconditionFailedException(FireboxError):
    code = "PreconditionFailedException"
    status = 412
    message_key = "message"
    error_type = "User"


class TooManyRequestsException(FireboxError):
    code = "TooManyRequestsException"
    status = 429
    message_key = "message"
    error_type = "User"


class ZeroReservedConcurrency(TooManyRequestsException):
    """The throttle of a function whose reserved concurrency is 0: the same 429 to a caller, but the async queue
    takes its failure path at once (`ZeroReservedConcurrency`) instead of retrying."""


class RequestEntityTooLargeException(FireboxError):
    code = "RequestEntityTooLargeException"
    status = 413
    error_type = None


class UnknownOperationException(FireboxError):
    """A path or method that is no Lambda operation."""

    code = "UnknownOperationException"
    status = 404
    error_type = None


class ValidationException(FireboxError):
    """Constraint failures, in the AWS framework's wording.

    Build it with `ValidationException.of(...)` from (value, field, constraint) triples so the message reads
    `1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must ...`.
    """

    code = "ValidationException"
    status = 400
    message_key = "message"
    error_type = None

    @classmethod
    def of(cls, violations: Iterable[tuple[Any, str, str]]) -> ValidationException:
        texts = [
            f"Value {render_value(v)} at '{field}' failed to satisfy constraint: {c}" for v, field, c in violations
        ]
        noun = "error" if len(texts) == 1 else "errors"
        return cls(f"{len(texts)} validation {noun} detected: " + "; ".join(texts))


def render_value(value: Any) -> str:
    """Render a value as AWS's validation framework does: null bare, others quoted, maps as {k=v}."""
    if value is None:
        return "null"
    return f"'{_plain(value)}'"


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_plain(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    return str(value)


REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)


class PolicyLengthExceededException(FireboxError):
    code = "PolicyLengthExceededException"
    status = 400
    message_key = "message"
    error_type = "User"


class ProvisionedConcurrencyConfigNotFoundException(ResourceNotFoundException):
    code = "ProvisionedConcurrencyConfigNotFoundException"
    message_key = "message"


# CloudWatch Logs (AWS JSON 1.1). Its errors are all HTTP 400, ResourceNotFoundException included.


class InvalidParameterException(FireboxError):
    code = "InvalidParameterException"
    status = 400
    message_key = "message"
    error_type = None


class LogsResourceNotFoundException(FireboxError):
    code = "ResourceNotFoundException"
    status = 400
    message_key = "message"
    error_type = None


class ResourceAlreadyExistsException(FireboxError):
    code = "ResourceAlreadyExistsException"
    status = 400
    message_key = "message"
    error_type = None


# CloudWatch metrics (AWS JSON 1.0 / RPC v2 CBOR, query-compatible: the query protocol's codes go in a header).


class InvalidParameterValueError(FireboxError):
    code = "InvalidParameterValueException"
    query_code = "InvalidParameterValue"
    status = 400
    message_key = "message"
    error_type = None


class MissingParameterError(FireboxError):
    code = "MissingRequiredParameterException"
    query_code = "MissingParameter"
    status = 400
    message_key = "message"
    error_type = None


class InvalidParameterCombinationError(FireboxError):
    code = "InvalidParameterCombinationException"
    query_code = "InvalidParameterCombination"
    status = 400
    message_key = "message"
    error_type = None


# API Gateway (both the v1 REST API and the v2 API): `{"message": ...}` bodies, no Type member.


class GatewayError(FireboxError):
    message_key = "message"
    error_type = None


class NotFoundException(GatewayError):
    code = "NotFoundException"
    status = 404


class BadRequestException(GatewayError):
    code = "BadRequestException"
    status = 400


class ConflictException(GatewayError):
    code = "ConflictException"
    status = 409


# EventBridge (AWS JSON 1.1): every error is HTTP 400 with `__type` and `message`. ValidationException and
# ResourceAlreadyExistsException (above) are shared with the other APIs.


class EventsError(FireboxError):
    status = 400
    message_key = "message"
    error_type = None


class EventsResourceNotFoundException(EventsError):
    code = "ResourceNotFoundException"


class InvalidEventPatternException(EventsError):
    code = "InvalidEventPatternException"


class LimitExceededException(EventsError):
    code = "LimitExceededException"


# EventBridge Scheduler (REST-JSON): `{"Message": ...}` bodies, no Type member, statuses as its model has them.


class SchedulerValidationException(ValidationException):
    """Scheduler's ValidationException: the framework's wording (`ValidationException.of`), under `Message`."""

    message_key = "Message"


class SchedulerNotFoundException(FireboxError):
    code = "ResourceNotFoundException"
    status = 404
    error_type = None


class SchedulerConflictException(FireboxError):
    code = "ConflictException"
    status = 409
    error_type = None
