"""The OpenAPI 3.1 document of the admin API, generated from its endpoint table."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.admin.api import Endpoint

_PARAMETER = re.compile(r"{(\w+)}")
ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(endpoint: Endpoint) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": ERROR}}}
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
        "401": {"description": "No token, or an unknown or revoked one", **error},
        "403": {"description": f"The token's role is below {endpoint.role}", **error},
    }
    if endpoint.body is not None:
        responses["400"] = {"description": "The body cannot be used", **error}
    if "{" in endpoint.path:
        responses["404"] = {"description": "No such item", **error}
    if endpoint.method in ("PATCH", "PUT", "POST"):
        responses["422"] = {"description": "Refused: invalid settings, or credentials the provider rejected",
                            **error}
    return responses


def document(endpoints: Sequence[Endpoint], *, prefix: str) -> dict[str, Any]:
    """The OpenAPI document for `endpoints` mounted under `prefix`."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAMETER.findall(endpoint.path)
        ]
        parameters += [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                       for name in endpoint.query]
        operation: dict[str, Any] = {
            "summary": endpoint.summary,
            "operationId": f"{endpoint.method.lower()}_{endpoint.path.strip('/').replace('/', '_')}"
                           .replace("{", "").replace("}", "").replace("-", "_"),
            "x-required-role": endpoint.role,
            "security": [{"bearer": []}],
            "responses": _responses(endpoint),
        }
        if parameters:
            operation["parameters"] = parameters
        if endpoint.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": endpoint.body}}}
        paths.setdefault(prefix + endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "lapor-gateway admin API", "version": "1",
                 "description": "Bearer tokens from `lapor-gateway admin token create --role viewer|operator|admin`."
                                " Secret values are write-only: answers say set or not set."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"}, "detail": {"type": "string"}}}},
        },
    }
