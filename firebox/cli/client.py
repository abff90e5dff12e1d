"""Client commands: they drive a running server through the Lambda API with boto3, like any other client."""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

SETTLE_TIMEOUT = 60.0
SETTLE_POLL = 0.05
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class CommandError(Exception):
    """A command that failed for a reason the user should read; printed without a traceback."""


def connect(endpoint_url: str, service: Literal["lambda", "logs"] = "lambda", read_timeout: int = 900) -> Any:
    """A boto3 client of `service` for the server at `endpoint_url`."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "firebox"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "firebox"),
        config=Config(retries={"total_max_attempts": 1}, read_timeout=read_timeout),
    )


@contextmanager
def api_errors() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise CommandError(f"{error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise CommandError(str(exc)) from None


def print_functions(lam: Any) -> None:
    with api_errors():
        rows = [
            (f["FunctionName"], f["Runtime"], str(f["MemorySize"]), str(f["Timeout"]), f["LastModified"])
            for page in lam.get_paginator("list_functions").paginate()
            for f in page["Functions"]
        ]
    print_table(("NAME", "RUNTIME", "MEMORY", "TIMEOUT", "LAST MODIFIED"), rows)


def print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Rows under a header, in columns as wide as their widest cell."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def firebox_get(url: str) -> Any:
    """GET one of Firebox's own endpoints (outside Lambda's API) and decode its JSON; errors as CommandError."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        error = json.loads(exc.read() or b"{}")
        raise CommandError(
            f"{exc.headers.get('x-amzn-ErrorType')}: {error.get('Message') or error.get('message')}"
        ) from None
    except OSError as exc:
        raise CommandError(f"Could not connect to the endpoint URL: {url} ({exc})") from None


def print_queue(endpoint_url: str, name: str) -> None:
    """Firebox's own endpoint (Lambda's API has no such view)."""
    doc = firebox_get(f"{endpoint_url.rstrip('/')}/firebox/functions/{urllib.parse.quote(name, safe='')}/queue")
    print(f"{doc['FunctionName']}: {doc['Queued']} queued, {doc['InFlight']} in flight")


def print_cost(endpoint_url: str, month: str | None, function: str | None) -> None:
    """A month's usage and cost per function and version, and the account's totals (Firebox's own endpoint)."""
    query = urllib.parse.urlencode({k: v for k, v in (("month", month), ("function", function)) if v})
    doc = firebox_get(f"{endpoint_url.rstrip('/')}/firebox/cost" + (f"?{query}" if query else ""))
    header = ("FUNCTION", "VERSION", "REQUESTS", "BILLED MS", "GB-S", "PROVISIONED GB-S", "EPHEMERAL GB-S", "COST")
    rows = [
        (
            f["FunctionName"],
            f["Version"],
            str(f["Requests"]),
            str(f["BilledDurationMs"]),
            f"{f['GBSeconds']:.6f}",
            f"{f['ProvisionedGBSeconds']:.6f}",
            f"{f['EphemeralGBSeconds']:.6f}",
            _usd(f["Cost"]["Total"]),
        )
        for f in doc["Functions"]
    ]
    print(f"usage in {doc['Month']} (UTC)")
    if rows:
        print_table(header, rows)
    else:
        print("no usage" + (f" by {function}" if function else ""))
    account, cost = doc["Account"], doc["Account"]["Cost"]
    print(
        f"account total: {account['Requests']} requests, {account['GBSeconds']:.6f} GB-s, "
        f"{account['ProvisionedGBSeconds']:.6f} provisioned GB-s, {account['EphemeralGBSeconds']:.6f} ephemeral GB-s"
    )
    print(
        f"  cost {_usd(cost['Total'])} (requests {_usd(cost['Requests'])}, duration {_usd(cost['Duration'])}, "
        f"provisioned {_usd(cost['ProvisionedConcurrency'])}, ephemeral storage {_usd(cost['EphemeralStorage'])})"
    )
    print(f"  with the free tier: {_usd(account['CostWithFreeTier']['Total'])}")


def _usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount == 0 or amount >= 0.01 else f"${amount:.8f}"


def delete_function(lam: Any, name: str) -> None:
    with api_errors():
        lam.delete_function(FunctionName=name)
    print(f"deleted {name}")


