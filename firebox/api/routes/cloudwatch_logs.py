"""The CloudWatch Logs API (`Logs_20140328`, AWS JSON 1.1) over Firebox's log store."""

from __future__ import annotations

from firebox.api.routes.rpc_types import Operation

OPERATIONS: dict[str, Operation] = {}
