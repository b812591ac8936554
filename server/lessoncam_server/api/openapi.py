"""The OpenAPI 3.1 document of /api/v1, built from the declared operations themselves."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from .. import __version__
from .support import API_PREFIX, Operation

_PARAM = re.compile(r"{(\w+)}")


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _security(auth: str) -> list[dict[str, list[str]]]:
    schemes: dict[str, list[dict[str, list[str]]]] = {
        "none": [],
        "user": [{"session": []}],
        "admin": [{"session": []}],
        "unit": [{"unitToken": []}],
        "user_or_unit": [{"session": []}, {"unitToken": []}],
    }
    return schemes[auth]


def build(operations: list[Operation], extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The document for ``operations``, plus ``extra`` operations described as plain dicts
    (method, path, summary, responses) such as the tus endpoint's."""
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        full = API_PREFIX + op.path
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": f"{op.method.lower()}_{op.tag}_{_slug(op.path)}",
            "tags": [op.tag],
            "security": _security(op.auth),
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in _PARAM.findall(op.path)
            ],
            "responses": {
                str(code): (
                    {"description": text, "content": {op.content: {}}}
                    if 200 <= code < 300 and code != 204
                    else {"description": text}
                )
                for code, text in op.responses.items()
            },
        }
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema_ref(op.body, components)}},
            }
        if op.query is not None:
            for name, field in op.query.model_fields.items():
                entry["parameters"].append(
                    {
                        "name": name,
                        "in": "query",
                        "required": field.is_required(),
                        "description": field.description or "",
                        "schema": {"type": "string"},
                    }
                )
        for code in (401, 403) if op.auth != "none" else ():
            entry["responses"].setdefault(str(code), {"description": "Not allowed"})
        paths.setdefault(full, {})[op.method.lower()] = entry
    for item in extra or []:
        paths.setdefault(item["path"], {})[item["method"].lower()] = {
            "summary": item["summary"],
            "operationId": f"{item['method'].lower()}_uploads_{_slug(item['path'])}",
            "tags": ["uploads"],
            "security": item.get("security", [{"unitToken": []}, {"session": []}]),
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in _PARAM.findall(item["path"])
            ],
            "responses": {
                str(code): {"description": text} for code, text in item["responses"].items()
            },
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "lessoncam server API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "lessoncam_session"},
                "unitToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_") or "root"
