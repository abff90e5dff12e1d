"""How a `FunctionConfig` is kept in a store: compact JSON of its fields."""

from __future__ import annotations

import json
from dataclasses import asdict

from firebox.models.function import CodeArchive, FunctionConfig, LastUpdateStatus, LayerRef, State


def encode_config(config: FunctionConfig) -> str:
    return json.dumps(asdict(config), separators=(",", ":"))


def decode_config(text: str) -> FunctionConfig:
    doc = json.loads(text)
    doc["code"] = CodeArchive(**doc["code"])
    doc["architectures"] = tuple(doc["architectures"])
    doc["layers"] = tuple(LayerRef(**layer) for layer in doc.get("layers", ()))
    doc["state"] = State(doc["state"])
    if doc["last_update_status"] is not None:
        doc["last_update_status"] = LastUpdateStatus(doc["last_update_status"])
    return FunctionConfig(**doc)
