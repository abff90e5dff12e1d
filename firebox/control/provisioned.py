"""Provisioned concurrency configurations: Put/Get/Delete/ListProvisionedConcurrencyConfig(s).

Set on a published version or an alias, never on `$LATEST`; counted against the function's reserved concurrency
and the account's unreserved pool (100 always left). The data plane (`dataplane/provisioned.py`) keeps the
environments; the status is READY once all of them are initialised.
"""

from __future__ import annotations

from firebox.control.concurrency import MINIMUM_UNRESERVED
from firebox.control.functions import FunctionService
from firebox.errors import (
    InvalidParameterValueException,
    ProvisionedConcurrencyConfigNotFoundException,
    ResourceNotFoundException,
    UntypedInvalidParameterValueException,
    ValidationException,
)
from firebox.models.function import LATEST

NOT_FOUND = "No Provisioned Concurrency Config found for this function"


class ProvisionedConfigService:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions
        self.store = functions.store

    def _target(self, text: str, qualifier: str | None) -> tuple[str, str]:
        fid = self.functions.resolve(text, qualifier)
        if fid.qualifier is None:
            raise ValidationException.of([(None, "qualifier", "Member must not be null")])
        if fid.qualifier == LATEST:
            raise InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
            )
        return fid.name, fid.qualifier

    async def put(self, text: str, qualifier: str | None, requested: int) -> tuple[str, str, float]:
        name, qualifier_ = self._target(text, qualifier)
        now = self.functions.clock.now()
        await self.functions.run(self._put, name, qualifier_, requested, now)
        return name, qualifier_, now

    def _put(self, name: str, qualifier: str, requested: int, now: float) -> None:
        self._require(name, qualifier)
        function = self.store.get_function(name)
        assert function is not None
        others = sum(r for n, q, r, _ in self.store.list_provisioned(name) if q != qualifier)
        reserved = function.reserved_concurrency
        if reserved is not None and others + requested > reserved:
            raise InvalidParameterValueException(
                "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for "
                "function"
            )
        if reserved is None:
            limit = self.functions.settings.concurrency_limit
            unreserved = limit - self.store.account_usage().reserved_concurrency
            all_provisioned = sum(r for n, q, r, _ in self.store.list_provisioned() if (n, q) != (name, qualifier))
            if unreserved - all_provisioned - requested < MINIMUM_UNRESERVED:
                raise UntypedInvalidParameterValueException(
                    "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
                    f"below its minimum value of [{MINIMUM_UNRESERVED}]."
                )
        self.store.put_provisioned(name, qualifier, requested, now)

    def _require(self, name: str, qualifier: str) -> None:
        if self.store.get_config(name, LATEST) is None:
            raise ResourceNotFoundException(f"Function not found: {self.functions.arn(name)}")
        if qualifier.isdigit():
            if self.store.get_config(name, qualifier) is None:
                raise ResourceNotFoundException(f"Function not found: {self.functions.arn(name, qualifier)}")
        elif self.store.get_alias(name, qualifier) is None:
            raise ResourceNotFoundException(f"Cannot find alias arn: {self.functions.arn(name, qualifier)}")

    async def get(self, text: str, qualifier: str | None) -> tuple[str, str, int, float]:
        name, qualifier_ = self._target(text, qualifier)
        found = await self.functions.run(self._find, name, qualifier_)
        return name, qualifier_, found[0], found[1]

    def _find(self, name: str, qualifier: str) -> tuple[int, float]:
        self._require(name, qualifier)
        for _, q, requested, modified in self.store.list_provisioned(name):
            if q == qualifier:
                return requested, modified
        raise ProvisionedConcurrencyConfigNotFoundException(NOT_FOUND)

    async def delete(self, text: str, qualifier: str | None) -> None:
        name, qualifier_ = self._target(text, qualifier)
        await self.functions.run(self._find, name, qualifier_)
        await self.functions.run(self.store.delete_provisioned, name, qualifier_)

    async def list(self, text: str) -> list[tuple[str, str, int, float]]:
        name = self.functions.unqualified(text, "ListProvisionedConcurrencyConfigs takes an unqualified function.")
        await self.functions.get(name)
        return await self.functions.run(self.store.list_provisioned, name)
