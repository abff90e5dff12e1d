"""Settings, built once at the edge and passed down explicitly.

Precedence, highest first:

1. command-line flags (`firebox serve --port 9010`),
2. environment variables `FIREBOX_<FIELD>` (`FIREBOX_PORT=9010`, `FIREBOX_DATA_DIR=/srv/firebox`); the
   `aws_endpoint_url*` fields are also read from the AWS SDKs' own `AWS_ENDPOINT_URL*` variables,
3. the config file named by `--config` or `FIREBOX_CONFIG` (TOML; top-level keys are the field names below, and a
   `[runtimes]` table maps runtime names to interpreters, e.g. `"python3.12" = "/usr/bin/python3.12"`),
4. the defaults in `Settings`.

No module reads `os.environ` for settings anywhere else.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9009
DEFAULT_DATA_DIR = "./.firebox"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "000000000000"
DEFAULT_CONCURRENCY_LIMIT = 1000
"""Account-wide concurrent executions, as Lambda's default regional quota."""
DEFAULT_MAX_ARCHIVE_ENTRIES = 65535
"""Entries accepted in one zip archive: the classic zip format's own ceiling. Guards against entry-count bombs."""
DEFAULT_CONTROL_THREADS = 4
"""Threads that run blocking control-plane work (SQLite, unzip) off the event loop."""
DEFAULT_ENVIRONMENT_IDLE_TTL = 600.0
DEFAULT_SHUTDOWN_GRACE = 2.0


