"""Reserved concurrency: PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency.

A function's reserved concurrency both guarantees it that many concurrent executions (they are taken out of the
account's unreserved pool) and caps it there. At least 100 executions always stay unreserved, as on Lambda.
"""

from __future__ import annotations

from firebox.control.functions import FunctionService
from firebox.errors import ResourceNotFoundException, UntypedInvalidParameterValueException

MINIMUM_UNRESERVED = 100
QUALIFIED = (
    "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. "
    "Please specify either a function name or an unqualified function ARN."
)


class ConcurrencyService:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions

    async def put(self, text: str, reserved: int | None) -> None:
        name = self.functions.unqualified(text, QUALIFIED)
        outcome = await self.functions.run(
            self.functions.store.set_reserved_concurrency,
            name,
            reserved,
            self.functions.settings.concurrency_limit,
            MINIMUM_UNRESERVED,
        )
        if outcome == "missing":
            raise ResourceNotFoundException(f"Function not found: {self.functions.arn(name)}")
        if outcome == "too-much":
            raise UntypedInvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MINIMUM_UNRESERVED}]."
            )
        self.functions.changed(name)

    async def get(self, text: str) -> int | None:
        name = self.functions.unqualified(text, QUALIFIED)
        return (await self.functions.get(name)).reserved_concurrency
