"""Function URLs: a dedicated HTTP endpoint for `$LATEST` or an alias of a function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AUTH_NONE = "NONE"
AUTH_IAM = "AWS_IAM"
BUFFERED = "BUFFERED"
RESPONSE_STREAM = "RESPONSE_STREAM"


@dataclass(frozen=True, slots=True)
class FunctionUrlConfig:
    url_id: str
    """32 lower-case alphanumerics: the first label of the URL's host name."""
    function_name: str
    qualifier: str | None
    """The alias the URL invokes; None for the unqualified function (`$LATEST`)."""
    auth_type: str
    cors: dict[str, Any] | None
    """The `Cors` member as the API takes it (AllowOrigins, AllowMethods, ...), or None."""
    invoke_mode: str
    created: float
    modified: float
