"""Layers through the real server: publish, reference, /opt and its order, pinning, limits, the layer API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import create, error_of, make_zip
from tests.hostile_zips import archive, file

LAYER_ARN = "arn:aws:lambda:us-east-1:000000000000:layer:"
USES_LAYER = (
    "import os, which\n"
    "def handler(event, context):\n"
    "    try:\n"
    "        open('/opt/new-file', 'w')\n"
    "        writable = True\n"
    "    except OSError:\n"
    "        writable = False\n"
    "    return {'which': which.VALUE, 'file': which.__file__, 'opt_writable': writable}\n"
)


def publish(lam: Any, layer: str, value: str, **kwargs: Any) -> dict[str, Any]:
    content = make_zip({"python/which.py": f"VALUE = {value!r}\n", f"python/only_{value}.py": ""})
    response: dict[str, Any] = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": content}, **kwargs)
    return response


def run(lam: Any, name: str, qualifier: str | None = None) -> Any:
    params: dict[str, Any] = {"FunctionName": name, "Payload": b"{}"}
    if qualifier:
        params["Qualifier"] = qualifier
    response = lam.invoke(**params)
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    return result


def test_a_layer_built_the_way_the_seeds_show_is_importable(lam: Any, name: str) -> None:
    packaged = make_zip({"python/greeting/__init__.py": "def hello(n):\n    return f'hello {n}'\n"})
    layer = lam.publish_layer_version(
        LayerName=f"{name}-pkg",
        Content={"ZipFile": packaged},
        CompatibleRuntimes=["python3.11"],
        Description="a package",
        LicenseInfo="MIT",
    )
    assert layer["Version"] == 1
    assert layer["LayerVersionArn"] == f"{LAYER_ARN}{name}-pkg:1"
    assert layer["LayerArn"] == f"{LAYER_ARN}{name}-pkg"
    source = "from greeting import hello\ndef handler(event, context):\n    return hello('layer')\n"
    config = create(lam, name, make_zip({"app.py": source}), Layers=[layer["LayerVersionArn"]])
    assert config["Layers"] == [{"Arn": layer["LayerVersionArn"], "CodeSize": layer["Content"]["CodeSize"]}]
    assert run(lam, name) == "hello layer"


def test_later_layers_override_earlier_ones_and_opt_is_read_only(lam: Any, name: str) -> None:
    first = publish(lam, f"{name}-a", "a")["LayerVersionArn"]
    second = publish(lam, f"{name}-b", "b")["LayerVersionArn"]
    create(lam, name, make_zip({"app.py": USES_LAYER}), Layers=[first, second])
    result = run(lam, name)
    assert result["which"] == "b"
    assert result["opt_writable"] is False
    lam.update_function_configuration(FunctionName=name, Layers=[second, first])
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    assert run(lam, name)["which"] == "a"


def test_a_published_version_pins_its_layers(lam: Any, name: str) -> None:
    first = publish(lam, f"{name}-a", "a")["LayerVersionArn"]
    second = publish(lam, f"{name}-b", "b")["LayerVersionArn"]
    create(lam, name, make_zip({"app.py": USES_LAYER}), Layers=[first], Publish=True)
    lam.update_function_configuration(FunctionName=name, Layers=[second])
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    assert run(lam, name)["which"] == "b"
    assert run(lam, name, "1")["which"] == "a"


def test_layer_rules(lam: Any, name: str) -> None:
    arns = [publish(lam, f"{name}-{i}", str(i))["LayerVersionArn"] for i in range(6)]

    def refused(layers: list[str]) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as exc:
            create(lam, name, make_zip({"app.py": USES_LAYER}), wait=False, Layers=layers)
        return error_of(exc)

    assert refused(arns) == ("InvalidParameterValueException", "Cannot reference more than 5 layers.", 400)
    again = publish(lam, f"{name}-0", "again")["LayerVersionArn"]
    assert refused([arns[0], again]) == (
        "InvalidParameterValueException",
        "Two different versions of the same layer are not allowed to be referenced in the same function. "
        f"{arns[0]} and {again} are versions of the same layer.",
        400,
    )
    missing = f"{LAYER_ARN}{name}-nothing:3"
    assert refused([missing]) == ("InvalidParameterValueException", f"Layer version {missing} does not exist.", 400)
    elsewhere = f"arn:aws:lambda:eu-west-1:000000000000:layer:{name}-0:1"
    assert refused([elsewhere])[1] == (
        "Layers are not in the same region as the function. Layers are expected to be in region us-east-1."
    )


def test_layer_api_round_trip_and_deletion(lam: Any, name: str) -> None:
    layer = f"{name}-api"
    v1 = publish(lam, layer, "one", CompatibleRuntimes=["python3.12"])
    v2 = publish(lam, layer, "two", CompatibleRuntimes=["python3.11"])
    assert v2["Version"] == 2
    got = lam.get_layer_version(LayerName=layer, VersionNumber=1)
    assert got["Content"]["CodeSha256"] == v1["Content"]["CodeSha256"]
    assert lam.get_layer_version_by_arn(Arn=v2["LayerVersionArn"])["Version"] == 2
    listed = lam.list_layer_versions(LayerName=layer)["LayerVersions"]
    assert [v["Version"] for v in listed] == [2, 1], "newest first"
    assert [
        v["Version"] for v in lam.list_layer_versions(LayerName=layer, CompatibleRuntime="python3.12")["LayerVersions"]
    ] == [1]
    layers = {entry["LayerName"]: entry for entry in lam.list_layers()["Layers"]}
    assert layers[layer]["LatestMatchingVersion"]["Version"] == 2
    create(lam, name, make_zip({"app.py": USES_LAYER}), Layers=[v1["LayerVersionArn"]])
    lam.delete_layer_version(LayerName=layer, VersionNumber=1)
    lam.delete_layer_version(LayerName=layer, VersionNumber=1)  # idempotent
    with pytest.raises(ClientError) as exc:
        lam.get_layer_version(LayerName=layer, VersionNumber=1)
    assert error_of(exc) == ("ResourceNotFoundException", f"Layer version {LAYER_ARN}{layer}:1 does not exist.", 404)
    assert run(lam, name)["which"] == "one", "functions using a deleted layer version keep working"
    assert publish(lam, layer, "three")["Version"] == 3, "numbers are never reused"


def test_hostile_layer_archives_are_refused(lam: Any, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        lam.publish_layer_version(LayerName=name, Content={"ZipFile": archive(file("../../escape.py"))})
    code, message, status = error_of(exc)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("Could not unzip uploaded file.")
