"""The operation registry: every AWS operation Firebox answers is where botocore's model says, and requests find
their operation by method, path and (where the model needs it) a query parameter."""

from __future__ import annotations

import re

import pytest
from botocore.loaders import create_loader
from starlette.requests import Request
from starlette.responses import Response

from firebox.api.app import build_registry
from firebox.api.operations import Operation, Registry, rest, route
from firebox.errors import UnknownOperationException

REGISTRY = build_registry()
AWS_REST = [op for op in REGISTRY.operations if op.service != "firebox" and op.target is None]


def _model_http(service: str, name: str) -> dict[str, str]:
    model = create_loader().load_service_model(service, "service-2")
    assert name in model["operations"], f"{service} has no operation {name} in botocore's model"
    http: dict[str, str] = model["operations"][name]["http"]
    return http


def _shape(uri: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", uri)


@pytest.mark.parametrize("operation", AWS_REST, ids=[f"{op.service}:{op.name}" for op in AWS_REST])
def test_rest_operations_are_where_botocore_sends_them(operation: Operation) -> None:
    http = _model_http(operation.service, operation.name)
    uri = operation.path + (f"?{operation.query[0]}={operation.query[1]}" if operation.query else "")
    assert (operation.method, _shape(uri)) == (http["method"], _shape(http["requestUri"]))


def test_rpc_operations_exist_in_their_models() -> None:
    rpc = [op for op in REGISTRY.operations if op.target is not None]
    assert {op.service for op in rpc} == {"logs", "cloudwatch", "events"}
    for op in rpc:
        _model_http(op.service, op.name)
        assert op.action.startswith(op.service + ":")


def test_every_operation_is_registered_once() -> None:
    names = [(op.service, op.name) for op in REGISTRY.operations]
    assert len(names) == len(set(names))


async def _handler(_request: Request) -> Response:
    return Response()


def test_paths_match_segment_by_segment() -> None:
    registry = Registry(
        [
            rest("lambda", "ListLayers", "GET", "/2018-10-31/layers", _handler),
            rest("lambda", "GetLayerVersionByArn", "GET", "/2018-10-31/layers?find=LayerVersion", _handler),
            rest("lambda", "GetLayerVersion", "GET", "/2018-10-31/layers/{layer}/versions/{version}", _handler),
            rest("lambda", "ListAliases", "GET", "/2015-03-31/functions/{name}/aliases", _handler),
            route("Greedy", "ANY", "/_aws/{rest+}", _handler),
        ]
    )
    assert registry.match("GET", "/2018-10-31/layers", b"")[0].name == "ListLayers"
    assert registry.match("GET", "/2018-10-31/layers/", b"")[0].name == "ListLayers"
    assert registry.match("GET", "/2018-10-31/layers", b"find=LayerVersion&Arn=x")[0].name == "GetLayerVersionByArn"
    operation, params = registry.match("GET", "/2018-10-31/layers/my-layer/versions/3", b"")
    assert (operation.name, params) == ("GetLayerVersion", {"layer": "my-layer", "version": "3"})
    assert registry.match("GET", "/2015-03-31/functions/f:$LATEST/aliases", b"")[1] == {"name": "f:$LATEST"}
    assert registry.match("ANY", "/_aws/a/b/c", b"")[1] == {"rest": "a/b/c"}
    for method, path in [
        ("POST", "/2018-10-31/layers"),
        ("GET", "/2018-10-31/layers/my-layer"),
        ("GET", "/2018-10-31/layers/my-layer/versions/3/more"),
        ("GET", "/2015-03-31/functions//aliases"),
    ]:
        with pytest.raises(UnknownOperationException):
            registry.match(method, path, b"")


def test_hooks_see_every_call() -> None:
    registry = Registry([rest("lambda", "ListLayers", "GET", "/2018-10-31/layers", _handler)])
    seen = []
    registry.on_call(lambda operation, scope: seen.append((operation.action, scope["method"])))
    operation, _ = registry.match("GET", "/2018-10-31/layers", b"")
    registry.called(operation, {"method": "GET"})
    assert seen == [("lambda:ListLayers", "GET")]
