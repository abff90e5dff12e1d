"""The shape of an RPC operation (`firebox.api.rpc`): parameters in, result out, both plain dicts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from firebox.api.services import Services

Operation = Callable[[Services, dict[str, Any]], Awaitable[dict[str, Any]]]
