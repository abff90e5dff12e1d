"""API Gateway REST APIs (the `apigateway` API) for Lambda proxy integrations: APIs, resources, methods,
integrations, deployments and stages.

Each is kept as the JSON document API Gateway returns (`control/rest_api_documents.py`), in the gateway store
(kind `REST`): an API document, and parts `resource` (one per resource, its methods and their integrations inside
it), `deployment`, `snapshot` (what a deployment serves: the resource documents as they were when it was made) and
`stage`. A stage serves its deployment's snapshot, so changes to resources and methods are live only once a
deployment is made and a stage points at it, as on AWS; a stage's own settings (variables, deployment) apply at
once.

Every change is made under one lock (read, check, write: no lost updates between concurrent calls) on the
control threads. Listeners registered with `on_change` hear the API's id after every committed change, so the
front door forgets what it serves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from firebox.control import rest_api_documents as docs
from firebox.control.functions import FunctionService
from firebox.control.rest_api_documents import DEPLOYMENT, KIND, RESOURCE, SNAPSHOT, STAGE
from firebox.errors import BadRequestException, ConflictException, NotFoundException
from firebox.names import PublicEndpoints

T = TypeVar("T")


class RestApiService:
    def __init__(self, functions: FunctionService, endpoints: PublicEndpoints) -> None:
        self.functions = functions
        self.store = functions.store
        self.endpoints = endpoints
        self._listeners: list[Callable[[str], None]] = []
        self._lock = asyncio.Lock()

    def on_change(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    async def _change(self, api_id: str, fn: Callable[..., T], *args: Any) -> T:
        """Run a read-check-write of `api_id` on a control thread, one at a time, then tell the listeners."""
        async with self._lock:
            result = await self.functions.run(fn, *args)
        for listener in self._listeners:
            listener(api_id)
        return result

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.functions.run(fn, *args)

    def _now(self) -> int:
        return int(time.time())

    # APIs

    async def create_api(self, body: dict[str, Any]) -> dict[str, Any]:
        api_id, root_id = docs.new_id(10), docs.new_id(10)
        api = docs.rest_api(api_id, root_id, body, self._now())
        return await self._change(api_id, self._create_api, api)

    def _create_api(self, api: dict[str, Any]) -> dict[str, Any]:
        self.store.put_gateway_api(api["id"], KIND, api, time.time())
        root = {"id": api["rootResourceId"], "path": "/"}
        self.store.put_gateway_part(api["id"], RESOURCE, root["id"], root)
        return api

    def _api(self, api_id: str) -> dict[str, Any]:
        found = self.store.get_gateway_api(api_id)
        if found is None or found[0] != KIND:
            raise NotFoundException(
                docs.API_NOT_FOUND.format(account=self.functions.settings.account_id, api_id=api_id)
            )
        return found[1]

    async def get_api(self, api_id: str) -> dict[str, Any]:
        return await self._read(self._api, api_id)

    async def list_apis(self, position: str | None, limit: int | None) -> dict[str, Any]:
        apis = await self._read(self.store.list_gateway_apis, KIND)
        return docs.page(apis, "id", position, limit)

    async def update_api(self, api_id: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        def update() -> dict[str, Any]:
            api = docs.patch_rest_api(self._api(api_id), operations)
            self.store.put_gateway_api(api_id, KIND, api, 0.0)
            return api

        return await self._change(api_id, update)

    async def delete_api(self, api_id: str) -> None:
        def delete() -> None:
            self._api(api_id)
            self.store.delete_gateway_api(api_id)

        await self._change(api_id, delete)

    # resources

    def _resource(self, api_id: str, resource_id: str) -> dict[str, Any]:
        self._api(api_id)
        doc = self.store.get_gateway_part(api_id, RESOURCE, resource_id)
        if doc is None:
            raise NotFoundException(docs.RESOURCE_NOT_FOUND)
        return doc

    async def get_resources(
        self, api_id: str, embed_methods: bool, position: str | None, limit: int | None
    ) -> dict[str, Any]:
        def read() -> list[dict[str, Any]]:
            self._api(api_id)
            return self.store.list_gateway_parts(api_id, RESOURCE)

        resources = [docs.shown(r, embed_methods) for r in await self._read(read)]
        return docs.page(resources, "id", position, limit)

    async def get_resource(self, api_id: str, resource_id: str, embed_methods: bool) -> dict[str, Any]:
        return docs.shown(await self._read(self._resource, api_id, resource_id), embed_methods)

    async def create_resource(self, api_id: str, parent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        def create() -> dict[str, Any]:
            parent = self._resource(api_id, parent_id)
            doc = docs.resource(docs.new_id(6), parent, body)
            siblings = [r for r in self.store.list_gateway_parts(api_id, RESOURCE) if r.get("parentId") == parent_id]
            docs.check_siblings(doc, siblings)
            self.store.put_gateway_part(api_id, RESOURCE, doc["id"], doc)
            return doc

        return await self._change(api_id, create)

    async def delete_resource(self, api_id: str, resource_id: str) -> None:
        def delete() -> None:
            doc = self._resource(api_id, resource_id)
            if "parentId" not in doc:
                raise BadRequestException("Cannot delete the root resource of an API.")
            children: dict[str, list[str]] = {}
            for r in self.store.list_gateway_parts(api_id, RESOURCE):
                if "parentId" in r:
                    children.setdefault(r["parentId"], []).append(r["id"])
            doomed, pending = [], [resource_id]
            while pending:
                current = pending.pop()
                doomed.append(current)
                pending.extend(children.get(current, []))
            for part_id in reversed(doomed):  # descendants first: a crash midway leaves no orphan
                self.store.delete_gateway_part(api_id, RESOURCE, part_id)

        await self._change(api_id, delete)

    # methods and integrations

    def _method(self, api_id: str, resource_id: str, http_method: str) -> tuple[dict[str, Any], dict[str, Any]]:
        doc = self._resource(api_id, resource_id)
        found = (doc.get("resourceMethods") or {}).get(http_method)
        if found is None:
            raise NotFoundException(docs.METHOD_NOT_FOUND)
        return doc, found

    def _put_method_doc(
        self, api_id: str, doc: dict[str, Any], http_method: str, method: dict[str, Any] | None
    ) -> None:
        methods = dict(doc.get("resourceMethods") or {})
        if method is None:
            methods.pop(http_method, None)
        else:
            methods[http_method] = method
        updated = {k: v for k, v in doc.items() if k != "resourceMethods"}
        if methods:
            updated["resourceMethods"] = methods
        self.store.put_gateway_part(api_id, RESOURCE, doc["id"], updated)

    async def put_method(self, api_id: str, resource_id: str, http_method: str, body: dict[str, Any]) -> dict[str, Any]:
        docs.check_method_name(http_method)
        method = docs.method(http_method, body)

        def put() -> dict[str, Any]:
            doc = self._resource(api_id, resource_id)
            if http_method in (doc.get("resourceMethods") or {}):
                raise ConflictException("Method already exists for this resource")
            self._put_method_doc(api_id, doc, http_method, method)
            return method

        return await self._change(api_id, put)

    async def get_method(self, api_id: str, resource_id: str, http_method: str) -> dict[str, Any]:
        return (await self._read(self._method, api_id, resource_id, http_method))[1]

    async def delete_method(self, api_id: str, resource_id: str, http_method: str) -> None:
        def delete() -> None:
            doc, _ = self._method(api_id, resource_id, http_method)
            self._put_method_doc(api_id, doc, http_method, None)

        await self._change(api_id, delete)

    async def put_integration(
        self, api_id: str, resource_id: str, http_method: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        integration = docs.integration(resource_id, body, self.functions.resolve)

        def put() -> dict[str, Any]:
            doc, method = self._method(api_id, resource_id, http_method)
            self._put_method_doc(api_id, doc, http_method, {**method, "methodIntegration": integration})
            return integration

        return await self._change(api_id, put)

    async def get_integration(self, api_id: str, resource_id: str, http_method: str) -> dict[str, Any]:
        _, method = await self._read(self._method, api_id, resource_id, http_method)
        if "methodIntegration" not in method:
            raise NotFoundException(docs.INTEGRATION_NOT_FOUND)
        integration: dict[str, Any] = method["methodIntegration"]
        return integration

    async def delete_integration(self, api_id: str, resource_id: str, http_method: str) -> None:
        def delete() -> None:
            doc, method = self._method(api_id, resource_id, http_method)
            if "methodIntegration" not in method:
                raise NotFoundException(docs.INTEGRATION_NOT_FOUND)
            rest = {k: v for k, v in method.items() if k != "methodIntegration"}
            self._put_method_doc(api_id, doc, http_method, rest)

        await self._change(api_id, delete)

    # deployments

    async def create_deployment(self, api_id: str, body: dict[str, Any]) -> dict[str, Any]:
        stage_name = docs.string(body, "stageName")
        if stage_name:
            docs.check_stage_name(stage_name)
        variables = docs.stage_variables(body.get("variables"))
        description = docs.string(body, "description")
        stage_description = docs.string(body, "stageDescription")
        if body.get("canarySettings") is not None:
            raise BadRequestException("Canary deployments are not supported.")

        def create() -> dict[str, Any]:
            self._api(api_id)
            resources = self.store.list_gateway_parts(api_id, RESOURCE)
            methods = [m for r in resources for m in (r.get("resourceMethods") or {}).values()]
            if not methods:
                raise BadRequestException("The REST API doesn't contain any methods")
            if any("methodIntegration" not in m for m in methods):
                raise BadRequestException("No integration defined for method")
            now = self._now()
            deployment: dict[str, Any] = {"id": docs.new_id(6)}
            if description:
                deployment["description"] = description
            deployment["createdDate"] = now
            self.store.put_gateway_part(api_id, SNAPSHOT, deployment["id"], {"resources": resources})
            self.store.put_gateway_part(api_id, DEPLOYMENT, deployment["id"], deployment)
            if stage_name:
                current = self.store.get_gateway_part(api_id, STAGE, stage_name)
                if current is None:
                    stage = docs.stage({"stageName": stage_name, "deploymentId": deployment["id"]}, now)
                    if stage_description:
                        stage["description"] = stage_description
                else:
                    stage = {**current, "deploymentId": deployment["id"], "lastUpdatedDate": now}
                merged = {**stage.get("variables", {}), **variables}
                if merged:
                    stage["variables"] = merged
                self.store.put_gateway_part(api_id, STAGE, stage_name, stage)
            return deployment

        return await self._change(api_id, create)

    async def get_deployments(self, api_id: str, position: str | None, limit: int | None) -> dict[str, Any]:
        def read() -> list[dict[str, Any]]:
            self._api(api_id)
            return self.store.list_gateway_parts(api_id, DEPLOYMENT)

        return docs.page(await self._read(read), "id", position, limit)

    async def get_deployment(self, api_id: str, deployment_id: str, embed_summary: bool) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            self._api(api_id)
            doc = self.store.get_gateway_part(api_id, DEPLOYMENT, deployment_id)
            if doc is None:
                raise NotFoundException(docs.DEPLOYMENT_NOT_FOUND)
            if embed_summary:
                snapshot = self.store.get_gateway_part(api_id, SNAPSHOT, deployment_id) or {"resources": []}
                doc = {**doc, "apiSummary": docs.api_summary(snapshot["resources"])}
            return doc

        return await self._read(read)

    async def delete_deployment(self, api_id: str, deployment_id: str) -> None:
        def delete() -> None:
            self._api(api_id)
            if self.store.get_gateway_part(api_id, DEPLOYMENT, deployment_id) is None:
                raise NotFoundException(docs.DEPLOYMENT_NOT_FOUND)
            if any(s["deploymentId"] == deployment_id for s in self.store.list_gateway_parts(api_id, STAGE)):
                raise BadRequestException("Active stages pointing to this deployment must be moved or deleted")
            self.store.delete_gateway_part(api_id, DEPLOYMENT, deployment_id)
            self.store.delete_gateway_part(api_id, SNAPSHOT, deployment_id)

        await self._change(api_id, delete)

    # stages

    def _stage(self, api_id: str, stage_name: str) -> dict[str, Any]:
        self._api(api_id)
        doc = self.store.get_gateway_part(api_id, STAGE, stage_name)
        if doc is None:
            raise NotFoundException(docs.STAGE_NOT_FOUND)
        return doc

    async def create_stage(self, api_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("canarySettings") is not None:
            raise BadRequestException("Canary settings are not supported.")
        doc = docs.stage(body, self._now())

        def create() -> dict[str, Any]:
            self._api(api_id)
            if self.store.get_gateway_part(api_id, DEPLOYMENT, doc["deploymentId"]) is None:
                raise NotFoundException(docs.DEPLOYMENT_NOT_FOUND)
            if self.store.get_gateway_part(api_id, STAGE, doc["stageName"]) is not None:
                raise ConflictException("Stage already exists")
            self.store.put_gateway_part(api_id, STAGE, doc["stageName"], doc)
            return doc

        return await self._change(api_id, create)

    async def get_stage(self, api_id: str, stage_name: str) -> dict[str, Any]:
        return await self._read(self._stage, api_id, stage_name)

    async def get_stages(self, api_id: str, deployment_id: str | None) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            self._api(api_id)
            return self.store.list_gateway_parts(api_id, STAGE)

        stages = await self._read(read)
        return [s for s in stages if deployment_id is None or s["deploymentId"] == deployment_id]

    async def update_stage(self, api_id: str, stage_name: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        def update() -> dict[str, Any]:
            current = self._stage(api_id, stage_name)
            deployments = {d["id"] for d in self.store.list_gateway_parts(api_id, DEPLOYMENT)}
            doc = docs.patch_stage(current, operations, deployments)
            doc["lastUpdatedDate"] = self._now()
            self.store.put_gateway_part(api_id, STAGE, stage_name, doc)
            return doc

        return await self._change(api_id, update)

    async def delete_stage(self, api_id: str, stage_name: str) -> None:
        def delete() -> None:
            self._stage(api_id, stage_name)
            self.store.delete_gateway_part(api_id, STAGE, stage_name)

        await self._change(api_id, delete)

    # serving

    async def served(self, api_id: str) -> dict[str, Any] | None:
        """What the front door serves: `{"api": doc, "stages": [stage docs], "snapshots": {deployment id:
        [resource docs]}}` for the deployments the stages point at; None if there is no such REST API."""

        def read() -> dict[str, Any] | None:
            found = self.store.get_gateway_api(api_id)
            if found is None or found[0] != KIND:
                return None
            stages = self.store.list_gateway_parts(api_id, STAGE)
            snapshots = {}
            for deployment_id in {s["deploymentId"] for s in stages}:
                snapshot = self.store.get_gateway_part(api_id, SNAPSHOT, deployment_id)
                snapshots[deployment_id] = snapshot["resources"] if snapshot else []
            return {"api": found[1], "stages": stages, "snapshots": snapshots}

        return await self._read(read)
