"""A small structural checker for docs/registry-api.yaml: documented paths, statuses and body shapes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

import yaml

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "registry-api.yaml"

Node = dict[str, object]

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
}


def load_spec() -> Node:
    """The OpenAPI document as a dict."""
    return cast(Node, yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8")))


def _resolve(spec: Node, node: Node) -> Node:
    while "$ref" in node:
        target: object = spec
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = cast(Node, target)[part]
        node = cast(Node, target)
    return node


def _type_ok(kind: str, value: object) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _PY_TYPES[kind])


def schema_errors(spec: Node, schema: Node, value: object, where: str = "$") -> list[str]:
    """Where `value` does not fit `schema` (type, enum, required, properties, items, oneOf)."""
    schema = _resolve(spec, schema)
    if "oneOf" in schema:
        options = cast(list[Node], schema["oneOf"])
        if any(not schema_errors(spec, option, value, where) for option in options):
            return []
        return [f"{where}: matches no oneOf option"]
    errors: list[str] = []
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else cast(list[str], kinds)
        if not any(_type_ok(name, value) for name in names):
            return [f"{where}: {value!r} is not {names}"]
    if "enum" in schema and value not in cast(list[object], schema["enum"]):
        errors.append(f"{where}: {value!r} not in enum")
    if isinstance(value, dict):
        for name in cast(list[str], schema.get("required", [])):
            if name not in value:
                errors.append(f"{where}: missing {name}")
        for name, sub in cast(Node, schema.get("properties", {})).items():
            if name in value:
                errors += schema_errors(spec, cast(Node, sub), value[name], f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(spec, cast(Node, schema["items"]), item, f"{where}[{i}]")
    return errors


def component(spec: Node, name: str) -> Node:
    """A schema under components/schemas."""
    return cast(Node, cast(Node, cast(Node, spec["components"])["schemas"])[name])


def response_schema(spec: Node, method: str, path: str, status: int) -> Node:
    """The documented JSON schema of an answer; AssertionError when the answer is not documented."""
    for template, item in cast(Node, spec["paths"]).items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path):
            operation = cast(Node, item).get(method.lower())
            assert operation is not None, f"{method} {template} is not documented"
            responses = cast(Node, cast(Node, operation)["responses"])
            assert str(status) in responses, f"{method} {template} does not document {status}"
            response = _resolve(spec, cast(Node, responses[str(status)]))
            content = cast(Node, response["content"])
            return cast(Node, cast(Node, content["application/json"])["schema"])
    raise AssertionError(f"{path} is not documented")
