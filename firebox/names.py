"""Function names as clients write them: checked, and resolved to the function they name in this region.

`FunctionName` path values and stored destinations come as a name (`my-fn`), a partial ARN
(`123456789012:function:my-fn`) or a full ARN, each perhaps with a `:qualifier`. The control plane and the data
plane's router both resolve them here, so a name means the same function, with the same errors, wherever it enters.
"""

from __future__ import annotations

import dataclasses

from firebox.errors import InvalidParameterValueException, ResourceNotFoundException, ValidationException
from firebox.models.arn import FUNCTION_NAME, FunctionId, function_arn, parse_function_id


def check_function_name(name: str) -> None:
    if len(name) > 64:
        raise InvalidParameterValueException(
            ValidationException.of([(name, "functionName", "Member must have length less than or equal to 64")]).message
        )
    if not FUNCTION_NAME.fullmatch(name):
        raise ValidationException.of(
            [(name, "functionName", "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+")]
        )


def resolve_function(text: str, qualifier: str | None, region: str, account: str) -> FunctionId:
    """The function `text` names here, with `qualifier` (a `?Qualifier=`) merged into it; raises what Lambda raises
    for a malformed name, another region or account, or two qualifiers that disagree."""
    fid = parse_function_id(text)
    if fid is None:
        check_function_name(text)  # raises the validation error AWS gives
        raise ResourceNotFoundException(f"Function not found: {function_arn(region, account, text)}")
    if fid.region and fid.region != region:
        raise ResourceNotFoundException(f"Functions from '{fid.region}' are not reachable in this region ('{region}')")
    if fid.account and fid.account != account:
        raise ResourceNotFoundException(f"Function not found: {text}")
    if qualifier and fid.qualifier and qualifier != fid.qualifier:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return dataclasses.replace(fid, qualifier=qualifier or fid.qualifier)


@dataclasses.dataclass(frozen=True, slots=True)
class PublicEndpoints:
    """The host names function URLs and API Gateway APIs are served under, on the server's own listener:
    `<url-id>.lambda-url.<region>.<domain>` and `<api-id>.execute-api.<domain>` (AWS's shapes, on `domain`)."""

    region: str
    domain: str
    port: int
    scheme: str = "http"

    def function_url(self, url_id: str) -> str:
        return f"{self.scheme}://{url_id}.lambda-url.{self.region}.{self.domain}:{self.port}/"

    def api_endpoint(self, api_id: str) -> str:
        return f"{self.scheme}://{api_id}.execute-api.{self.domain}:{self.port}"

    def host_target(self, host: str) -> tuple[str, str] | None:
        """("url", url id) or ("api", api id) for a Host header naming one, else None."""
        name = host.partition(":")[0].lower() if not host.startswith("[") else ""
        label, _, rest = name.partition(".")
        if not label:
            return None
        if rest == f"lambda-url.{self.region}.{self.domain}":
            return "url", label
        if rest == f"execute-api.{self.domain}":
            return "api", label
        return None
