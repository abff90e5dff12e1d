"""`GET /metrics`: Prometheus exposition of the server's own figures (see `firebox.observability.prometheus`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.operations import route
from firebox.api.services import services_of
from firebox.observability.prometheus import CONTENT_TYPE, PoolSnapshot


async def metrics(request: Request) -> Response:
    services = services_of(request)
    services.telemetry.drain()
    totals = await services.functions.run(services.functions.store.async_totals)
    plane = services.router.statistics()
    pool, limiter = plane["pool"], plane["concurrency"]
    snapshot = PoolSnapshot(
        environments={state: count for state, count in pool.items() if state not in ("environments", "idle")},
        idle_environments=pool["idle"],
        concurrent_executions=limiter["concurrent_executions"],
        unreserved_concurrent_executions=limiter["unreserved_running"],
        zygote_forks=plane["zygote_forks"],
        spare_runtimes=plane["spares"],
        async_queued=totals["queued"],
        async_in_flight=totals["in_flight"],
        deliveries_pending=totals["deliveries"],
        mappings=services.mapping_manager.figures(),
    )
    return Response(services.prometheus.render(snapshot), media_type=CONTENT_TYPE)


operations = [route("GetMetrics", "GET", "/metrics", metrics)]
