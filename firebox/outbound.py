"""Requests Firebox makes to other servers on its own account: webhook destinations, OTLP collectors."""

from __future__ import annotations

import urllib.error
import urllib.request


def post_json(url: str, body: bytes, timeout: float, headers: dict[str, str] | None = None) -> str | None:
    """POST a JSON body; None on a 2xx answer, else a short account of what went wrong (never raises)."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return None
    except urllib.error.HTTPError as exc:
        exc.close()
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return str(exc)
