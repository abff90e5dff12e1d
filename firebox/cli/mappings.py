"""`firebox mappings list|show`: event source mappings with their state and what their pollers have done.

The mappings come from the Lambda API (ListEventSourceMappings, GetEventSourceMapping) through boto3; the figures
since the server started (polled, invoked, failed, filtered, and the lag: the age of the oldest record of the last
batch, IteratorAge for streams) from Firebox's own `GET /firebox/mappings`.
"""

from __future__ import annotations

import json
from typing import Any

from firebox.cli.client import api_errors, firebox_get, print_table


def _figures(endpoint_url: str) -> dict[str, Any]:
    doc: dict[str, Any] = firebox_get(f"{endpoint_url.rstrip('/')}/firebox/mappings")
    return dict(doc["Mappings"])


def _lag(figures: dict[str, Any]) -> str:
    age = figures.get("IteratorAge", figures.get("RecordAge"))
    return "-" if age is None else f"{age / 1000:.1f}s"


def print_list(lam: Any, endpoint_url: str, function: str | None) -> None:
    params = {"FunctionName": function} if function else {}
    with api_errors():
        pages = lam.get_paginator("list_event_source_mappings").paginate(**params)
        mappings = [m for page in pages for m in page["EventSourceMappings"]]
    figures = _figures(endpoint_url)
    rows = []
    for m in mappings:
        f = figures.get(m["UUID"], {})
        rows.append(
            (
                m["UUID"],
                m["FunctionArn"].split(":function:", 1)[1],
                m["EventSourceArn"].split(":", 5)[5],
                m["State"],
                str(m.get("BatchSize", "")),
                str(int(f.get("PolledEventCount", 0))),
                str(int(f.get("InvokedEventCount", 0))),
                str(int(f.get("FailedInvokeEventCount", 0))),
                _lag(f),
            )
        )
    if not rows:
        print("no event source mappings" + (f" for {function}" if function else ""))
        return
    print_table(("UUID", "FUNCTION", "SOURCE", "STATE", "BATCH", "POLLED", "INVOKED", "FAILED", "LAG"), rows)


def print_one(lam: Any, endpoint_url: str, mapping_uuid: str) -> None:
    with api_errors():
        mapping = lam.get_event_source_mapping(UUID=mapping_uuid)
    mapping.pop("ResponseMetadata", None)
    mapping["LastModified"] = mapping["LastModified"].isoformat()
    figures = _figures(endpoint_url).get(mapping_uuid, {})
    print(json.dumps({**mapping, "Figures": figures, "Lag": _lag(figures)}, indent=2, default=str))
