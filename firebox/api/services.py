"""What the API calls into, composed by `firebox.server` and reached from a request with `services_of` (the
dispatcher puts it in every request's scope)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

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
from firebox.dataplane.provisioned import ProvisionedConcurrency
from firebox.dataplane.router import Router
from firebox.eventsources.event_bus import EventBridge
from firebox.eventsources.manager import MappingManager
from firebox.observability.ledger import Ledger
from firebox.observability.logs import LogWriter
from firebox.observability.metrics import MetricsRecorder
from firebox.observability.prometheus import PrometheusExporter
from firebox.observability.telemetry import Telemetry


@dataclass(frozen=True, slots=True)
class Services:
    functions: FunctionService
    versions: VersionService
    layers: LayerService
    policies: PolicyService
    concurrency: ConcurrencyService
    event_invoke: EventInvokeConfigService
    provisioned_configs: ProvisionedConfigService
    provisioned: ProvisionedConcurrency
    urls: FunctionUrlService
    http_apis: HttpApiService
    rest_apis: RestApiService
    mappings: MappingService
    mapping_manager: MappingManager
    events: EventBridgeService
    event_targets: EventTargetService
    event_bus: EventBridge
    schedules: ScheduleService
    router: Router
    logs: LogWriter
    ledger: Ledger
    metrics: MetricsRecorder
    prometheus: PrometheusExporter
    telemetry: Telemetry


def services_of(request: Request) -> Services:
    services: Services = request.scope["services"]
    return services