def invoke(lam: Any, args: argparse.Namespace) -> bool:
    """Invoke synchronously; print the log tail (if asked) to stderr and the result to stdout. Returns True when
    the function failed (the exit status is then 1)."""
    payload = args.payload
    if payload.startswith("@"):
        try:
            payload = Path(payload[1:]).read_text()
        except OSError as exc:
            raise CommandError(f"cannot read {payload[1:]}: {exc.strerror}") from None
    params: dict[str, Any] = {"FunctionName": args.name, "Payload": payload.encode()}
    if args.log_tail:
        params["LogType"] = "Tail"
    if args.qualifier:
        params["Qualifier"] = args.qualifier
    if args.asynchronous:
        with api_errors():
            response = lam.invoke(InvocationType="Event", **params)
        print(f"queued {response['ResponseMetadata']['RequestId']}")
        return False
    with api_errors():
        response = lam.invoke(**params)
        body = response["Payload"].read().decode("utf-8", "replace")
    if args.log_tail and response.get("LogResult"):
        sys.stderr.write(base64.b64decode(response["LogResult"]).decode("utf-8", "replace"))
    print(body)
    return bool(response.get("FunctionError"))


def zip_source(source: Path) -> bytes:
    """The archive to upload: a zip file as it is, or a directory zipped reproducibly (same files, same bytes)."""
    if source.is_file():
        return source.read_bytes()
    if not source.is_dir():
        raise CommandError(f"{source} is neither a directory nor a zip file")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), _FIXED_ZIP_TIME)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def deploy(lam: Any, args: argparse.Namespace) -> None:
    code = zip_source(Path(args.source))
    settings: dict[str, Any] = {"Handler": args.handler, "Runtime": args.runtime}
    if args.memory is not None:
        settings["MemorySize"] = args.memory
    if args.timeout is not None:
        settings["Timeout"] = args.timeout
    if args.env:
        pairs = [item.split("=", 1) for item in args.env]
        if any(len(pair) != 2 for pair in pairs):
            raise CommandError("--env takes KEY=VALUE")
        settings["Environment"] = {"Variables": dict(pairs)}
    with api_errors():
        try:
            lam.get_function_configuration(FunctionName=args.name)
            exists = True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            exists = False
        if exists:
            lam.update_function_code(FunctionName=args.name, ZipFile=code)
            _wait(lam, args.name, _updated)
            config = lam.update_function_configuration(FunctionName=args.name, **settings)
            config = _wait(lam, args.name, _updated)
            verb = "updated"
        else:
            lam.create_function(FunctionName=args.name, Role=args.role, Code={"ZipFile": code}, **settings)
            config = _wait(lam, args.name, _active)
            verb = "created"
    print(f"{verb} {config['FunctionArn']} ({config['CodeSize']} bytes, sha256 {config['CodeSha256']})")


def function_url(lam: Any, name: str, qualifier: str | None, auth_type: str) -> str:
    """The function's (or alias's) URL; one is created with `auth_type` if there is none yet."""
    target: dict[str, Any] = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
    with api_errors():
        try:
            url: str = lam.get_function_url_config(**target)["FunctionUrl"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            message = exc.response.get("Error", {}).get("Message", "")
            if message.startswith("Function not found"):
                raise
            url = lam.create_function_url_config(AuthType=auth_type, **target)["FunctionUrl"]
    return url


def _active(config: dict[str, Any]) -> bool | None:
    return {"Active": True, "Failed": False}.get(config.get("State", ""))


def _updated(config: dict[str, Any]) -> bool | None:
    return {"Successful": True, "Failed": False}.get(config.get("LastUpdateStatus", ""))


def _wait(lam: Any, name: str, done: Callable[[dict[str, Any]], bool | None]) -> dict[str, Any]:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        config: dict[str, Any] = lam.get_function_configuration(FunctionName=name)
        outcome = done(config)
        if outcome is True:
            return config
        if outcome is False:
            reason = config.get("StateReason") or config.get("LastUpdateStatusReason")
            raise CommandError(f"{name} failed: {reason}")
        if time.monotonic() > deadline:
            raise CommandError(f"{name} did not settle within {SETTLE_TIMEOUT:.0f} s")
        time.sleep(SETTLE_POLL)
