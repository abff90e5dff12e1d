"""The CloudWatch metrics API (`GraniteServiceVersion20100801`, AWS JSON 1.0 or RPC v2 CBOR) over Firebox's metrics."""

from __future__ import annotations

from firebox.api.routes.rpc_types import Operation

OPERATIONS: dict[str, Operation] = {}
