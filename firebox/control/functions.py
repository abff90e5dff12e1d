"""Managing functions: create, read, update, delete, tags and account figures.

Blocking work (SQLite, unzip) runs on the control plane's thread pool; the public methods are coroutines.

A create or update answers at once with the function `Pending` (or its update `InProgress`), as Lambda does, and
the service then settles it (`Active`, `Successful`) in the background, each step with a new RevisionId, so boto3's
`function_active_v2` and `function_updated_v2` waiters see the sequence they expect. Whatever is still settling when
the server stops is settled when it starts again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from typing import Any, ParamSpec, TypeVar

from firebox.clock import Clock
from firebox.config import Settings
from firebox.control import archive, rules
from firebox.control.layer_refs import check_total_size, resolve_layers
from firebox.errors import (
    REVISION_MISMATCH,
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from firebox.models.arn import FunctionId, function_arn, parse_function_id
from firebox.models.function import (
    LATEST,
    AccountUsage,
    CodeArchive,
    Function,
    FunctionConfig,
    LastUpdateStatus,
    State,
)
from firebox.models.requests import CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration
from firebox.names import check_function_name, resolve_function
from firebox.store.base import Store
from firebox.store.code_files import CodeFiles

P = ParamSpec("P")
T = TypeVar("T")

CREATING_REASON = "The function is being created."
CREATING_CODE = "Creating"
MAX_SETTLE_ATTEMPTS = 5


class FunctionService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        code_files: CodeFiles,
        runtimes: Mapping[str, str],
        executor: Executor,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.store = store
        self.code_files = code_files
        self.runtimes = runtimes
        self._executor = executor
        self.clock = clock
        self._limits = archive.ArchiveLimits(max_entries=settings.max_archive_entries)
        self.code_lock = threading.Lock()  # code archives are shared: storing and collecting them is serialised
        self._settling: set[asyncio.Task[None]] = set()
        self._listeners: list[Callable[[str], None]] = []

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call `listener(name)` on the event loop after every committed change to a function."""
        self._listeners.append(listener)

    def changed(self, name: str) -> None:
        for listener in self._listeners:
            listener(name)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    # identifiers

    def arn(self, name: str, qualifier: str | None = None) -> str:
        return function_arn(self.settings.region, self.settings.account_id, name, qualifier)

    def resolve(self, text: str, qualifier: str | None = None) -> FunctionId:
        """Turn a FunctionName path value (name, partial or full ARN, maybe qualified) into a FunctionId here."""
        return resolve_function(text, qualifier, self.settings.region, self.settings.account_id)

    def unqualified(self, text: str, message: str) -> str:
        fid = self.resolve(text)
        if fid.qualifier is not None:
            raise InvalidParameterValueException(message)
        return fid.name

    # reads

    async def get(self, text: str) -> Function:
        """A function as a whole (unqualified): its `$LATEST`, tags and function-wide settings."""
        fid = self.resolve(text)
        function = await self.run(self.store.get_function, fid.name)
        if function is None:
            raise ResourceNotFoundException(f"Function not found: {self.arn(fid.name)}")
        if fid.qualifier is not None:
            raise InvalidParameterValueException("Unqualified function ARN expected for this operation.")
        return function

    async def get_version(self, text: str, qualifier: str | None = None) -> tuple[Function, FunctionConfig, str]:
        """The function, the configuration the qualifier names ($LATEST, a version or an alias's version) and the
        FunctionArn to report for it (qualified as it was asked for)."""
        fid = self.resolve(text, qualifier)
        function = await self.run(self.store.get_function, fid.name)
        if function is None:
            raise ResourceNotFoundException(f"Function not found: {self.arn(fid.name)}")
        if fid.qualifier is None:
            return function, function.latest, self.arn(fid.name)
        config = await self.run(self._config_for, fid.name, fid.qualifier)
        if config is None:
            raise ResourceNotFoundException(f"Function not found: {self.arn(fid.name, fid.qualifier)}")
        return function, config, self.arn(fid.name, fid.qualifier)

    def _config_for(self, name: str, qualifier: str) -> FunctionConfig | None:
        if qualifier == LATEST or qualifier.isdigit():
            return self.store.get_config(name, qualifier)
        alias = self.store.get_alias(name, qualifier)
        return None if alias is None else self.store.get_config(name, alias.function_version)

    async def list_all_versions(self, after: tuple[str, int] | None, limit: int) -> list[FunctionConfig]:
        return await self.run(self.store.list_all_configs, after, limit)

    async def list(self, after: str | None, limit: int) -> list[FunctionConfig]:
        return await self.run(self.store.list_configs, after, limit)

    async def account_usage(self) -> AccountUsage:
        return await self.run(self.store.account_usage)

    async def health(self) -> dict[str, Any]:
        return await self.run(self.store.health)

    # create

    async def create(self, request: CreateFunction) -> FunctionConfig:
        """The new function's `$LATEST` (Pending), or its version 1 when the request asks to publish."""
        config = await self.run(self._create, request)
        self.changed(config.name)
        self._settle_soon(config.name, LATEST, config.version)
        return config

    def _create(self, request: CreateFunction) -> FunctionConfig:
        check_function_name(request.name)
        changes = request.changes
        rules.check_unsupported(changes)
        if not changes.get("runtime") or not changes.get("handler"):
            raise InvalidParameterValueException(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages."
            )
        self._check_changes(changes, current_log_format="Text")
        rules.check_tags(request.tags)
        now = self.clock.now()
        with self.code_lock:
            code = self.store_code(request.zip_file, now)
            fields = self._fields(changes, code.unzipped_size)
            config = FunctionConfig(
                name=request.name,
                code=code,
                revision_id=_revision(),
                last_modified=now,
                state=State.PENDING,
                state_reason=CREATING_REASON,
                state_reason_code=CREATING_CODE,
                **fields,
            )
            if not self.store.insert_function(config, request.tags, now):
                self.collect_code(code.sha256)
                raise ResourceConflictException(f"Function already exist: {request.name}")
        return self.publish_now(config) if changes.get("publish") else config

    def _fields(self, changes: Mapping[str, Any], code_unzipped: int) -> dict[str, Any]:
        """The FunctionConfig fields a request sets, with its layer ARNs pinned to their archives (and their merged
        /opt built)."""
        fields = {k: v for k, v in changes.items() if k in _CONFIG_FIELDS}
        if "layers" in fields:
            layers = resolve_layers(self.store, self.settings.region, self.settings.account_id, fields["layers"] or ())
            check_total_size(code_unzipped, layers)
            if layers:
                self.code_files.layer_set([layer.sha256 for layer in layers])
            fields["layers"] = layers
        return fields

    def _check_changes(self, changes: Mapping[str, Any], current_log_format: str) -> None:
        if "runtime" in changes:
            rules.check_runtime(changes["runtime"], self.runtimes)
        if changes.get("environment") is not None:
            rules.check_environment(changes["environment"])
        rules.check_logging(changes, current_log_format)

    def store_code(self, data: bytes, now: float) -> CodeArchive:
        """Store a zip by content, unpacking and checking it unless an identical one is already stored."""
        sha256 = hashlib.sha256(data).hexdigest()
        known = self.store.get_code_archive(sha256)
        if known is not None and self.code_files.has(sha256):
            return known
        with self.code_files.staging() as staged:
            unzipped = archive.unpack(data, staged, self._limits)
            self.code_files.commit(sha256, data, staged)
        code = CodeArchive(sha256=sha256, size=len(data), unzipped_size=unzipped)
        self.store.put_code_archive(code, now)
        return code

    def collect_code(self, sha256: str) -> None:
        """Remove a code archive nothing refers to any more. Call with `_code_lock` held."""
        if not self.store.code_in_use(sha256):
            self.code_files.remove(sha256)
            self.store.delete_code_archive(sha256)

    # update

    async def update_configuration(self, request: UpdateFunctionConfiguration) -> FunctionConfig:
        config = await self.run(self._update_configuration, request)
        self.changed(config.name)
        self._settle_soon(config.name)
        return config

    def _update_configuration(self, request: UpdateFunctionConfiguration) -> FunctionConfig:
        current = self.current_for_update(request.function, request.revision_id)
        changes = request.changes
        rules.check_unsupported(changes)
        self._check_changes(changes, current_log_format=current.log_format)
        fields = self._fields(changes, current.code.unzipped_size)
        if "echoed" in fields:
            fields["echoed"] = {**current.echoed, **fields["echoed"]}
        updated = self._in_progress(current, **fields)
        if not self.store.replace_config(updated, current.revision_id):
            raise PreconditionFailedException(REVISION_MISMATCH)
        return updated

    async def update_code(self, request: UpdateFunctionCode) -> FunctionConfig:
        config = await self.run(self._update_code, request)
        if not request.dry_run:
            self.changed(config.name)
            self._settle_soon(config.name, LATEST, config.version)
        return config

    def _update_code(self, request: UpdateFunctionCode) -> FunctionConfig:
        current = self.current_for_update(request.function, request.revision_id)
        fields: dict[str, Any] = {}
        if request.architectures is not None:
            fields["architectures"] = request.architectures
        if request.dry_run:
            with self.code_files.staging() as staged:
                unzipped = archive.unpack(request.zip_file, staged, self._limits)
            digest = hashlib.sha256(request.zip_file).hexdigest()
            code = CodeArchive(sha256=digest, size=len(request.zip_file), unzipped_size=unzipped)
            return dataclasses.replace(current, code=code, **fields)
        with self.code_lock:
            code = self.store_code(request.zip_file, self.clock.now())
            check_total_size(code.unzipped_size, current.layers)
            updated = self._in_progress(current, code=code, **fields)
            if not self.store.replace_config(updated, current.revision_id):
                self.collect_code(code.sha256)
                raise PreconditionFailedException(REVISION_MISMATCH)
            if current.code.sha256 != code.sha256:
                self.collect_code(current.code.sha256)
        return self.publish_now(updated) if request.publish else updated

    def publish_now(self, latest: FunctionConfig, description: str | None = None) -> FunctionConfig:
        """Snapshot `latest` as the next version, unless the newest version already holds the same code and
        configuration, in which case that version is the answer. Call from a worker thread."""
        newest = self.store.newest_version(latest.name)
        if newest is not None and _snapshot(newest) == _snapshot(latest):
            return newest
        published = self.store.publish_version(latest.name, latest.revision_id, _revision())
        if published is None:
            raise PreconditionFailedException(REVISION_MISMATCH)
        if description is not None and description != published.description:
            described = dataclasses.replace(published, description=description)
            self.store.replace_config(described, published.revision_id)
            published = described
        return published

    def current_for_update(self, text: str, revision_id: str | None) -> FunctionConfig:
        name = self.unqualified(text, "Unqualified function ARN expected for this operation.")
        current = self.store.get_config(name, LATEST)
        if current is None:
            raise ResourceNotFoundException(f"Function not found: {self.arn(name)}")
        if current.is_settling:
            raise ResourceConflictException(
                "The operation cannot be performed at this time. An update is in progress for resource: "
                + self.arn(name)
            )
        if revision_id is not None and revision_id != current.revision_id:
            raise PreconditionFailedException(REVISION_MISMATCH)
        return current

    def _in_progress(self, current: FunctionConfig, **fields: Any) -> FunctionConfig:
        return dataclasses.replace(
            current,
            **fields,
            revision_id=_revision(),
            last_modified=self.clock.now(),
            last_update_status=LastUpdateStatus.IN_PROGRESS,
            last_update_status_reason=CREATING_REASON,
            last_update_status_reason_code=CREATING_CODE,
        )

    # delete and tags

    async def delete(self, text: str, qualifier: str | None = None) -> None:
        fid = self.resolve(text, qualifier)
        if fid.qualifier == LATEST:
            raise InvalidParameterValueException("$LATEST version cannot be deleted without deleting the function.")
        if fid.qualifier is not None and not fid.qualifier.isdigit():
            raise InvalidParameterValueException(
                "DeleteFunction's Qualifier takes a version number; delete an alias with DeleteAlias."
            )
        if fid.qualifier is None:
            await self.run(self._delete, fid.name)
        else:
            await self.run(self._delete_version, fid.name, fid.qualifier)
        self.changed(fid.name)

    def _delete_version(self, name: str, version: str) -> None:
        with self.code_lock:
            aliases = self.store.aliases_of_version(name, version)
            if aliases:
                raise ResourceConflictException(
                    f"Unable to delete version because the following aliases reference it: [{', '.join(aliases)}]"
                )
            sha256 = self.store.delete_version(name, version)
            if sha256 is None:
                raise ResourceNotFoundException(f"Function not found: {self.arn(name, version)}")
            self.collect_code(sha256)

    def _delete(self, name: str) -> None:
        with self.code_lock:
            shas = self.store.delete_function(name)
            if shas is None:
                raise ResourceNotFoundException(f"Function not found: {self.arn(name)}")
            for sha256 in shas:
                self.collect_code(sha256)

    def _tagged_name(self, resource: str) -> str:
        fid = parse_function_id(resource)
        if fid is None or not resource.startswith("arn:"):
            raise InvalidParameterValueException(f"Invalid resource ARN: {resource}")
        return self.unqualified(
            resource,
            "Tags on function aliases and versions are not supported. Please specify a function ARN.",
        )

    async def list_tags(self, resource: str) -> Mapping[str, str]:
        name = self._tagged_name(resource)
        function = await self.run(self.store.get_function, name)
        if function is None:
            raise ResourceNotFoundException(f"Function not found: {self.arn(name)}")
        return function.tags

    async def tag(self, resource: str, tags: Mapping[str, str]) -> None:
        name = self._tagged_name(resource)
        await self.run(self._tag, name, tags)

    def _tag(self, name: str, tags: Mapping[str, str]) -> None:
        function = self.store.get_function(name)
        if function is None:
            raise ResourceNotFoundException(f"Function not found: {self.arn(name)}")
        new_keys = {k: v for k, v in tags.items() if k not in function.tags}
        rules.check_tags(tags, existing=len(function.tags) + len(new_keys) - len(tags))
        if not self.store.update_tags(name, tags, ()):
            raise ResourceNotFoundException(f"Function not found: {self.arn(name)}")

    async def untag(self, resource: str, keys: Iterable[str]) -> None:
        name = self._tagged_name(resource)
        if not await self.run(self.store.update_tags, name, {}, list(keys)):
            raise ResourceNotFoundException(f"Function not found: {self.arn(name)}")

    # settling

    def _settle_soon(self, name: str, *versions: str) -> None:
        """Settle `versions` of `name` (by default `$LATEST`) in the background."""
        task = asyncio.get_running_loop().create_task(
            self._settle_and_tell(name, *dict.fromkeys(versions or (LATEST,)))
        )
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle_and_tell(self, name: str, *versions: str) -> None:
        for version in versions:
            await self.run(self._settle, name, version)
        self.changed(name)

    async def settle_all(self) -> int:
        """Finish every create or update left unsettled (after a restart). Returns how many there were."""
        pending = await self.run(self.store.settling_configs)
        for config in pending:
            await self._settle_and_tell(config.name, config.version)
        return len(pending)

    async def wait_settled(self) -> None:
        """Wait for the settling started so far (used at shutdown)."""
        while self._settling:
            await asyncio.gather(*list(self._settling), return_exceptions=True)

    def _settle(self, name: str, version: str) -> None:
        for _ in range(MAX_SETTLE_ATTEMPTS):
            current = self.store.get_config(name, version)
            if current is None or not current.is_settling:
                return
            settled = dataclasses.replace(current, revision_id=_revision(), **self._outcome(current))
            if self.store.replace_config(settled, current.revision_id):
                return

    def _outcome(self, current: FunctionConfig) -> dict[str, Any]:
        """The fields a settled version gets: Active and Successful, or Failed if its code is gone."""
        if self.code_files.has(current.code.sha256):
            return {
                "state": State.ACTIVE if current.state is State.PENDING else current.state,
                "state_reason": None,
                "state_reason_code": None,
                "last_update_status": LastUpdateStatus.SUCCESSFUL,
                "last_update_status_reason": None,
                "last_update_status_reason_code": None,
            }
        reason = f"The code archive {current.code.sha256_base64} is missing from the data directory."
        if current.state is State.PENDING:
            return {"state": State.FAILED, "state_reason": reason, "state_reason_code": "InternalError"}
        return {
            "last_update_status": LastUpdateStatus.FAILED,
            "last_update_status_reason": reason,
            "last_update_status_reason_code": "InternalError",
        }


_STATE_FIELDS = frozenset(
    {
        "state",
        "state_reason",
        "state_reason_code",
        "last_update_status",
        "last_update_status_reason",
        "last_update_status_reason_code",
    }
)
_IDENTITY_FIELDS = frozenset({"name", "version", "revision_id", "last_modified"})
_CONFIG_FIELDS = (
    frozenset(f.name for f in dataclasses.fields(FunctionConfig)) - _STATE_FIELDS - _IDENTITY_FIELDS - {"code"}
)
"""What a create or configuration update may set."""
_NOT_SNAPSHOT = _STATE_FIELDS | _IDENTITY_FIELDS | {"description"}
"""What may differ between `$LATEST` and a version that still counts as the same snapshot."""


def _snapshot(config: FunctionConfig) -> dict[str, Any]:
    """What a version freezes: everything but identity, timestamps, description and state."""
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in _NOT_SNAPSHOT}


def _revision() -> str:
    return str(uuid.uuid4())
