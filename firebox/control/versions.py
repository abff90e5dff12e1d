"""Published versions and aliases: PublishVersion, ListVersionsByFunction and the alias operations.

A version is an immutable snapshot of `$LATEST`, numbered 1, 2, 3... per function (never reused). Publishing when
nothing that reaches the runtime changed since the newest version returns that version. An alias points at a
version and may send a share (`AdditionalVersionWeights`, one entry, weight 0-1) of its invocations to one other
published version.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping

from firebox.control.functions import FunctionService
from firebox.errors import (
    REVISION_MISMATCH,
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from firebox.models.function import LATEST, Alias, FunctionConfig


class VersionService:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions
        self.store = functions.store

    # versions

    async def publish(
        self, text: str, code_sha256: str | None = None, description: str | None = None, revision_id: str | None = None
    ) -> FunctionConfig:
        name = self.functions.unqualified(text, "PublishVersion takes an unqualified function name or ARN.")
        config = await self.functions.run(self._publish, name, code_sha256, description, revision_id)
        self.functions.changed(name)
        return config

    def _publish(
        self, name: str, code_sha256: str | None, description: str | None, revision_id: str | None
    ) -> FunctionConfig:
        latest = self.functions.current_for_update(name, revision_id)
        if code_sha256 is not None and code_sha256 != latest.code.sha256_base64:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code.sha256_base64}). Please try again with the CodeSHA256 in $LATEST."
            )
        return self.functions.publish_now(latest, description)

    async def list_versions(self, text: str, after: int, limit: int) -> list[FunctionConfig]:
        """`$LATEST` first (number 0), then the versions in order; `after` -1 starts from the beginning."""
        name = self.functions.unqualified(text, "ListVersionsByFunction takes an unqualified function name or ARN.")
        configs = await self.functions.run(self.store.list_versions, name, after, limit)
        if not configs and after < 0:
            await self.functions.get(name)  # 404 for an unknown function
        return configs

    # aliases

    async def create_alias(
        self, text: str, alias: str, version: str, description: str, weights: Mapping[str, float] | None
    ) -> Alias:
        name = self.functions.unqualified(text, "Aliases are created on an unqualified function name or ARN.")
        additional, weight = self._routing(version, weights)
        created = Alias(name, alias, version, str(uuid.uuid4()), description or "", additional, weight)
        await self.functions.run(self._create_alias, created)
        self.functions.changed(name)
        return created

    def _create_alias(self, alias: Alias) -> None:
        self._require_versions(alias)
        if not self.store.insert_alias(alias):
            raise ResourceConflictException(f"Alias already exists: {self._alias_arn(alias.function_name, alias.name)}")

    async def get_alias(self, text: str, alias: str) -> Alias:
        name = self.functions.unqualified(text, "Aliases are read from an unqualified function name or ARN.")
        found = await self.functions.run(self.store.get_alias, name, alias)
        if found is None:
            raise ResourceNotFoundException(f"Cannot find alias arn: {self._alias_arn(name, alias)}")
        return found

    async def update_alias(
        self,
        text: str,
        alias: str,
        version: str | None,
        description: str | None,
        weights: Mapping[str, float] | None,
        revision_id: str | None,
    ) -> Alias:
        name = self.functions.unqualified(text, "Aliases are updated on an unqualified function name or ARN.")
        updated = await self.functions.run(self._update_alias, name, alias, version, description, weights, revision_id)
        self.functions.changed(name)
        return updated

    def _update_alias(
        self,
        name: str,
        alias: str,
        version: str | None,
        description: str | None,
        weights: Mapping[str, float] | None,
        revision_id: str | None,
    ) -> Alias:
        current = self.store.get_alias(name, alias)
        if current is None:
            raise ResourceNotFoundException(f"Alias not found: {self._alias_arn(name, alias)}")
        if revision_id is not None and revision_id != current.revision_id:
            raise PreconditionFailedException(REVISION_MISMATCH)
        primary = version or current.function_version
        if weights is None:  # routing left as it was, unless it now points at the primary itself
            kept = {current.additional_version: current.additional_weight} if current.additional_version else {}
            weights = {k: v for k, v in kept.items() if k != primary}
        additional, weight = self._routing(primary, weights)
        updated = dataclasses.replace(
            current,
            function_version=primary,
            description=current.description if description is None else description,
            additional_version=additional,
            additional_weight=weight,
            revision_id=str(uuid.uuid4()),
        )
        self._require_versions(updated)
        if not self.store.replace_alias(updated, current.revision_id):
            raise PreconditionFailedException(REVISION_MISMATCH)
        return updated

    async def delete_alias(self, text: str, alias: str) -> None:
        name = self.functions.unqualified(text, "Aliases are deleted from an unqualified function name or ARN.")
        if not await self.functions.run(self.store.delete_alias, name, alias):
            raise ResourceNotFoundException(f"Cannot find alias arn: {self._alias_arn(name, alias)}")
        self.functions.changed(name)

    async def list_aliases(self, text: str, version: str | None, after: str | None, limit: int) -> list[Alias]:
        name = self.functions.unqualified(text, "Aliases are listed for an unqualified function name or ARN.")
        await self.functions.get(name)
        return await self.functions.run(self.store.list_aliases, name, version, after, limit)

    def alias_arn(self, alias: Alias) -> str:
        return self._alias_arn(alias.function_name, alias.name)

    def _alias_arn(self, name: str, alias: str) -> str:
        return self.functions.arn(name, alias)

    def _routing(self, primary: str, weights: Mapping[str, float] | None) -> tuple[str | None, float]:
        if not weights:
            return None, 0.0
        entries = dict(weights)
        if len(entries) == 2 and primary in entries:  # the specification's form: both versions with their weights
            entries.pop(primary)
        if len(entries) > 1:
            raise InvalidParameterValueException("Number of items in AdditionalVersionWeights cannot be greater than 1")
        ((additional, weight),) = entries.items()
        if additional == primary:
            raise InvalidParameterValueException(
                f"Invalid function version {additional}. Function version {additional} is already included in "
                "routing configuration."
            )
        if primary == LATEST:
            raise InvalidParameterValueException(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )
        return additional, float(weight)

    def _require_versions(self, alias: Alias) -> None:
        for version in filter(None, (alias.function_version, alias.additional_version)):
            if self.store.get_config(alias.function_name, version) is None:
                if self.store.get_config(alias.function_name, LATEST) is None:
                    raise ResourceNotFoundException(f"Function not found: {self.functions.arn(alias.function_name)}")
                raise ResourceNotFoundException(
                    f"Function not found: {self.functions.arn(alias.function_name, version)}"
                )
