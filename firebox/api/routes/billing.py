"""Firebox's own cost endpoint: `GET /firebox/cost?month=YYYY-MM&function=NAME` (Lambda's API has no such view).

Both parameters are optional: the month defaults to the current UTC month, and without a function every function
that used anything that month is listed. The account's totals (without and with the free tier) are always those of
the whole month.
"""

from __future__ import annotations

import re
import time

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import json_response
from firebox.api.operations import route
from firebox.api.services import services_of
from firebox.errors import InvalidParameterValueException
from firebox.observability.ledger import month_of

_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


async def cost(request: Request) -> Response:
    month = request.query_params.get("month")
    if month is None:
        month = month_of(time.time())
    elif not _MONTH.fullmatch(month):
        raise InvalidParameterValueException(
            f"Invalid month {month!r}: expected a UTC month written YYYY-MM, for example 2026-01."
        )
    function = request.query_params.get("function") or None
    services = services_of(request)
    services.telemetry.drain()
    return json_response(await services.ledger.report(month, function))


operations = [route("GetCost", "GET", "/firebox/cost", cost)]
