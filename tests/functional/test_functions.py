"""The function API through boto3 against a real server: create, read, list, update, delete, waiters."""

from __future__ import annotations

import base64
import hashlib
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, RUNTIME, RunningServer, create, error_of, make_zip

ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"


def test_create_reports_pending_then_active(lam: Any, name: str) -> None:
    code = make_zip()
    created = create(lam, name, code, wait=False, Description="first", Timeout=10, MemorySize=256)
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    assert "LastUpdateStatus" not in created
    assert created["FunctionArn"] == ARN_PREFIX + name
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert created["CodeSize"] == len(code)
    assert created["Version"] == "$LATEST"
    assert (created["Timeout"], created["MemorySize"], created["Description"]) == (10, 256, "first")
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    active = lam.get_function(FunctionName=name)["Configuration"]
    assert active["State"] == "Active"
    assert active["LastUpdateStatus"] == "Successful"
    assert "StateReason" not in active
    assert active["RevisionId"] != created["RevisionId"]
    assert active["LastModified"] == created["LastModified"]


def test_defaults_match_lambda(lam: Any, name: str) -> None:
    config = create(lam, name)
    assert config["Timeout"] == 3
    assert config["MemorySize"] == 128
    assert config["Description"] == ""
    assert config["Architectures"] == ["x86_64"]
    assert config["TracingConfig"] == {"Mode": "PassThrough"}
    assert config["PackageType"] == "Zip"
    assert "Environment" not in config
    assert lam.get_function(FunctionName=name)["Configuration"]["Runtime"] == RUNTIME


def test_get_function_returns_downloadable_code_tags_and_configuration(lam: Any, name: str) -> None:
    code = make_zip({"app.py": "def handler(e, c):\n    return 1\n", "lib/util.py": "X = 1\n"})
    create(lam, name, code, Tags={"team": "core"})
    function = lam.get_function(FunctionName=name)
    assert function["Configuration"]["FunctionName"] == name
    assert function["Tags"] == {"team": "core"}
    assert function["Code"]["RepositoryType"] == "S3"
    assert "Concurrency" not in function
    with urllib.request.urlopen(function["Code"]["Location"], timeout=5) as response:
        assert response.read() == code


def test_name_partial_arn_and_full_arn_all_address_the_function(lam: Any, name: str) -> None:
    create(lam, name)
    for ref in (name, f"000000000000:function:{name}", ARN_PREFIX + name, f"{ARN_PREFIX}{name}:$LATEST"):
        assert lam.get_function_configuration(FunctionName=ref)["FunctionName"] == name


def test_unknown_function_and_other_region(lam: Any, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName=name)
    assert error_of(exc) == ("ResourceNotFoundException", f"Function not found: {ARN_PREFIX}{name}", 404)
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName=f"arn:aws:lambda:eu-west-1:000000000000:function:{name}")
    assert error_of(exc) == (
        "ResourceNotFoundException",
        "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')",
        404,
    )


def test_qualifier_in_name_must_match_parameter(lam: Any, name: str) -> None:
    create(lam, name)
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName=f"{name}:prod", Qualifier="$LATEST")
    assert error_of(exc)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName=name, Qualifier="7")
    assert error_of(exc) == ("ResourceNotFoundException", f"Function not found: {ARN_PREFIX}{name}:7", 404)


def test_create_twice_conflicts(lam: Any, name: str) -> None:
    create(lam, name)
    with pytest.raises(ClientError) as exc:
        create(lam, name, wait=False)
    assert error_of(exc) == ("ResourceConflictException", f"Function already exist: {name}", 409)


def test_update_configuration_goes_in_progress_then_successful(lam: Any, name: str) -> None:
    first = create(lam, name, Environment={"Variables": {"AA": "1"}})
    before = lam.get_function_configuration(FunctionName=name)
    updated = lam.update_function_configuration(
        FunctionName=name,
        Handler="app.other",
        Description="changed",
        Timeout=900,
        MemorySize=10240,
        EphemeralStorage={"Size": 10240},
        Environment={"Variables": {"BB": "2"}},
        Role=ROLE,
        Runtime=RUNTIME,
    )
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["LastUpdateStatusReasonCode"] == "Creating"
    assert updated["State"] == "Active"
    assert updated["RevisionId"] not in (first["RevisionId"], before["RevisionId"])
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    after = lam.get_function_configuration(FunctionName=name)
    assert after["LastUpdateStatus"] == "Successful"
    assert after["Environment"] == {"Variables": {"BB": "2"}}, "Environment replaces the whole map"
    assert (after["Handler"], after["Timeout"], after["MemorySize"]) == ("app.other", 900, 10240)
    assert after["EphemeralStorage"] == {"Size": 10240}
    assert after["CodeSha256"] == first["CodeSha256"]


def test_stale_revision_id_is_refused(lam: Any, name: str) -> None:
    create(lam, name)
    current = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    with pytest.raises(ClientError) as exc:
        lam.update_function_configuration(FunctionName=name, Timeout=5, RevisionId="not-" + current)
    code, message, status = error_of(exc)
    assert (code, status) == ("PreconditionFailedException", 412)
    assert message.startswith("The Revision Id provided does not match the latest Revision Id.")
    with pytest.raises(ClientError) as exc:
        lam.update_function_code(FunctionName=name, ZipFile=make_zip(), RevisionId="not-" + current)
    assert error_of(exc)[0] == "PreconditionFailedException"
    lam.update_function_configuration(FunctionName=name, Timeout=5, RevisionId=current)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 5


