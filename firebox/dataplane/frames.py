"""The server side of the frame protocol spoken with environments (see bootstrap/runtime.py)."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

FRAME = struct.Struct(">II")


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
    header_len, payload_len = FRAME.unpack(await reader.readexactly(FRAME.size))
    header: dict[str, Any] = json.loads(await reader.readexactly(header_len))
    payload = await reader.readexactly(payload_len) if payload_len else b""
    return header, payload


def write_frame(writer: asyncio.StreamWriter, header: dict[str, Any], payload: bytes = b"") -> None:
    encoded = json.dumps(header, separators=(",", ":")).encode()
    writer.write(FRAME.pack(len(encoded), len(payload)) + encoded + payload)
