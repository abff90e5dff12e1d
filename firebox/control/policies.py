"""Resource policies: AddPermission, RemovePermission, GetPolicy.

Policies are kept per function and per qualifier (version or alias; publishing a version does not copy the
unqualified policy), in AWS's document shape. They are recorded and returned faithfully; they are enforced once
the API authenticates callers.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from firebox.control.functions import FunctionService
from firebox.errors import (
    InvalidParameterValueException,
    PolicyLengthExceededException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from firebox.models.function import LATEST

MAX_POLICY_BYTES = 20_480
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetPolicy API to retrieve the latest Revision Id"
)
NO_POLICY = "No policy is associated with the given resource."
_ACCOUNT = re.compile(r"\d{12}")
_SERVICE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?")
_CONDITIONS = {  # request member → (operator, condition key)
    "SourceArn": ("ArnLike", "AWS:SourceArn"),
    "SourceAccount": ("StringEquals", "AWS:SourceAccount"),
    "PrincipalOrgID": ("StringEquals", "aws:PrincipalOrgID"),
    "FunctionUrlAuthType": ("StringEquals", "lambda:FunctionUrlAuthType"),
    "EventSourceToken": ("StringEquals", "lambda:EventSourceToken"),
}


def principal(value: str) -> str | dict[str, str]:
    if value == "*":
        return "*"
    if _ACCOUNT.fullmatch(value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if value.startswith("arn:aws:iam::"):
        return {"AWS": value}
    if _SERVICE.fullmatch(value):
        return {"Service": value}
    raise InvalidParameterValueException(
        "The provided principal was invalid. Please check the principal and try again."
    )


class PolicyService:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions
        self.store = functions.store

    async def add_permission(self, text: str, qualifier: str | None, request: dict[str, Any]) -> dict[str, Any]:
        fid = self.functions.resolve(text, qualifier)
        if fid.qualifier == LATEST:
            raise InvalidParameterValueException("We currently do not support adding policies for $LATEST.")
        statement: dict[str, Any] = {
            "Sid": request["StatementId"],
            "Effect": "Allow",
            "Principal": principal(request["Principal"]),
            "Action": request["Action"],
            "Resource": self.functions.arn(fid.name, fid.qualifier),
        }
        condition: dict[str, dict[str, str]] = {}
        for member, (operator, key) in _CONDITIONS.items():
            if request.get(member):
                condition.setdefault(operator, {})[key] = request[member]
        if condition:
            statement["Condition"] = condition
        await self.functions.run(self._add, fid.name, fid.qualifier or "", statement, request.get("RevisionId"))
        return statement

    def _add(self, name: str, qualifier: str, statement: dict[str, Any], revision_id: str | None) -> None:
        self._require(name, qualifier)
        current = self.store.get_policy(name, qualifier)
        statements, current_revision = current if current else ([], None)
        if revision_id is not None and revision_id != current_revision:
            raise PreconditionFailedException(REVISION_MISMATCH)
        if any(existing["Sid"] == statement["Sid"] for existing in statements):
            raise ResourceConflictException(
                f"The statement id ({statement['Sid']}) provided already exists. Please provide a new statement id, "
                "or remove the existing statement."
            )
        statements = [*statements, statement]
        size = len(json.dumps(_document(statements)).encode())
        if size > MAX_POLICY_BYTES:
            raise PolicyLengthExceededException(
                f"The final policy size ({size}) is bigger than the limit ({MAX_POLICY_BYTES})."
            )
        if not self.store.put_policy(name, qualifier, statements, str(uuid.uuid4()), current_revision):
            raise PreconditionFailedException(REVISION_MISMATCH)

    async def get_policy(self, text: str, qualifier: str | None) -> tuple[dict[str, Any], str]:
        fid = self.functions.resolve(text, qualifier)
        current = await self.functions.run(self._current, fid.name, fid.qualifier or "")
        if current is None:
            raise ResourceNotFoundException(NO_POLICY)
        statements, revision = current
        return _document(statements), revision

    def _current(self, name: str, qualifier: str) -> tuple[list[dict[str, Any]], str] | None:
        self._require(name, qualifier)
        return self.store.get_policy(name, qualifier)

    async def remove_permission(self, text: str, qualifier: str | None, sid: str, revision_id: str | None) -> None:
        fid = self.functions.resolve(text, qualifier)
        await self.functions.run(self._remove, fid.name, fid.qualifier or "", sid, revision_id)

    def _remove(self, name: str, qualifier: str, sid: str, revision_id: str | None) -> None:
        current = self._current(name, qualifier)
        if current is None:
            raise ResourceNotFoundException(NO_POLICY)
        statements, current_revision = current
        if revision_id is not None and revision_id != current_revision:
            raise PreconditionFailedException(REVISION_MISMATCH)
        kept = [statement for statement in statements if statement["Sid"] != sid]
        if len(kept) == len(statements):
            raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
        if not self.store.put_policy(name, qualifier, kept, str(uuid.uuid4()), current_revision):
            raise PreconditionFailedException(REVISION_MISMATCH)

    def _require(self, name: str, qualifier: str) -> None:
        """The function, and the version or alias a qualified policy belongs to, must exist."""
        if self.store.get_config(name, LATEST) is None:
            raise ResourceNotFoundException(f"No policy found for: {self.functions.arn(name)}")
        if not qualifier or qualifier == LATEST:
            return
        if qualifier.isdigit():
            if self.store.get_config(name, qualifier) is None:
                raise ResourceNotFoundException(f"Function not found: {self.functions.arn(name, qualifier)}")
        elif self.store.get_alias(name, qualifier) is None:
            raise ResourceNotFoundException(f"Cannot find alias arn: {self.functions.arn(name, qualifier)}")


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Id": "default", "Statement": statements}
