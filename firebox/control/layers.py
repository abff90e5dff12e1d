"""Layers: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions, DeleteLayerVersion, and the
rules for the layers a function references.

A layer version is an immutable zip, numbered per layer from 1 (never reused), checked as hostile like function
code and stored by content beside it. Deleting a layer version keeps working functions working: their merged /opt
and the archive stay while any function version references it.
"""

from __future__ import annotations

from collections.abc import Sequence

from firebox.control.functions import FunctionService
from firebox.errors import InvalidParameterValueException, ResourceNotFoundException
from firebox.models.arn import layer_arn, parse_layer_version_arn
from firebox.models.function import LayerVersion


class LayerService:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions
        self.store = functions.store
        settings = functions.settings
        self._region, self._account = settings.region, settings.account_id

    def arn(self, name: str, version: int | None = None) -> str:
        return layer_arn(self._region, self._account, name, version)

    async def publish(
        self,
        name: str,
        zip_file: bytes,
        description: str,
        license_info: str | None,
        runtimes: Sequence[str],
        architectures: Sequence[str],
    ) -> LayerVersion:
        return await self.functions.run(
            self._publish, name, zip_file, description, license_info, tuple(runtimes), tuple(architectures)
        )

    def _publish(
        self,
        name: str,
        zip_file: bytes,
        description: str,
        license_info: str | None,
        runtimes: tuple[str, ...],
        architectures: tuple[str, ...],
    ) -> LayerVersion:
        now = self.functions.clock.now()
        with self.functions.code_lock:
            code = self.functions.store_code(zip_file, now)
            return self.store.publish_layer_version(
                LayerVersion(name, 0, code, now, description, license_info, runtimes, architectures)
            )

    async def get(self, name: str, version: int) -> LayerVersion:
        if version < 1:
            raise InvalidParameterValueException("Layer Version Cannot be less than 1")
        layer = await self.functions.run(self.store.get_layer_version, name, version)
        if layer is None:
            raise ResourceNotFoundException(f"Layer version {self.arn(name, version)} does not exist.")
        return layer

    async def get_by_arn(self, arn: str) -> LayerVersion:
        parsed = parse_layer_version_arn(arn)
        if parsed is None:
            raise InvalidParameterValueException(f"Invalid layer version ARN: {arn}")
        return await self.get(parsed.name, parsed.version)

    async def list_versions(self, name: str, before: int | None, limit: int) -> list[LayerVersion]:
        return await self.functions.run(self.store.list_layer_versions, name, before, limit)

    async def list_layers(self, after: str | None, limit: int) -> list[LayerVersion]:
        """The newest version of each layer, by name."""
        return await self.functions.run(self._list_layers, after, limit)

    def _list_layers(self, after: str | None, limit: int) -> list[LayerVersion]:
        newest = []
        for name in self.store.list_layer_names(after, limit):
            versions = self.store.list_layer_versions(name, None, 1)
            if versions:
                newest.append(versions[0])
        return newest

    async def delete(self, name: str, version: int) -> None:
        await self.functions.run(self._delete, name, version)

    def _delete(self, name: str, version: int) -> None:
        with self.functions.code_lock:
            sha256 = self.store.delete_layer_version(name, version)
            if sha256 is not None:
                self.functions.collect_code(sha256)
