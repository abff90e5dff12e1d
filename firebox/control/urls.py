"""Function URL configurations: Create/Get/Update/Delete/ListFunctionUrlConfig(s).

A URL belongs to the unqualified function (`$LATEST`) or to an alias, never to a version; one per target. Its id
is 32 lower-case alphanumerics and never changes; deleting the function or the alias deletes it (a trigger in the
store). Listeners registered with `on_change` hear the function's name after every change, so the front door's
directory of URLs (`api/frontdoor/function_urls.py`) forgets what it cached.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from firebox.control.functions import FunctionService
from firebox.errors import ResourceConflictException, ResourceNotFoundException, ValidationException
from firebox.models.function import LATEST
from firebox.models.urls import BUFFERED, FunctionUrlConfig
from firebox.names import PublicEndpoints

QUALIFIER_PATTERN = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"
_QUALIFIER = re.compile(QUALIFIER_PATTERN)
NOT_FOUND = "The resource you requested does not exist."
MAX_ITEMS = 50


def url_timestamp(epoch: float) -> str:
    """`2021-12-08T23:22:53.279495Z`, as Lambda writes a URL's CreationTime and LastModifiedTime."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FunctionUrlService:
    def __init__(self, functions: FunctionService, endpoints: PublicEndpoints) -> None:
        self.functions = functions
        self.store = functions.store
        self.endpoints = endpoints
        self._listeners: list[Callable[[str], None]] = []

    def on_change(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def _changed(self, name: str) -> None:
        for listener in self._listeners:
            listener(name)

    def document(self, config: FunctionUrlConfig, modified: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "FunctionUrl": self.endpoints.function_url(config.url_id),
            "FunctionArn": self.functions.arn(config.function_name, config.qualifier),
            "AuthType": config.auth_type,
        }
        if config.cors is not None:
            doc["Cors"] = config.cors
        doc["CreationTime"] = url_timestamp(config.created)
        if modified:
            doc["LastModifiedTime"] = url_timestamp(config.modified)
        doc["InvokeMode"] = config.invoke_mode
        return doc

    def _target(self, text: str, qualifier: str | None) -> tuple[str, str | None]:
        fid = self.functions.resolve(text, qualifier)
        if fid.qualifier is not None and (fid.qualifier == LATEST or not _QUALIFIER.fullmatch(fid.qualifier)):
            raise ValidationException.of(
                [(fid.qualifier, "qualifier", f"Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}")]
            )
        return fid.name, fid.qualifier

    def _require(self, name: str, qualifier: str | None) -> None:
        if self.store.get_function(name) is None:
            raise ResourceNotFoundException(f"Function not found: {self.functions.arn(name)}")
        if qualifier is not None and self.store.get_alias(name, qualifier) is None:
            raise ResourceNotFoundException(f"Function not found: {self.functions.arn(name, qualifier)}")

    async def create(self, text: str, qualifier: str | None, body: dict[str, Any]) -> FunctionUrlConfig:
        name, qualifier_ = self._target(text, qualifier)
        now = self.functions.clock.now()
        config = FunctionUrlConfig(
            url_id=_new_url_id(),
            function_name=name,
            qualifier=qualifier_,
            auth_type=body["AuthType"],
            cors=body.get("Cors"),
            invoke_mode=body.get("InvokeMode") or BUFFERED,
            created=now,
            modified=now,
        )
        await self.functions.run(self._create, config)
        self._changed(name)
        return config

    def _create(self, config: FunctionUrlConfig) -> None:
        self._require(config.function_name, config.qualifier)
        if not self.store.insert_function_url(config):
            arn = self.functions.arn(config.function_name, config.qualifier)
            raise ResourceConflictException(
                f"Failed to create function url config for [functionArn = {arn}]. Error message:  "
                "FunctionUrlConfig exists for this Lambda function"
            )

    async def get(self, text: str, qualifier: str | None) -> FunctionUrlConfig:
        name, qualifier_ = self._target(text, qualifier)
        return await self.functions.run(self._get, name, qualifier_)

    def _get(self, name: str, qualifier: str | None) -> FunctionUrlConfig:
        self._require(name, qualifier)
        config = self.store.get_function_url(name, qualifier)
        if config is None:
            raise ResourceNotFoundException(NOT_FOUND)
        return config

    async def update(self, text: str, qualifier: str | None, body: dict[str, Any]) -> FunctionUrlConfig:
        name, qualifier_ = self._target(text, qualifier)
        config = await self.functions.run(self._update, name, qualifier_, body)
        self._changed(name)
        return config

    def _update(self, name: str, qualifier: str | None, body: dict[str, Any]) -> FunctionUrlConfig:
        current = self._get(name, qualifier)
        changes: dict[str, Any] = {"modified": self.functions.clock.now()}
        if body.get("AuthType") is not None:
            changes["auth_type"] = body["AuthType"]
        if "Cors" in body:
            changes["cors"] = body["Cors"]
        if body.get("InvokeMode") is not None:
            changes["invoke_mode"] = body["InvokeMode"]
        config = dataclasses.replace(current, **changes)
        if not self.store.replace_function_url(config):
            raise ResourceNotFoundException(NOT_FOUND)
        return config

    async def delete(self, text: str, qualifier: str | None) -> None:
        name, qualifier_ = self._target(text, qualifier)
        await self.functions.run(self._delete, name, qualifier_)
        self._changed(name)

    def _delete(self, name: str, qualifier: str | None) -> None:
        self._require(name, qualifier)
        if not self.store.delete_function_url(name, qualifier):
            raise ResourceNotFoundException(NOT_FOUND)

    async def list(self, text: str, after: str | None, limit: int | None) -> tuple[list[FunctionUrlConfig], bool]:
        """A page of the function's URLs, and whether more follow."""
        name = self.functions.unqualified(text, "ListFunctionUrlConfigs takes an unqualified function.")
        await self.functions.get(name)
        page = limit or MAX_ITEMS
        configs = await self.functions.run(self.store.list_function_urls, name, after, page + 1)
        return configs[:page], len(configs) > page

    async def by_id(self, url_id: str) -> FunctionUrlConfig | None:
        return await self.functions.run(self.store.function_url_by_id, url_id)


def _new_url_id() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(32))