def test_update_code_changes_sha_and_dry_run_changes_nothing(lam: Any, name: str) -> None:
    create(lam, name)
    before = lam.get_function_configuration(FunctionName=name)
    new_code = make_zip({"app.py": "def handler(e, c):\n    return 2\n"})
    dry = lam.update_function_code(FunctionName=name, ZipFile=new_code, DryRun=True)
    assert dry["CodeSha256"] == base64.b64encode(hashlib.sha256(new_code).digest()).decode()
    unchanged = lam.get_function_configuration(FunctionName=name)
    assert (unchanged["CodeSha256"], unchanged["RevisionId"]) == (before["CodeSha256"], before["RevisionId"])
    updated = lam.update_function_code(FunctionName=name, ZipFile=new_code)
    assert updated["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    after = lam.get_function(FunctionName=name)
    assert after["Configuration"]["CodeSha256"] == dry["CodeSha256"]
    assert after["Configuration"]["CodeSize"] == len(new_code)
    with urllib.request.urlopen(after["Code"]["Location"], timeout=5) as response:
        assert response.read() == new_code


def test_delete_removes_function_and_is_404_after(lam: Any, name: str) -> None:
    create(lam, name)
    response = lam.delete_function(FunctionName=name)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName=name)
    assert error_of(exc)[2] == 404
    with pytest.raises(ClientError) as exc:
        lam.delete_function(FunctionName=name)
    assert error_of(exc)[0] == "ResourceNotFoundException"


def test_delete_latest_by_qualifier_is_refused(lam: Any, name: str) -> None:
    create(lam, name)
    with pytest.raises(ClientError) as exc:
        lam.delete_function(FunctionName=name, Qualifier="$LATEST")
    assert error_of(exc) == (
        "InvalidParameterValueException",
        "$LATEST version cannot be deleted without deleting the function.",
        400,
    )


def test_tags_round_trip(lam: Any, name: str) -> None:
    create(lam, name, Tags={"a": "1"})
    arn = ARN_PREFIX + name
    lam.tag_resource(Resource=arn, Tags={"b": "2", "a": "3"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "3", "b": "2"}
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as exc:
        lam.tag_resource(Resource=arn + ":$LATEST", Tags={"c": "3"})
    assert error_of(exc) == (
        "InvalidParameterValueException",
        "Tags on function aliases and versions are not supported. Please specify a function ARN.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        lam.tag_resource(Resource=arn, Tags={f"k{i}": "v" for i in range(50)})
    assert error_of(exc) == (
        "InvalidParameterValueException",
        "Number of tags exceeds resource tag limit.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        lam.list_tags(Resource=ARN_PREFIX + name + "-missing")
    assert error_of(exc)[0] == "ResourceNotFoundException"


def test_account_settings_count_functions_and_code(own_server: RunningServer) -> None:
    lam = own_server.client()
    empty = lam.get_account_settings()
    assert empty["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}
    assert empty["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert empty["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000
    assert empty["AccountLimit"]["CodeSizeZipped"] == 52428800
    assert empty["AccountLimit"]["CodeSizeUnzipped"] == 262144000
    code = make_zip()
    create(lam, "one", code, wait=False)
    create(lam, "two", code, wait=False)
    usage = lam.get_account_settings()["AccountUsage"]
    assert usage == {"TotalCodeSize": 2 * len(code), "FunctionCount": 2}


def test_list_functions_paginates_over_120(own_server: RunningServer) -> None:
    lam = own_server.client()
    names = sorted(f"page-{i:03d}" for i in range(120))
    for fn in names:
        create(lam, fn, wait=False)
    first = lam.list_functions(MaxItems=50)
    assert len(first["Functions"]) == 50
    assert "NextMarker" in first
    assert "State" not in first["Functions"][0], "ListFunctions leaves the state fields out"
    seen = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]]
    assert seen == names
    small = [
        f["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 7})
        for f in page["Functions"]
    ]
    assert small == names
    last = lam.list_functions(Marker=first["NextMarker"], MaxItems=100)
    assert len(last["Functions"]) == 50


def test_functions_survive_a_restart_exactly(own_server: RunningServer) -> None:
    lam = own_server.client()
    create(lam, "keep", Environment={"Variables": {"KEY": "v"}}, Tags={"t": "1"}, MemorySize=512)
    create(lam, "gone")
    lam.delete_function(FunctionName="gone")
    before = lam.get_function(FunctionName="keep")
    listing = lam.list_functions()["Functions"]
    code, output = own_server.stop()
    assert code == 0, output
    restarted = _restart(own_server)
    try:
        lam = restarted.client()
        after = lam.get_function(FunctionName="keep")
        assert after["Configuration"] == before["Configuration"]
        assert after["Tags"] == before["Tags"]
        assert lam.list_functions()["Functions"] == listing
        with urllib.request.urlopen(after["Code"]["Location"], timeout=5) as response:
            assert hashlib.sha256(response.read()).digest() == base64.b64decode(after["Configuration"]["CodeSha256"])
    finally:
        restarted.stop()


def _restart(old: RunningServer) -> RunningServer:
    from tests.conftest import start_server

    return start_server(old.data_dir, *old.extra_args)
