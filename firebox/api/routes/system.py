"""Firebox's own endpoints: `/health`, code archive downloads (GetFunction's Code.Location) and function logs."""

from __future__ import annotations

import logging
import re

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from firebox import __version__
from firebox.api.http import int_param, json_response
from firebox.api.operations import route
from firebox.api.services import services_of
from firebox.errors import ResourceNotFoundException

log = logging.getLogger("firebox.api")
_ARCHIVE = re.compile(r"([0-9a-f]{64})\.zip")


async def health(request: Request) -> Response:
    service = services_of(request).functions
    try:
        store = await service.health()
    except Exception as exc:  # the point of /health is to say so rather than fail
        log.error("store health check failed", exc_info=exc)
        return json_response({"status": "unavailable", "version": __version__, "store": {"ok": False}}, status=503)
    return json_response({"status": "ok", "version": __version__, "store": {"ok": True, **store}})


async def download_code(request: Request) -> Response:
    service = services_of(request).functions
    match = _ARCHIVE.fullmatch(request.path_params["archive"])
    path = service.code_files.archive_path(match.group(1)) if match else None
    if path is None or not path.is_file():
        raise ResourceNotFoundException("The code archive does not exist.")
    return FileResponse(path, media_type="application/zip")


async def function_logs(request: Request) -> Response:
    """Firebox's own plain read-out of a function's newest log events (the CloudWatch Logs API is the full one)."""
    services = services_of(request)
    config = (await services.functions.get(request.path_params["name"])).latest
    limit = int_param(request, "limit", 1, 10000) or 1000
    events = await services.logs.read(config.log_group_name, request.query_params.get("stream"), limit)
    return json_response(
        {"events": [{"logStreamName": e.log_stream, "timestamp": e.timestamp, "message": e.message} for e in events]}
    )


async def function_queue(request: Request) -> Response:
    """Firebox's own view of a function's asynchronous invocations: queued (waiting, retries included) and in flight."""
    services = services_of(request)
    config = (await services.functions.get(request.path_params["name"])).latest
    counts = await services.functions.run(services.functions.store.queue_statistics, config.name)
    return json_response({"FunctionName": config.name, "Queued": counts["queued"], "InFlight": counts["in_flight"]})


operations = [
    route("GetHealth", "GET", "/health", health),
    route("GetCodeArchive", "GET", "/firebox/code/{archive}", download_code),
    route("GetFunctionLogs", "GET", "/firebox/functions/{name}/logs", function_logs),
    route("GetFunctionQueue", "GET", "/firebox/functions/{name}/queue", function_queue),
]