class ConfigError(Exception):
    """A setting that cannot be used; reported at start, before anything listens."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    http_domain: str = "localhost"
    """The domain function URLs and API Gateway APIs are served under, on this server's port:
    `<url-id>.lambda-url.<region>.<http_domain>` and `<api-id>.execute-api.<http_domain>` (Host-routed; `*.localhost`
    resolves to loopback). Also served path-style at `/_aws/lambda-url/<url-id>/` and `/_aws/execute-api/<api-id>/`."""
    unsafe_public_bind_without_auth: bool = False
    """Allow a non-loopback bind address although the API has no authentication yet."""
    runtimes: Mapping[str, str] = field(default_factory=dict)
    """Runtime name → interpreter path. Empty means: discover the python3.X interpreters on this host."""
    concurrency_limit: int = DEFAULT_CONCURRENCY_LIMIT
    max_archive_entries: int = DEFAULT_MAX_ARCHIVE_ENTRIES
    control_threads: int = DEFAULT_CONTROL_THREADS
    sandbox: str = "auto"
    """Sandbox backend: `auto` (linux when possible), `linux` or `process`."""
    environment_idle_ttl: float = DEFAULT_ENVIRONMENT_IDLE_TTL
    """Seconds an idle execution environment is kept warm before it is retired."""
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE
    """Seconds a retired environment gets between SIGTERM and SIGKILL."""
    async_payload_limit: int = 1_048_576
    """Largest Event invocation payload in bytes (Lambda's since late 2025; the seeds give the older 262,144)."""
    async_concurrency: int = 16
    """Event invocations run at once by the async workers."""
    aws_endpoint_url: str = ""
    """The endpoint of every AWS service Firebox talks to that has none of its own below (AWS_ENDPOINT_URL, as the
    AWS SDKs read it; also read from that variable). Empty: no such service is reachable."""
    aws_endpoint_url_sqs: str = ""
    """SQS, for mappings, destinations and dead-letter queues (also read from AWS_ENDPOINT_URL_SQS)."""
    aws_endpoint_url_kinesis: str = ""
    aws_endpoint_url_dynamodb: str = ""
    aws_endpoint_url_dynamodb_streams: str = ""
    aws_endpoint_url_sns: str = ""
    aws_endpoint_url_s3: str = ""
    sqs_endpoint: str = ""
    """The older name of `aws_endpoint_url_sqs`, still read."""
    brokers: Mapping[str, str] = field(default_factory=dict)
    """Amazon MQ broker ARN → the AMQP URL of the RabbitMQ broker it stands for (a `[brokers]` table in the config
    file): what a RabbitMQ event source mapping's EventSourceArn names."""
    outbound_threads: int = 64
    """Threads that carry Firebox's own calls to AWS services (SQS long polls hold one each for up to 20 s)."""
    poll_interval_scale: float = 1.0
    """Multiplies the pauses of event-source pollers between empty polls and after errors; tests shorten them."""
    async_retry_scale: float = 1.0
    """Multiplies the delays between async retries (60 s, 120 s) and backoffs; tests shorten them."""
    log_max_bytes: int = 1_073_741_824
    """Ceiling on the function log text kept in the store; past it the oldest log blocks are deleted first."""
    log_retention_interval: float = 60.0
    """Seconds between sweeps that apply log groups' retention and `log_max_bytes`; tests shorten it."""
    otlp_endpoint: str = ""
    """An OpenTelemetry collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`): invocation spans are exported
    there as JSON to `/v1/traces`. Empty: no export."""
    telemetry: bool = True
    """Record logs, metrics, billing and traces of invocations. Turned off only to measure what they cost
    (bench/observability.py): nothing is written then, not even the log lines."""
    log_level: str = "info"
    billing_quantum_ms: int = 1
    """Billed duration is rounded up to a multiple of this (1 ms as AWS today; 100 for the legacy rule)."""
    bill_init: bool = False
    """Bill an on-demand cold start's Init Duration too (AWS's rule since 2025-08); the spec's default is not to."""
    price_request: float = 0.0000002
    """USD per request."""
    price_gb_second: float = 0.0000166667
    """USD per GB-second of billed duration (GB = memory MB / 1024)."""
    price_provisioned_gb_second: float = 0.0000041667
    """USD per GB-second of provisioned concurrency configured, used or not."""
    price_ephemeral_gb_second: float = 0.0000000309
    """USD per GB-second of ephemeral storage above the free 512 MB."""
    free_tier_requests: int = 1_000_000
    """Requests free per account and month (applied in the cost report's free-tier totals)."""
    free_tier_gb_seconds: float = 400_000.0
    """Duration GB-seconds free per account and month."""
    billing_flush_interval: float = 1.0
    """Seconds between writes of the billing ledger's pending sums to the store."""
    billing_provisioned_interval: float = 5.0
    """Seconds between accruals of provisioned-concurrency GB-seconds; tests shorten it."""

    @property
    def database_path(self) -> Path:
        return self.data_dir / "firebox.db"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def load(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_path: str | Path | None = None,
) -> Settings:
    """Build `Settings` from flags (`overrides`, None values ignored), the environment and a config file."""
    environ = environ or {}
    values: dict[str, Any] = {}
    path = config_path or environ.get("FIREBOX_CONFIG")
    if path:
        values.update(_read_file(Path(path)))
    for name in _FIELDS:
        raw = environ.get(f"FIREBOX_{name.upper()}")
        if raw is None and name.startswith("aws_endpoint_url"):
            raw = environ.get(name.upper())  # the AWS SDKs' own variable
        if raw is not None:
            values[name] = raw
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    settings = Settings(**{name: _coerce(name, value) for name, value in values.items()})
    _check(settings)
    return settings


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(doc) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return doc


def _coerce(name: str, value: Any) -> Any:
    if name not in _FIELDS:
        raise ConfigError(f"unknown setting {name!r}")
    default = _FIELDS[name].default
    if name == "data_dir":
        return Path(value)
    if name == "brokers":
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError("brokers must map broker ARNs to amqp:// URLs (a [brokers] table in the config file)")
        return dict(value)
    if name == "runtimes":
        if isinstance(value, str):  # FIREBOX_RUNTIMES=python3.12=/usr/bin/python3.12,python3.11=...
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            if any(len(p) != 2 for p in pairs):
                raise ConfigError("runtimes must be name=interpreter pairs separated by commas")
            value = {k.strip(): v.strip() for k, v in pairs}
        if not isinstance(value, Mapping):
            raise ConfigError("runtimes must map runtime names to interpreter paths")
        return dict(value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise ConfigError(f"{name} must be true or false, not {value!r}")
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be an integer, not {value!r}") from None
    return str(value)


def _check(settings: Settings) -> None:
    if not 0 <= settings.port <= 65535:
        raise ConfigError(f"port {settings.port} is out of range")
    if not (len(settings.account_id) == 12 and settings.account_id.isdigit()):
        raise ConfigError(f"account_id must be 12 digits, not {settings.account_id!r}")
    if settings.concurrency_limit < 100:
        raise ConfigError("concurrency_limit must be at least 100 (Lambda keeps 100 unreserved)")
    if settings.sandbox not in ("auto", "linux", "process"):
        raise ConfigError(f"sandbox must be auto, linux or process, not {settings.sandbox!r}")
    if settings.environment_idle_ttl <= 0 or settings.shutdown_grace < 0:
        raise ConfigError("environment_idle_ttl must be positive and shutdown_grace not negative")
    if settings.log_max_bytes < 1 or settings.log_retention_interval <= 0:
        raise ConfigError("log_max_bytes and log_retention_interval must be positive")
    if settings.outbound_threads < 1 or settings.poll_interval_scale <= 0:
        raise ConfigError("outbound_threads and poll_interval_scale must be positive")
    for name in _FIELDS:
        value = getattr(settings, name)
        endpoint = name.startswith("aws_endpoint_url") or name == "sqs_endpoint"
        if endpoint and value and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{name} must be an http:// or https:// URL, not {value!r}")
    if settings.max_archive_entries < 1 or settings.control_threads < 1:
        raise ConfigError("max_archive_entries and control_threads must be positive")
    _check_billing(settings)


def _check_billing(settings: Settings) -> None:
    if not 1 <= settings.billing_quantum_ms <= 60_000:
        raise ConfigError(f"billing_quantum_ms must be between 1 and 60000, not {settings.billing_quantum_ms}")
    prices = {
        "price_request": settings.price_request,
        "price_gb_second": settings.price_gb_second,
        "price_provisioned_gb_second": settings.price_provisioned_gb_second,
        "price_ephemeral_gb_second": settings.price_ephemeral_gb_second,
        "free_tier_requests": settings.free_tier_requests,
        "free_tier_gb_seconds": settings.free_tier_gb_seconds,
    }
    for name, value in prices.items():
        if not 0 <= value < float("inf"):
            raise ConfigError(f"{name} must be a finite number, zero or more, not {value}")
    if not (0 < settings.billing_flush_interval <= 3600 and 0 < settings.billing_provisioned_interval <= 3600):
        raise ConfigError("billing_flush_interval and billing_provisioned_interval must be between 0 and 3600 s")
