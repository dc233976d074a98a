"""docs/openapi.json and docs/asyncapi.yaml as JSON Schema validators (Draft 2020-12).

Used by tests/live.py (every WebSocket frame a live test reads, and the JSON answers of a
LiveClient made with `contract=True`) and by tests/contract/.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCS = Path(__file__).resolve().parents[2] / "docs"
OPENAPI_URI = (DOCS / "openapi.json").as_uri()
ASYNCAPI_URI = (DOCS / "asyncapi.yaml").as_uri()
METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")


@cache
def openapi() -> dict:
    return json.loads((DOCS / "openapi.json").read_text(encoding="utf-8"))


@cache
def asyncapi() -> dict:
    return yaml.safe_load((DOCS / "asyncapi.yaml").read_text(encoding="utf-8"))


@cache
def _registry() -> Registry:
    return Registry().with_resources([
        (OPENAPI_URI, Resource.from_contents(openapi(), default_specification=DRAFT202012)),
        (ASYNCAPI_URI, Resource.from_contents(asyncapi(), default_specification=DRAFT202012)),
    ])


@cache
def validator(uri: str) -> Draft202012Validator:
    """A validator for the schema at `uri` (a document's URI and a JSON pointer)."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": uri}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry(),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(uri: str, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator(uri).iter_errors(instance)]


def assert_valid(uri: str, instance: Any) -> None:
    found = errors(uri, instance)
    assert not found, f"not valid against {uri.rsplit('/', 1)[-1]}: {found[:5]}\n{instance!r:.600}"


# --- OpenAPI -------------------------------------------------------------------------------
JOB = OPENAPI_URI + "#/components/schemas/Job"


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _deref(node: dict) -> tuple[dict, list[str]]:
    """Follow a local `$ref` of the OpenAPI document: (node, its pointer parts)."""
    parts: list[str] = []
    while "$ref" in node:
        parts = node["$ref"].removeprefix("#/").split("/")
        node = openapi()
        for part in parts:
            node = node[part]
    return node, parts


def operation(path: str, method: str) -> dict | None:
    return openapi()["paths"].get(path, {}).get(method.lower())


def response_uri(path: str, method: str, status: int) -> str | None:
    """The URI of the JSON body schema documented for this answer; None when the status is
    not documented for the operation or the answer has no JSON body."""
    op = operation(path, method)
    if op is None or str(status) not in op["responses"]:
        return None
    node, parts = _deref(op["responses"][str(status)])
    if "application/json" not in node.get("content", {}):
        return None
    if not parts:
        parts = ["paths", path, method.lower(), "responses", str(status)]
    return f"{OPENAPI_URI}#/{_pointer(*parts, 'content', 'application/json', 'schema')}"


def route_to_path(route: str) -> str:
    """Django's `api/jobs/<uuid:job_id>/` to OpenAPI's `/api/jobs/{job_id}/`."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def validate_answer(path_template: str, method: str, status: int, content_type: str,
                    body: bytes) -> bool:
    """Check one answer against the document; False when its status is not documented."""
    op = operation(path_template, method)
    assert op is not None, f"{method} {path_template} is not in docs/openapi.json"
    if str(status) not in op["responses"]:
        return False
    uri = response_uri(path_template, method, status)
    if uri is not None and method.upper() != "HEAD":
        assert content_type.startswith("application/json"), (path_template, status, content_type)
        assert_valid(uri, json.loads(body))
    return True


# --- AsyncAPI ------------------------------------------------------------------------------
def server_message_names() -> dict[str, str]:
    """Message key in components -> its `type` for every message the server sends."""
    doc = asyncapi()
    names = {}
    for op in doc["operations"].values():
        if op["action"] == "send":
            for ref in op["messages"]:
                key = ref["$ref"].rsplit("/", 1)[-1]
                names[key] = doc["components"]["messages"][key]["name"]
    return names


def client_actions() -> set[str]:
    doc = asyncapi()
    actions = set()
    for op in doc["operations"].values():
        if op["action"] == "receive":
            for ref in op["messages"]:
                key = ref["$ref"].rsplit("/", 1)[-1]
                actions.add(doc["components"]["messages"][key]["payload"]["properties"]
                            ["action"]["const"])
    return actions


def message_uri(key: str) -> str:
    return f"{ASYNCAPI_URI}#/components/messages/{key}/payload"


def assert_server_message(message: Any) -> str:
    """A frame the server sent must be exactly one of the documented server messages; its
    message key (snapshot, update, pong, error)."""
    by_type = {name: key for key, name in server_message_names().items()}
    assert isinstance(message, dict) and message.get("type") in by_type, (
        f"an undocumented server message (docs/asyncapi.yaml): {message!r:.300}")
    key = by_type[message["type"]]
    assert_valid(message_uri(key), message)
    return key
