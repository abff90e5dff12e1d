"""GetAccountSettings."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import MAX_ZIPPED_BYTES, json_response
from firebox.api.operations import rest
from firebox.api.services import services_of
from firebox.control.archive import MAX_UNZIPPED_BYTES

TOTAL_CODE_SIZE = 80_530_636_800


async def get_account_settings(request: Request) -> Response:
    service = services_of(request).functions
    usage = await service.account_usage()
    limit = service.settings.concurrency_limit
    return json_response(
        {
            "AccountLimit": {
                "TotalCodeSize": TOTAL_CODE_SIZE,
                "CodeSizeUnzipped": MAX_UNZIPPED_BYTES,
                "CodeSizeZipped": MAX_ZIPPED_BYTES,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": limit - usage.reserved_concurrency,
            },
            "AccountUsage": {"TotalCodeSize": usage.total_code_size, "FunctionCount": usage.function_count},
        }
    )


operations = [rest("lambda", "GetAccountSettings", "GET", "/2016-08-19/account-settings", get_account_settings)]
