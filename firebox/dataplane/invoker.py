"""Running an invocation the router has admitted: a configuration → an environment (warm, or a cold start from
the zygote) → a result.

    run(config, request)       take an idle environment of exactly this configuration (LIFO) or create one,
                               initialise it if it has no runtime (cold start, or after a reset), send the event,
                               wait for the answer or the deadline, and build Lambda's log lines and result

A warm invocation does no disk write, no process creation and no thread hop. Timeouts and crashes reset the
environment (its runtime is killed; /tmp is kept); the next invocation initialises it again, as Lambda does.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from firebox.dataplane.environment import Answer, Environment, EnvironmentState, InitOutcome, RuntimeGone
from firebox.dataplane.pool import EnvironmentPool, environment_key
from firebox.dataplane.sandbox import Sandbox
from firebox.dataplane.spares import SparePool
from firebox.dataplane.zygote import Zygote
from firebox.models.function import LATEST, FunctionConfig
from firebox.models.invocation import InvocationResult, InvocationType, InvokeRequest, Outcome
from firebox.models.telemetry import InvocationRecord
from firebox.observability.billing import billed_duration_ms
from firebox.observability.telemetry import Telemetry
from firebox.observability.tracing import new_trace_id, xray_line

INIT_LIMIT = 10.0
"""Seconds an on-demand environment gets to initialise before the init is retried inside the invocation."""
MAX_RESPONSE_BYTES = 6_291_556
_SIGNAL_NAMES = {
    signal.SIGSEGV: "segmentation fault",
    signal.SIGKILL: "killed",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGINT: "interrupt",
    signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe",
}


@dataclass(frozen=True, slots=True)
class DataPlaneSettings:
    region: str
    account_id: str
    endpoint_url: str
    """How code inside an environment reaches this server (AWS_ENDPOINT_URL_LAMBDA)."""
    endpoint_variables: Mapping[str, str] = field(default_factory=dict)
    """The `AWS_ENDPOINT_URL*` variables every environment gets: this server for the APIs it hosts, the configured
    endpoints for the others (`firebox.aws_endpoints`)."""
    billing_quantum_ms: int = 1
    """Billed Duration is rounded up to a multiple of this."""
    bill_init: bool = False
    """An on-demand cold start bills its Init Duration too."""


@dataclass(frozen=True, slots=True)
class _Failure:
    outcome: Outcome
    payload: bytes
    report_status: str = ""


class Invoker:
    def __init__(
        self,
        settings: DataPlaneSettings,
        pool: EnvironmentPool,
        zygotes: Mapping[str, Zygote],
        sandbox: Sandbox,
        code_dir: Callable[[str], Path],
        layer_dir: Callable[[list[str]], Path],
        log_sink: Callable[[FunctionConfig, str, str], None],
        spares: SparePool,
        telemetry: Telemetry,
    ) -> None:
        self.telemetry = telemetry
        self.spares = spares
        self.settings = settings
        self.pool = pool
        self.zygotes = zygotes
        self.sandbox = sandbox
        self._code_dir = code_dir
        self._layer_dir = layer_dir
        self._log_sink = log_sink
        self._base_environments: dict[str, dict[str, str]] = {}

    async def run(self, config: FunctionConfig, request: InvokeRequest) -> InvocationResult:
        """Run an admitted invocation of `config` in an idle environment of exactly this configuration (LIFO), or
        in a new one."""
        key = environment_key(config)
        env = self.pool.acquire_nowait(config, key)
        fresh = env is None
        if env is None:
            env = self.new_environment(config, key)
            self.pool.add(env)
        try:
            return await self._execute(env, fresh, config, request)
        finally:
            self.pool.release(env)

    def new_environment(self, config: FunctionConfig, key: str, provisioned: bool = False) -> Environment:
        """A new environment for `config` (in a spare's sandbox when one is ready); not started yet."""
        base = self._base_environment(config.runtime)
        if provisioned:
            base = {**base, "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency"}
        return Environment(
            uuid.uuid4().hex,
            key,
            config,
            self._code_dir(config.code.sha256),
            self._layer_dir([layer.sha256 for layer in config.layers]),
            self.zygotes[config.runtime],
            self.sandbox,
            base,
            time.time(),
            spare=self.spares.take(config.runtime),
        )

    async def _execute(
        self, env: Environment, fresh: bool, config: FunctionConfig, request: InvokeRequest
    ) -> InvocationResult:
        request_id = request.request_id
        trace_id = request.trace_id or new_trace_id()
        queue_wait_ms = None if request.enqueued_at is None else (time.time() - request.enqueued_at) * 1000
        started = time.perf_counter()
        prelude = ""
        init_duration: float | None = None
        failure: _Failure | None = None
        if env.state is EnvironmentState.COLD:
            prelude, init_duration, failure = await self._initialize(env, fresh, config, request_id)
        spent = time.perf_counter() - started if init_duration is None else 0.0
        timeout = config.timeout - spent
        answer: Answer | None = None
        invoke_started = time.perf_counter()
        if failure is None and timeout > 0:
            header = {
                "type": "invoke",
                "request_id": request_id,
                "deadline_ms": int((time.time() + timeout) * 1000),
                "invoked_arn": request.function.arn,
                "client_context": request.client_context,
                "trace_id": trace_id,
            }
            try:
                answer = await env.invoke(header, request.payload, timeout)
            except TimeoutError:
                failure = self._timed_out(config, request_id)
            except RuntimeGone:
                failure = await self._gone(env, request_id)
        elif failure is None:
            failure = self._timed_out(config, request_id)
        duration_ms = (time.perf_counter() - (invoke_started if init_duration is not None else started)) * 1000
        output = env.take_output()
        if output and not output.endswith("\n"):  # a last line without its newline is still a line of its own
            output += "\n"
        memory = env.peak_memory_mb()
        if answer is not None and answer.kind == "result" and len(answer.payload) > MAX_RESPONSE_BYTES:
            failure = _Failure(
                Outcome.FUNCTION_ERROR,
                _platform_error(
                    "Function.ResponseSizeTooLarge",
                    f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
                    message_first=True,
                ),
            )
        if failure is not None:
            outcome, payload = failure.outcome, failure.payload
            if failure.outcome is Outcome.TIMEOUT:
                duration_ms = config.timeout * 1000.0
                output += f"{_iso_now()} {request_id} Task timed out after {config.timeout:.2f} seconds\n"
        else:
            assert answer is not None
            outcome = Outcome.SUCCESS if answer.kind == "result" else Outcome.FUNCTION_ERROR
            payload = answer.payload
        billed = billed_duration_ms(
            duration_ms,
            config.timeout * 1000,
            quantum_ms=self.settings.billing_quantum_ms,
            init_duration_ms=init_duration,
            provisioned=env.provisioned,
            bill_init=self.settings.bill_init,
        )
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {config.memory_size} MB\tMax Memory Used: {memory} MB\t"
        )
        if init_duration is not None:
            report += f"Init Duration: {init_duration:.2f} ms\t"
        if failure is not None and failure.report_status:
            report += failure.report_status
        invocation_log = (
            f"START RequestId: {request_id} Version: {config.version}\n{output}END RequestId: {request_id}\n{report}\n"
        )
        if config.tracing_mode == "Active":
            invocation_log += xray_line(trace_id)
        self._log_sink(config, env.log_stream, prelude + invocation_log)
        self.telemetry.invocation(
            InvocationRecord(
                function=config.name,
                resource=_resource(request),
                executed_version=config.version,
                alias=request.function.qualifier is not None and not _is_version(request.function.qualifier),
                outcome=outcome,
                timestamp=time.time(),
                duration_ms=duration_ms,
                billed_duration_ms=billed,
                memory_size_mb=config.memory_size,
                ephemeral_storage_mb=config.ephemeral_storage,
                max_memory_used_mb=memory,
                init_duration_ms=init_duration,
                provisioned=env.provisioned,
                asynchronous=request.invocation_type is InvocationType.EVENT,
                trace_id=trace_id,
                cpu_time_ms=answer.cpu_ms if answer is not None else None,
                tmp_bytes=env.tmp_bytes(),
                request_id=request_id,
                queue_wait_ms=queue_wait_ms,
            )
        )
        return InvocationResult(
            request_id=request_id,
            payload=payload,
            outcome=outcome,
            executed_version=config.version,
            log=invocation_log,
            duration_ms=duration_ms,
            billed_duration_ms=billed,
            memory_size_mb=config.memory_size,
            max_memory_used_mb=memory,
            init_duration_ms=init_duration,
            trace_id=trace_id,
        )

    async def _initialize(
        self, env: Environment, fresh: bool, config: FunctionConfig, request_id: str
    ) -> tuple[str, float | None, _Failure | None]:
        """Start and initialise a runtime in `env`. A brand-new environment gets the 10 s init phase (reported as
        Init Duration); if that fails, or the environment was reset, init runs again inside the invocation."""
        prelude = ""
        if fresh:
            zygote = env.zygote
            version = ".".join(str(part) for part in zygote.python[:2])
            digest = hashlib.sha256(f"{zygote.interpreter}:{zygote.python}".encode()).hexdigest()
            prelude = (
                f"INIT_START Runtime Version: python:{version}.firebox\t"
                f"Runtime Version ARN: arn:aws:lambda:{self.settings.region}::runtime:{digest}\n"
            )
            started = time.perf_counter()
            await env.start()
            outcome = await env.initialize(INIT_LIMIT)
            prelude += env.take_output()
            if outcome.ok:
                return prelude, (time.perf_counter() - started) * 1000, None
            prelude += _init_report(outcome, "init")
        await env.start()
        outcome = await env.initialize(float(config.timeout))
        prelude += env.take_output()
        if outcome.ok:
            return prelude, None, None
        if outcome.timed_out:
            return prelude, None, self._timed_out(config, request_id)
        if outcome.error:
            error_type = json.loads(outcome.error).get("errorType", "Runtime.Unknown")
            return (
                prelude,
                None,
                _Failure(Outcome.FUNCTION_ERROR, outcome.error, f"Status: error\tError Type: {error_type}"),
            )
        return prelude, None, self._exit_failure(env, outcome.exit_status, request_id)

    def _timed_out(self, config: FunctionConfig, request_id: str) -> _Failure:
        return _Failure(
            Outcome.TIMEOUT,
            _platform_error(
                "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {config.timeout:.2f} seconds"
            ),
            "Status: timeout",
        )

    async def _gone(self, env: Environment, request_id: str) -> _Failure:
        status = await env.exit_status()
        await env.kill()
        return self._exit_failure(env, status, request_id)

    def _exit_failure(self, env: Environment, status: int | None, request_id: str) -> _Failure:
        if self.sandbox.out_of_memory(env.handle):
            message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
            return _Failure(
                Outcome.OUT_OF_MEMORY,
                _platform_error("Runtime.OutOfMemory", message),
                "Status: error\tError Type: Runtime.OutOfMemory",
            )
        outcome = Outcome.CRASH
        if status is None or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            reason = "Runtime exited without providing a reason"
        elif os.WIFSIGNALED(status):
            if os.WTERMSIG(status) == signal.SIGKILL:
                outcome = Outcome.KILLED
            sig = os.WTERMSIG(status)
            reason = f"Runtime exited with error: signal: {_SIGNAL_NAMES.get(signal.Signals(sig), f'signal {sig}')}"
        else:
            reason = f"Runtime exited with error: exit status {os.WEXITSTATUS(status)}"
        return _Failure(
            outcome,
            _platform_error("Runtime.ExitError", f"RequestId: {request_id} Error: {reason}"),
            "Status: error\tError Type: Runtime.ExitError",
        )

    def _base_environment(self, runtime: str) -> dict[str, str]:
        base = self._base_environments.get(runtime)
        if base is None:
            interpreter_dir = os.path.dirname(self.zygotes[runtime].interpreter)
            base = {
                "AWS_REGION": self.settings.region,
                "AWS_DEFAULT_REGION": self.settings.region,
                "AWS_ACCESS_KEY_ID": "firebox",
                "AWS_SECRET_ACCESS_KEY": "firebox",
                "AWS_SESSION_TOKEN": "firebox",
                **self.settings.endpoint_variables,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "LAMBDA_RUNTIME_DIR": "/var/runtime",
                "TZ": ":UTC",
                "LANG": "en_US.UTF-8",
                "LC_CTYPE": "C.UTF-8",
                "PATH": f"{interpreter_dir}:/usr/local/bin:/usr/bin:/bin:/opt/bin",
                "SHLVL": "0",
            }
            self._base_environments[runtime] = base
        return base


def _init_report(outcome: InitOutcome, phase: str) -> str:
    if outcome.timed_out:
        return f"INIT_REPORT Init Duration: {outcome.duration_ms:.2f} ms\tPhase: {phase}\tStatus: timeout\n"
    error_type = "Runtime.Unknown" if outcome.error else "Runtime.ExitError"
    return (
        f"INIT_REPORT Init Duration: {outcome.duration_ms:.2f} ms\tPhase: {phase}\tStatus: error\t"
        f"Error Type: {error_type}\n"
    )


def _platform_error(error_type: str, message: str, message_first: bool = False) -> bytes:
    doc = (
        {"errorMessage": message, "errorType": error_type}
        if message_first
        else {"errorType": error_type, "errorMessage": message}
    )
    return json.dumps(doc).encode()


def _is_version(qualifier: str) -> bool:
    return qualifier == LATEST or qualifier.isdigit()


def _resource(request: InvokeRequest) -> str | None:
    """CloudWatch's `Resource` dimension: `function:qualifier` when the caller named one."""
    ref = request.function
    return f"{ref.name}:{ref.qualifier}" if ref.qualifier else None


def _iso_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
