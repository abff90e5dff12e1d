"""Versions and aliases through the real server: publishing, immutability, qualified invocation, weighted routing."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import create, error_of, make_zip

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
SOURCE = "import os\nCODE = {code!r}\ndef handler(event, context):\n    return [CODE, os.environ.get('VAR')]\n"


def code(tag: str) -> bytes:
    return make_zip({"app.py": SOURCE.format(code=tag)})


def settle(lam: Any, name: str) -> None:
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})


def run(lam: Any, name: str, qualifier: str | None = None) -> tuple[Any, str]:
    params = {"FunctionName": name, "Payload": b"{}"}
    if qualifier:
        params["Qualifier"] = qualifier
    response = lam.invoke(**params)
    return json.loads(response["Payload"].read()), response["ExecutedVersion"]


def test_publish_snapshots_code_and_configuration(lam: Any, name: str) -> None:
    create(lam, name, code("one"), Environment={"Variables": {"VAR": "a"}})
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == f"{ARN}{name}:1"
    assert v1["Description"] == "first"
    assert lam.publish_version(FunctionName=name)["Version"] == "1", "nothing changed: the same version"
    lam.update_function_code(FunctionName=name, ZipFile=code("two"))
    settle(lam, name)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"VAR": "b"}})
    settle(lam, name)
    assert run(lam, name) == (["two", "b"], "$LATEST")
    assert run(lam, name, "1") == (["one", "a"], "1"), "version 1 kept its code and variables"
    assert run(lam, f"{name}:1") == (["one", "a"], "1")
    assert run(lam, f"{ARN}{name}:1") == (["one", "a"], "1")
    v2 = lam.publish_version(FunctionName=name)
    assert v2["Version"] == "2"
    got = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert (got["Version"], got["FunctionArn"], got["Environment"]) == (
        "1",
        f"{ARN}{name}:1",
        {"Variables": {"VAR": "a"}},
    )
    listed = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2"]
    everything = [
        f["FunctionArn"]
        for page in lam.get_paginator("list_functions").paginate(FunctionVersion="ALL")
        for f in page["Functions"]
        if f["FunctionName"] == name
    ]
    assert everything == [f"{ARN}{name}:$LATEST", f"{ARN}{name}:1", f"{ARN}{name}:2"]


def test_publish_preconditions(lam: Any, name: str) -> None:
    create(lam, name, code("one"))
    with pytest.raises(ClientError) as exc:
        lam.publish_version(FunctionName=name, CodeSha256="bm90IHRoZSBjb2Rl")
    assert error_of(exc)[0] == "InvalidParameterValueException"
    assert error_of(exc)[1].startswith("CodeSHA256 (bm90IHRoZSBjb2Rl) is different from current CodeSHA256 in $LATEST")
    with pytest.raises(ClientError) as exc:
        lam.publish_version(FunctionName=name, RevisionId="stale")
    assert error_of(exc)[0] == "PreconditionFailedException"


def test_publish_on_create_and_on_update(lam: Any, name: str) -> None:
    created = create(lam, name, code("one"), wait=False, Publish=True)
    assert (created["Version"], created["FunctionArn"], created["State"]) == ("1", f"{ARN}{name}", "Pending")
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    lam.get_waiter("published_version_active").wait(FunctionName=name, Qualifier="1", WaiterConfig={"Delay": 1})
    updated = lam.update_function_code(FunctionName=name, ZipFile=code("two"), Publish=True)
    assert updated["Version"] == "2"
    settle(lam, name)
    assert run(lam, name, "2") == (["two", None], "2")


def test_delete_a_version_and_the_rules_about_it(lam: Any, name: str) -> None:
    create(lam, name, code("one"), Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as exc:
        lam.delete_function(FunctionName=name, Qualifier="1")
    assert error_of(exc) == (
        "ResourceConflictException",
        "Unable to delete version because the following aliases reference it: [live]",
        409,
    )
    lam.delete_alias(FunctionName=name, Name="live")
    lam.delete_function(FunctionName=name, Qualifier="1")
    with pytest.raises(ClientError) as exc:
        run(lam, name, "1")
    assert error_of(exc) == ("ResourceNotFoundException", f"Function not found: {ARN}{name}:1", 404)
    assert run(lam, name) == (["one", None], "$LATEST")
    lam.update_function_code(FunctionName=name, ZipFile=code("two"))
    settle(lam, name)
    assert lam.publish_version(FunctionName=name)["Version"] == "2", "numbers are never reused"


def test_aliases_round_trip_and_errors(lam: Any, name: str) -> None:
    create(lam, name, code("one"), Publish=True)
    alias = lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1", Description="live traffic")
    assert alias["AliasArn"] == f"{ARN}{name}:prod"
    assert (alias["Name"], alias["FunctionVersion"], alias["Description"]) == ("prod", "1", "live traffic")
    assert lam.get_alias(FunctionName=name, Name="prod")["RevisionId"] == alias["RevisionId"]
    assert run(lam, name, "prod") == (["one", None], "1")
    got = lam.get_function(FunctionName=name, Qualifier="prod")["Configuration"]
    assert (got["FunctionArn"], got["Version"]) == (f"{ARN}{name}:prod", "1")
    with pytest.raises(ClientError) as exc:
        lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    assert error_of(exc) == ("ResourceConflictException", f"Alias already exists: {ARN}{name}:prod", 409)
    with pytest.raises(ClientError) as exc:
        lam.get_alias(FunctionName=name, Name="nope")
    assert error_of(exc) == ("ResourceNotFoundException", f"Cannot find alias arn: {ARN}{name}:nope", 404)
    with pytest.raises(ClientError) as exc:
        lam.update_alias(FunctionName=name, Name="nope", FunctionVersion="1")
    assert error_of(exc) == ("ResourceNotFoundException", f"Alias not found: {ARN}{name}:nope", 404)
    with pytest.raises(ClientError) as exc:
        lam.update_alias(FunctionName=name, Name="prod", Description="x", RevisionId="stale")
    assert error_of(exc)[0] == "PreconditionFailedException"
    with pytest.raises(ClientError) as exc:
        lam.create_alias(FunctionName=name, Name="ghost", FunctionVersion="9")
    assert error_of(exc) == ("ResourceNotFoundException", f"Function not found: {ARN}{name}:9", 404)
    with pytest.raises(ClientError) as exc:
        lam.create_alias(FunctionName=name, Name="1234", FunctionVersion="1")
    assert error_of(exc)[0] == "ValidationException"
    lam.create_alias(FunctionName=name, Name="dev", FunctionVersion="$LATEST")
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["dev", "prod"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]] == ["prod"]
    lam.delete_alias(FunctionName=name, Name="dev")
    with pytest.raises(ClientError) as exc:
        run(lam, name, "dev")
    assert error_of(exc)[2] == 404


def test_routing_config_rules(lam: Any, name: str) -> None:
    create(lam, name, code("one"), Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=code("two"), Publish=True)
    settle(lam, name)

    def refused(**kwargs: Any) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as exc:
            lam.create_alias(FunctionName=name, Name="r", **kwargs)
        return error_of(exc)

    assert refused(FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5, "3": 0.1}}) == (
        "InvalidParameterValueException",
        "Number of items in AdditionalVersionWeights cannot be greater than 1",
        400,
    )
    assert refused(FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}}) == (
        "InvalidParameterValueException",
        "Invalid function version 1. Function version 1 is already included in routing configuration.",
        400,
    )
    assert refused(FunctionVersion="$LATEST", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}}) == (
        "InvalidParameterValueException",
        "$LATEST is not supported for an alias pointing to more than 1 version",
        400,
    )
    code_, message, _ = refused(FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}})
    assert code_ == "ValidationException" and "Member must have value less than or equal to 1.0" in message
    both = lam.create_alias(
        FunctionName=name,
        Name="spec",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.9, "2": 0.1}},
    )
    assert both["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}, "the spec's two-entry form, normalised"


def test_weighted_routing_splits_invocations(lam: Any, name: str) -> None:
    create(lam, name, code("one"), Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=code("two"), Publish=True)
    settle(lam, name)
    lam.create_alias(
        FunctionName=name, Name="canary", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}}
    )
    counts: Counter[str] = Counter()
    for _ in range(1000):
        result, executed = run(lam, name, "canary")
        assert result[0] == {"1": "one", "2": "two"}[executed], "a version's environment only runs its own code"
        counts[executed] += 1
    share = counts["2"] / 1000
    print(f"observed share of version 2 at weight 0.1 over 1000 invocations: {share:.3f}")
    assert 0.07 <= share <= 0.13, counts  # ±3.2 standard deviations of a binomial(1000, 0.1)
    lam.update_alias(FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {}})
    assert {run(lam, name, "canary")[1] for _ in range(50)} == {"1"}, "cleared routing applies at once"
