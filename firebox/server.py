"""`firebox serve`: composes the store, the planes and the HTTP API, and runs them until a signal.

Start-up, in order: refuse an unsafe bind address → lock the data directory (one server per directory) → open the
store (migrations) and the code files → discover runtimes → settle what a previous run left unsettled → listen.
Shutdown on SIGINT/SIGTERM: stop accepting, let requests in flight finish (bounded by `SHUTDOWN_GRACE`), wait for
background settling, stop the worker threads, close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import uvicorn

from firebox import __version__, runtimes
from firebox.api.app import build_app
from firebox.api.frontdoor.apis import HTTP, REST, ApiDoor
from firebox.api.frontdoor.authentication import SignaturePresence
from firebox.api.frontdoor.doors import FrontDoors
from firebox.api.frontdoor.function_urls import FunctionUrlEndpoint, UrlDirectory
from firebox.api.frontdoor.http_apis import HttpApiEndpoint
from firebox.api.frontdoor.rest_apis import RestApiEndpoint
from firebox.api.services import Services
from firebox.asyncinvoke.destinations import Deliverer
from firebox.asyncinvoke.queue import AsyncQueue
from firebox.asyncinvoke.worker import AsyncWorkers
from firebox.aws_endpoints import AwsClients, AwsEndpoints
from firebox.clock import SystemClock
from firebox.config import ConfigError, Settings
from firebox.control.concurrency import ConcurrencyService
from firebox.control.event_invoke import EventInvokeConfigService
from firebox.control.event_targets import EventTargetService
from firebox.control.events import EventBridgeService
from firebox.control.functions import FunctionService
from firebox.control.http_apis import HttpApiService
from firebox.control.layers import LayerService
from firebox.control.mappings import MappingService
from firebox.control.policies import PolicyService
from firebox.control.provisioned import ProvisionedConfigService
from firebox.control.rest_apis import RestApiService
from firebox.control.schedules import ScheduleService
from firebox.control.urls import FunctionUrlService
from firebox.control.versions import VersionService
from firebox.dataplane import runtime_lib as runtime_lib_farm
from firebox.dataplane.catalog import FunctionCatalog
from firebox.dataplane.concurrency import ConcurrencyLimiter
from firebox.dataplane.invoker import DataPlaneSettings, Invoker
from firebox.dataplane.pool import EnvironmentPool
from firebox.dataplane.provisioned import ProvisionedConcurrency
from firebox.dataplane.router import Router
from firebox.dataplane.sandbox import create_sandbox
from firebox.dataplane.spares import SparePool
from firebox.dataplane.zygote import Zygote
from firebox.eventsources.event_bus import EventBridge
from firebox.eventsources.manager import MappingManager
from firebox.eventsources.schedule_runner import ScheduleRunner
from firebox.expressions.schedule import parse as parse_schedule
from firebox.models.function import FunctionConfig
from firebox.names import PublicEndpoints
from firebox.observability.billing import PriceTable
from firebox.observability.emf import EmfExtractor
from firebox.observability.ledger import Ledger
from firebox.observability.logs import LogWriter
from firebox.observability.metrics import MetricsRecorder
from firebox.observability.otlp import SpanExporter
from firebox.observability.prometheus import PrometheusExporter
from firebox.observability.telemetry import Telemetry
from firebox.store.code_files import CodeFiles
from firebox.store.sqlite import SQLiteStore

log = logging.getLogger("firebox")
SHUTDOWN_GRACE = 3.0
"""Seconds requests in flight get to finish after a shutdown signal (the whole shutdown stays under 5 s)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Server:
    def __init__(self, settings: Settings, environ: dict[str, str] | None = None) -> None:
        if not is_loopback(settings.host) and not settings.unsafe_public_bind_without_auth:
            raise ConfigError(
                f"refusing to listen on {settings.host}: Firebox has no authentication yet, so it only listens on "
                "loopback addresses. Start it with --unsafe-public-bind-without-auth to expose it anyway."
            )
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._lock_data_dir()
        self.store = SQLiteStore(settings.database_path)
        self.code_files = CodeFiles(settings.data_dir / "code")
        self.runtimes = runtimes.discover(settings.runtimes, environ if environ is not None else dict(os.environ))
        self.executor = ThreadPoolExecutor(max_workers=settings.control_threads, thread_name_prefix="firebox-control")
        self.aws_endpoints = AwsEndpoints.from_settings(settings)
        self.aws_clients = AwsClients(self.aws_endpoints, settings.outbound_threads)
        self.functions = FunctionService(
            settings, self.store, self.code_files, self.runtimes, self.executor, SystemClock()
        )
        self.sandbox = create_sandbox(settings.sandbox, settings.data_dir / "envs")
        runtime_lib = runtime_lib_farm.prepare()
        self.zygotes = {name: Zygote(name, path, runtime_lib) for name, path in self.runtimes.items()}
        self.catalog = FunctionCatalog(self.store, self.executor)
        self.pool = EnvironmentPool(settings.environment_idle_ttl, settings.shutdown_grace)
        self.logs = LogWriter(self.store, self.executor, settings.log_max_bytes, settings.log_retention_interval)
        self.telemetry = Telemetry(settings.telemetry)
        self.ledger = Ledger(
            self.store,
            self.executor,
            PriceTable.from_settings(settings),
            settings.billing_flush_interval,
            settings.billing_provisioned_interval,
        )
        self.telemetry.on_invocation(self.ledger.record)
        self.prometheus = PrometheusExporter()
        self.telemetry.on_invocation(self.prometheus.invocation)
        self.telemetry.on_throttle(self.prometheus.throttle)
        self.spans = (
            SpanExporter(settings.otlp_endpoint, self.executor, settings.region) if settings.otlp_endpoint else None
        )
        if self.spans is not None:
            self.telemetry.on_invocation(self.spans.invocation)
        self.spares = SparePool(self.sandbox, self.zygotes)
        self.queue = AsyncQueue(self.store, self.executor)
        self.limiter = ConcurrencyLimiter(settings.concurrency_limit)
        self.data_plane_settings = DataPlaneSettings(
            settings.region,
            settings.account_id,
            self.endpoint_url,
            self.aws_endpoints.environment(self.endpoint_url),
            billing_quantum_ms=settings.billing_quantum_ms,
            bill_init=settings.bill_init,
        )
        self.invoker = Invoker(
            self.data_plane_settings,
            self.pool,
            self.zygotes,
            self.sandbox,
            self.code_files.unpacked_path,
            self.code_files.layer_set,
            self.logs.emit if settings.telemetry else _discard_log,
            self.spares,
            self.telemetry,
        )
        self.router = Router(
            self.data_plane_settings,
            self.catalog,
            self.limiter,
            self.invoker,
            self.telemetry,
            self.queue,
            settings.async_payload_limit,
        )
        self.event_bus = EventBridge(
            self.store,
            self.store,
            self.executor,
            self.router,
            settings.region,
            settings.account_id,
            settings.async_retry_scale,
            on_dead_letter=lambda: self.deliverer.wake(),
        )
        self.events = EventBridgeService(
            self.store, self.executor, settings.region, settings.account_id, SystemClock(), self.event_bus
        )
        self.events.on_change(self.event_bus.changed)
        self.deliverer = Deliverer(
            self.store, self.executor, settings.async_retry_scale, self.aws_clients, self.telemetry, self.event_bus
        )
        self.workers = AsyncWorkers(
            self.store,
            self.executor,
            self.router,
            self.queue,
            self.deliverer,
            settings.async_concurrency,
            settings.async_retry_scale,
            self.telemetry,
        )
        self.provisioned = ProvisionedConcurrency(self.store, self.executor, self.catalog, self.invoker, self.pool)
        self.metrics = MetricsRecorder(self.store, self.executor, self.limiter, self.provisioned.allocated)
        self.telemetry.on_invocation(self.metrics.invocation)
        self.telemetry.on_throttle(self.metrics.throttle)
        self.telemetry.on_count(self.metrics.count)
        self.logs.on_flush(EmfExtractor(self.metrics.put_threadsafe))
        self.mappings = MappingService(self.functions, self.aws_endpoints, settings.brokers)
        self.mapping_manager = MappingManager(
            self.store,
            self.executor,
            self.router,
            self.aws_clients,
            settings.region,
            settings.account_id,
            settings.poll_interval_scale,
            settings.brokers,
            self.metrics.put,
        )
        self.mappings.on_change(self.mapping_manager.changed)
        self.schedules = ScheduleService(
            self.store, self.executor, settings.region, settings.account_id, parse_schedule
        )
        self.schedule_runner = ScheduleRunner(
            self.store,
            self.store,
            self.executor,
            self.router,
            settings.async_retry_scale,
            wake_deliverer=lambda: self.deliverer.wake(),
        )
        self.schedules.on_change(self.schedule_runner.changed)
        self.functions.on_change(self.catalog.invalidate)
        self.catalog.on_invalidate(lambda _: self.provisioned.wake())
        self.catalog.on_invalidate(self.pool.retire_function)
        self.endpoints = PublicEndpoints(settings.region, settings.http_domain, settings.port)
        self.urls = FunctionUrlService(self.functions, self.endpoints)
        url_directory = UrlDirectory(self.urls, self.router)
        self.urls.on_change(url_directory.forget)
        self.functions.on_change(url_directory.forget)
        self.http_apis = HttpApiService(self.functions, self.endpoints)
        authenticator = SignaturePresence()
        http_api_door = HttpApiEndpoint(
            self.http_apis, self.router, authenticator, settings.account_id, settings.region
        )
        self.rest_apis = RestApiService(self.functions, self.endpoints)
        rest_api_door = RestApiEndpoint(self.rest_apis, self.router, authenticator, settings.account_id)
        api_door = ApiDoor(self._gateway_kind, {HTTP: http_api_door, REST: rest_api_door})
        self.http_apis.on_change(api_door.forget)
        self.http_apis.on_change(http_api_door.forget)
        self.rest_apis.on_change(api_door.forget)
        self.rest_apis.on_change(rest_api_door.forget)
        doors = FrontDoors(
            self.endpoints,
            {
                "url": FunctionUrlEndpoint(
                    url_directory,
                    self.router,
                    authenticator,
                    settings.account_id,
                    f"lambda-url.{settings.region}.{settings.http_domain}",
                ),
                "api": api_door,
            },
        )
        self.app = build_app(
            Services(
                functions=self.functions,
                versions=VersionService(self.functions),
                layers=LayerService(self.functions),
                policies=PolicyService(self.functions),
                concurrency=ConcurrencyService(self.functions),
                event_invoke=EventInvokeConfigService(self.functions),
                provisioned_configs=ProvisionedConfigService(self.functions),
                provisioned=self.provisioned,
                urls=self.urls,
                http_apis=self.http_apis,
                rest_apis=self.rest_apis,
                mappings=self.mappings,
                mapping_manager=self.mapping_manager,
                events=self.events,
                event_targets=EventTargetService(self.events),
                event_bus=self.event_bus,
                schedules=self.schedules,
                router=self.router,
                logs=self.logs,
                ledger=self.ledger,
                metrics=self.metrics,
                prometheus=self.prometheus,
                telemetry=self.telemetry,
            ),
            doors,
        )
        self._tasks: set[asyncio.Task[None]] = set()

    async def _gateway_kind(self, api_id: str) -> str | None:
        """HTTP or REST: the kind of API Gateway API `api_id` names, None if none."""
        found = await self.functions.run(self.store.get_gateway_api, api_id)
        return found[0] if found else None

    @property
    def endpoint_url(self) -> str:
        host = self.settings.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.settings.port}"

    def _lock_data_dir(self) -> IO[str]:
        lock = (self.settings.data_dir / "firebox.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise ConfigError(
                f"another firebox serve is already using the data directory {self.settings.data_dir}"
            ) from None
        return lock

    async def serve(self) -> None:
        self.logs.start()
        self.ledger.start()
        self.metrics.start()
        if self.spans is not None:
            self.spans.start()
        self.queue.start()
        self._spawn(self.workers.run_forever(), "run async invocations")
        self._spawn(self.deliverer.run_forever(), "deliver to webhooks")
        self._spawn(self.event_bus.run_forever(), "fire scheduled rules and retry EventBridge deliveries")
        self._spawn(self.provisioned.run_forever(), "keep provisioned environments")
        for zygote in self.zygotes.values():
            self._spawn(zygote.ensure_started(), f"start the {zygote.runtime} zygote")
        self._spawn(self.pool.reap_forever(), "reap idle environments")
        settled = await self.functions.settle_all()
        if settled:
            log.info("settled %d function(s) left pending by the previous run", settled)
        await self.mapping_manager.start()
        await self.schedule_runner.start()
        self._spawn(self.schedule_runner.run_forever(), "fire EventBridge Scheduler schedules")
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            lifespan="off",
            access_log=False,
            log_level=self.settings.log_level if self.settings.log_level == "debug" else "warning",
            timeout_graceful_shutdown=int(SHUTDOWN_GRACE),
            server_header=False,
            log_config=None,
        )
        server = _QuietServer(config, on_started=self._announce)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.request_exit)
        try:
            await server.serve()
        finally:
            await self.close()

    def _announce(self, server: uvicorn.Server) -> None:
        port = self.settings.port
        for listener in server.servers:
            for sock in listener.sockets:
                if sock.family in (socket.AF_INET, socket.AF_INET6):
                    port = sock.getsockname()[1]
        host = self.settings.host
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        if not is_loopback(host):
            print("WARNING: listening on a non-loopback address with NO AUTHENTICATION.", file=sys.stderr)
        print(
            f"Firebox {__version__} listening on {url}\n"
            f"  data directory: {self.settings.data_dir.resolve()} (sqlite schema {self.store.schema_version})\n"
            f"  runtimes: {', '.join(self.runtimes) or 'none found'}\n"
            f"  sandbox: {self.sandbox.description}\n"
            f"  point the AWS CLI at it:\n"
            f"    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
            f"AWS_DEFAULT_REGION={self.settings.region}\n"
            f"    aws --endpoint-url {url} lambda list-functions",
            flush=True,
        )

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=what)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %r failed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.mapping_manager.close()
        await self.schedule_runner.close()
        await self.event_bus.close()
        await self.provisioned.close()
        await self.workers.close()
        await self.queue.close()
        await self.spares.close()
        await self.pool.close()
        await asyncio.gather(*(zygote.stop() for zygote in self.zygotes.values()))
        await self.logs.close()
        self.telemetry.drain()
        await self.ledger.close()
        await self.metrics.close()
        if self.spans is not None:
            await self.spans.close()
        await self.functions.wait_settled()
        self.aws_clients.close()
        self.executor.shutdown(wait=True)
        self.store.close()
        self._lock_file.close()
        log.info("stopped")


def _discard_log(_config: FunctionConfig, _stream: str, _text: str) -> None:
    """The log sink when telemetry is off (bench/observability.py measures what it costs)."""


class _QuietServer(uvicorn.Server):
    """uvicorn's server with our own signal handling: a signal asks for a clean stop, and the process then exits
    with status 0 instead of re-raising the signal the way uvicorn does."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[uvicorn.Server], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self._on_started(self)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def run(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    server = Server(settings)
    try:
        import uvloop

        uvloop.run(server.serve())
    except ImportError:
        asyncio.run(server.serve())
