"""The rules for the layers a function references: at most five, one version per layer, same region, existing,
and code plus layers within the unzipped size limit."""

from __future__ import annotations

from collections.abc import Sequence

from firebox.control.archive import MAX_UNZIPPED_BYTES
from firebox.errors import InvalidParameterValueException
from firebox.models.arn import parse_layer_version_arn
from firebox.models.function import LayerRef
from firebox.store.base import LayerStore

MAX_LAYERS = 5


def resolve_layers(store: LayerStore, region: str, account: str, arns: Sequence[str]) -> tuple[LayerRef, ...]:
    """Check the `Layers` of a function, as Lambda does, and pin each to its archive. Blocking (reads the store)."""
    if len(arns) > MAX_LAYERS:
        raise InvalidParameterValueException("Cannot reference more than 5 layers.")
    refs: list[LayerRef] = []
    seen: dict[str, str] = {}
    for arn in arns:
        parsed = parse_layer_version_arn(arn)
        if parsed is None:
            raise InvalidParameterValueException(f"Invalid layer version ARN: {arn}")
        if parsed.region != region:
            raise InvalidParameterValueException(
                f"Layers are not in the same region as the function. Layers are expected to be in region {region}."
            )
        if parsed.name in seen:
            raise InvalidParameterValueException(
                "Two different versions of the same layer are not allowed to be referenced in the same function. "
                f"{seen[parsed.name]} and {arn} are versions of the same layer."
            )
        seen[parsed.name] = arn
        layer = store.get_layer_version(parsed.name, parsed.version)
        if layer is None or parsed.account != account:
            raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
        refs.append(LayerRef(arn, layer.code.sha256, layer.code.size, layer.code.unzipped_size))
    return tuple(refs)


def check_total_size(code_unzipped: int, layers: Sequence[LayerRef]) -> None:
    total = code_unzipped + sum(layer.unzipped_size for layer in layers)
    if total > MAX_UNZIPPED_BYTES:
        raise InvalidParameterValueException(
            f"Function code combined with layers exceeds the maximum allowed size of {MAX_UNZIPPED_BYTES} bytes. "
            f"The actual size is {total} bytes."
        )
