"""The OpenAPI 3.1 document of the admin API, generated from the endpoints' declarations
(:mod:`bot.api.registry`): nothing about a request or an answer is written twice.

    Endpoint(method, path, query, body, answers, errors)
        path     {member_id} ──► a path parameter (an Id, or its type in Routes(parameters=…))
        query    a pydantic model ──► one query parameter per field (its alias, its schema)
        body     a pydantic model ──► requestBody, $ref to its schema
        answers  status → TypedDict or model ──► responses, $ref to its schema
        errors   status → when ──► responses with the Error schema, plus 401 and 503, and 422 (Invalid) when
                 there is a query, a body or a path parameter that is not an id
    components/schemas ◄── TypeAdapter(type).json_schema(ref_template="#/components/schemas/{model}")

pydantic emits JSON Schema 2020-12, the dialect of OpenAPI 3.1. Two different types of one name would make one
schema stand for both: that is an error here, not a silent overwrite.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from bot.api.common import ApiHandler, Error, Invalid
from bot.api.registry import Endpoint, Id, path_parameters

REF = "#/components/schemas/{model}"
Mode = Literal["validation", "serialization"]

DESCRIPTION = (
    "The office's side of lvzhi: members (registrations to approve or reject, roles), social-condition reports "
    "and their workflow, deliveries of pushes, activities with their attendance and leave requests, broadcasts "
    "and every notice's report, study materials and plans, the duty ledger, and the audit log of who changed what. "
    "Every endpoint but this document needs `Authorization: Bearer <admin.api_token>` (the office: every group) "
    "or a secretary's personal token (`lvzhi_pat_…`, made at the console's API 令牌 page), which acts as that "
    "secretary within their scope on the endpoints that say so, and is refused (403 personal_token_refused) by "
    "the others. "
    "Errors are `{\"error\": code, \"message\": text}`: 401 unauthorized, 403 forbidden, 404 not_found, "
    "409 with a code naming the state that does not allow the action (already_decided, not_scheduled …), "
    "503 api_disabled; a request that is not valid (body, query, a malformed path value) is 422 "
    "`{\"error\": \"invalid\", \"message\", \"fields\": [{\"field\", \"message\"}]}`, the message from the "
    "message catalogue when a rule refused it. Times are ISO 8601: in with an offset, out in UTC."
)
COMMON_ERRORS = {401: "Missing or wrong bearer token.", 503: "The API is disabled: no admin.api_token is configured."}
INVALID_REQUEST = "The request is not valid: each field and what is wrong with it."
PERSONAL = {True: "A personal token's secretary may not do this (outside their scope or role).",
            False: "personal_token_refused: this endpoint takes the superuser token only."}


class _UntitledFields(GenerateJsonSchema):
    """No "title" on each field ("Created At" for created_at says nothing the name does not); types keep theirs,
    which name the components."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


class _Schemas:
    """components/schemas as the document is built: each type's schema once, under its name."""

    def __init__(self) -> None:
        self.found: dict[str, dict[str, Any]] = {}

    def of(self, type_: Any, mode: Mode) -> dict[str, Any]:
        """The type's schema, its nested types moved to the components."""
        schema = TypeAdapter(type_).json_schema(ref_template=REF, mode=mode, schema_generator=_UntitledFields)
        for name, nested in schema.pop("$defs", {}).items():
            self._put(name, nested)
        return schema

    def ref(self, type_: Any, mode: Mode) -> dict[str, Any]:
        """A $ref to the type's schema, which becomes a component under its title."""
        schema = self.of(type_, mode)
        name = schema.get("title")
        if not name or "$ref" in schema:
            return schema
        self._put(name, schema)
        return {"$ref": REF.format(model=name)}

    def _put(self, name: str, schema: dict[str, Any]) -> None:
        if self.found.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are named {name}: rename one of the types")


def document(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    names: set[str] = set()
    for endpoint in endpoints:
        if endpoint.name in names:
            raise ValueError(f"two endpoints are named {endpoint.name}: operation ids must be unique")
        names.add(endpoint.name)
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "lvzhi admin API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [{"name": tag} for tag in dict.fromkeys(endpoint.tag for endpoint in endpoints)],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": dict(sorted(schemas.found.items())),
        },
    }


def _operation(endpoint: Endpoint, schemas: _Schemas) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": _camel(endpoint.name), "tags": [endpoint.tag],
                                 "summary": endpoint.summary}
    if endpoint.description:
        operation["description"] = endpoint.description
    parameters = _path_parameters(endpoint, schemas) + (
        _query_parameters(endpoint.query, schemas) if endpoint.query else [])
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {"required": endpoint.body_required,
                                    "content": {"application/json": {"schema": schemas.ref(endpoint.body,
                                                                                            "validation")}}}
    operation["responses"] = _responses(endpoint, schemas)
    return operation


def _path_parameters(endpoint: Endpoint, schemas: _Schemas) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True,
             "schema": schemas.of(endpoint.parameters.get(name, Id), "validation")}
            for name in path_parameters(endpoint.path)]


def _query_parameters(model: type[BaseModel], schemas: _Schemas) -> list[dict[str, Any]]:
    """One parameter per field of the query model, by the name a request uses (its alias)."""
    schema = schemas.of(model, "validation")
    required = set(schema.get("required", []))
    found = []
    for name, field in schema["properties"].items():
        schema = _without_null(field)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if "description" in schema:
            parameter["description"] = schema.pop("description")
        found.append({**parameter, "schema": schema})
    return found


def _without_null(field: dict[str, Any]) -> dict[str, Any]:
    """``int | None = None`` in a query model means "may be left out": a query string has no null to give."""
    options = [option for option in field.get("anyOf", []) if option.get("type") != "null"]
    if len(options) != 1:
        return field
    rest = {key: value for key, value in field.items() if key != "anyOf" and value is not None}
    return {**options[0], **rest}


def _responses(endpoint: Endpoint, schemas: _Schemas) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, answer in endpoint.answers.items():
        responses[str(status)] = _content(HTTPStatus(status).phrase, schemas.ref(answer, "serialization"),
                                          endpoint.media_type)
    errors = dict(endpoint.errors)
    typed_path = any(name in endpoint.parameters for name in path_parameters(endpoint.path))
    if endpoint.query is not None or endpoint.body is not None or typed_path:
        errors.setdefault(422, INVALID_REQUEST)
    errors.setdefault(403, PERSONAL[endpoint.personal])
    for status, when in sorted({**errors, **COMMON_ERRORS}.items()):
        responses[str(status)] = _json(when, schemas.ref(Invalid if status == 422 else Error, "serialization"))
    return responses


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return _content(description, schema, "application/json")


def _content(description: str, schema: dict[str, Any], media_type: str) -> dict[str, Any]:
    """An answer of one media type: JSON by its schema, a download (``ok=bytes``) as a binary string."""
    return {"description": description, "content": {media_type: {"schema": schema}}}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def server(built: dict[str, Any]) -> ApiHandler:
    """``GET /api/v1/openapi.json``: public, like most API descriptions (it holds no data, only the API's
    shape)."""

    async def serve_openapi(request: web.Request) -> web.Response:
        return web.json_response(built)

    return serve_openapi
