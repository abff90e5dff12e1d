"""Resource policies through the real server: AWS's document shape, statement ids, qualifiers and errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import create, error_of, make_zip

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


def test_add_get_remove_round_trip(lam: Any, name: str) -> None:
    create(lam, name)
    added = lam.add_permission(
        FunctionName=name,
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::my-bucket",
        SourceAccount="123456789012",
    )
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "s3-invoke",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": f"{ARN}{name}",
        "Condition": {
            "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"},
            "StringEquals": {"AWS:SourceAccount": "123456789012"},
        },
    }
    lam.add_permission(FunctionName=name, StatementId="account", Action="lambda:GetFunction", Principal="210987654321")
    got = lam.get_policy(FunctionName=name)
    policy = json.loads(got["Policy"])
    assert (policy["Version"], policy["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in policy["Statement"]] == ["s3-invoke", "account"]
    assert policy["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    lam.remove_permission(FunctionName=name, StatementId="s3-invoke", RevisionId=got["RevisionId"])
    assert [s["Sid"] for s in json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]] == ["account"]
    lam.remove_permission(FunctionName=name, StatementId="account")
    with pytest.raises(ClientError) as exc:
        lam.get_policy(FunctionName=name)
    assert error_of(exc) == ("ResourceNotFoundException", "No policy is associated with the given resource.", 404)


def test_policy_errors(lam: Any, name: str) -> None:
    create(lam, name, Publish=True)

    def add(**kwargs: Any) -> tuple[str, str, int]:
        params = {"FunctionName": name, "StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": "*"}
        with pytest.raises(ClientError) as exc:
            lam.add_permission(**{**params, **kwargs})
        return error_of(exc)

    lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal="*")
    assert add() == (
        "ResourceConflictException",
        "The statement id (s) provided already exists. Please provide a new statement id, or remove the existing "
        "statement.",
        409,
    )
    assert add(StatementId="t", Principal="nobody-in-particular") == (
        "InvalidParameterValueException",
        "The provided principal was invalid. Please check the principal and try again.",
        400,
    )
    assert add(StatementId="t", Qualifier="$LATEST") == (
        "InvalidParameterValueException",
        "We currently do not support adding policies for $LATEST.",
        400,
    )
    assert add(StatementId="t", RevisionId="stale")[0] == "PreconditionFailedException"
    assert add(StatementId="t", Qualifier="nope") == (
        "ResourceNotFoundException",
        f"Cannot find alias arn: {ARN}{name}:nope",
        404,
    )
    assert add(StatementId="example.com")[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        lam.remove_permission(FunctionName=name, StatementId="ghost")
    assert error_of(exc) == ("ResourceNotFoundException", "Statement ghost is not found in resource policy.", 404)
    with pytest.raises(ClientError) as exc:
        lam.get_policy(FunctionName=name + "-missing")
    assert error_of(exc) == ("ResourceNotFoundException", f"No policy found for: {ARN}{name}-missing", 404)


def test_policies_are_per_qualifier(lam: Any, name: str) -> None:
    create(lam, name, Publish=True)
    lam.add_permission(FunctionName=name, StatementId="unqualified", Action="lambda:InvokeFunction", Principal="*")
    lam.add_permission(
        FunctionName=name, StatementId="v1", Action="lambda:InvokeFunction", Principal="*", Qualifier="1"
    )
    version_policy = json.loads(lam.get_policy(FunctionName=name, Qualifier="1")["Policy"])
    assert [s["Sid"] for s in version_policy["Statement"]] == ["v1"]
    assert version_policy["Statement"][0]["Resource"] == f"{ARN}{name}:1"
    assert [s["Sid"] for s in json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]] == ["unqualified"]
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": "X=1\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    lam.publish_version(FunctionName=name)
    with pytest.raises(ClientError) as exc:
        lam.get_policy(FunctionName=name, Qualifier="2")
    assert error_of(exc)[1] == "No policy is associated with the given resource.", "publishing does not copy policies"


def test_policy_size_limit(lam: Any, name: str) -> None:
    create(lam, name)

    def add(i: int) -> None:
        lam.add_permission(
            FunctionName=name,
            StatementId=f"statement-{i}",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn=f"arn:aws:s3:::bucket-number-{i}-" + "x" * 40,
        )

    added = 0
    while added < 200:
        try:
            add(added)
        except ClientError as exc:
            code, message = exc.response["Error"]["Code"], exc.response["Error"]["Message"]
            break
        added += 1
    assert 50 < added < 200, "statements are accepted until the policy reaches 20 KB"
    assert code == "PolicyLengthExceededException"
    assert message.startswith("The final policy size (") and message.endswith("is bigger than the limit (20480).")
    assert len(json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]) == added, "nothing half-written"
