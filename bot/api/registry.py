"""Each endpoint declared once, where it is written: method and path, what it takes (path parameters, a query
model, a body model), what it answers (a type per status) and the errors it may answer.

    routes = Routes("members")

    @routes.patch("/members/{member_id}", "Change …", body=MemberPatch, ok=MemberDetail, errors={404: "…"})
    async def patch_member(request: web.Request, member_id: int, body: MemberPatch) -> web.Response: ...

    request ─► admin_endpoint (token) ─► the path parameters, ``query`` and ``body`` parsed by their
               declarations and given to the handler as arguments:
                   an id that is not a number ─► 404 not_found (no number names a row)
                   another parameter ({year}) out of its type, a query or body not valid ─► 422 invalid

    bot.api.setup_admin_api ──► app.router.add_route(method, "/api/v1" + path, the routed handler)
                            └─► bot.api.openapi.document(endpoints): paths from these declarations, schemas
                                from their pydantic models and TypedDicts

So a route cannot be served undocumented, a handler cannot read another query than the documented one, and
the documented shape of an answer is the type its code is written against (tests/openapi_support.py checks
every answer of the API tests against the document).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from bot.api.common import ApiHandler, admin_endpoint, field_errors, invalid, not_found, parse_body, parse_query

# A row's id in a path: what a database id can be (bigint), from 1.
Id = Annotated[int, Field(ge=1, le=10**18 - 1)]
Handler = Callable[..., Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str  # under /api/v1, with {parameters}
    handler: ApiHandler  # the token-checked one that is routed
    tag: str
    summary: str
    description: str | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_required: bool = True
    answers: Mapping[int, Any] = field(default_factory=dict)  # status → the type of the JSON answered
    errors: Mapping[int, str] = field(default_factory=dict)  # status → when (401, 503, 422 are added)
    parameters: Mapping[str, Any] = field(default_factory=dict)  # path parameter → its type (default Id)
    media_type: str = "application/json"  # of the answer: a download (``bytes``) names its own
    personal: bool = False  # takes a personal token, keeping its holder to their scope (else 403 for one)

    @property
    def name(self) -> str:
        return self.handler.__name__


class Routes:
    """The endpoints of one part of the API, in the order they are routed. ``parameters`` gives the type of
    path parameters that are not row ids (``{year}``); every other one is an :data:`Id`."""

    def __init__(self, tag: str, parameters: Mapping[str, Any] | None = None) -> None:
        self.tag, self.parameters = tag, dict(parameters or {})
        self.endpoints: list[Endpoint] = []

    def add(
        self, method: str, path: str, summary: str, *, ok: Any, status: int = 200,
        query: type[BaseModel] | None = None, body: type[BaseModel] | None = None, body_required: bool | None = None,
        errors: Mapping[int, str] | None = None, description: str | None = None,
        media_type: str = "application/json", personal: bool = False,
    ) -> Callable[[Handler], ApiHandler]:
        """Declare the decorated handler. What is routed (and returned) checks the token
        (:func:`bot.api.common.admin_endpoint`) and calls the handler with its parsed arguments. A body is required
        when its model has a required field, unless ``body_required`` says otherwise. ``personal``: the handler
        keeps a personal token to its holder's scope (bot.api.common.caller), so one is let in."""

        def declare(handler: Handler) -> ApiHandler:
            routed = admin_endpoint(_parsing(handler, path, self.parameters, query, body), personal=personal)
            needed = body_required if body_required is not None else _has_required_field(body)
            self.endpoints.append(Endpoint(
                method=method, path=path, handler=routed, tag=self.tag, summary=summary, description=description,
                query=query, body=body, body_required=needed, answers={status: ok}, errors=dict(errors or {}),
                parameters=self.parameters, media_type=media_type, personal=personal,
            ))
            return routed

        return declare

    def get(self, path: str, summary: str, **declared: Any) -> Callable[[Handler], ApiHandler]:
        return self.add("GET", path, summary, **declared)

    def post(self, path: str, summary: str, **declared: Any) -> Callable[[Handler], ApiHandler]:
        return self.add("POST", path, summary, **declared)

    def put(self, path: str, summary: str, **declared: Any) -> Callable[[Handler], ApiHandler]:
        return self.add("PUT", path, summary, **declared)

    def patch(self, path: str, summary: str, **declared: Any) -> Callable[[Handler], ApiHandler]:
        return self.add("PATCH", path, summary, **declared)

    def delete(self, path: str, summary: str, **declared: Any) -> Callable[[Handler], ApiHandler]:
        return self.add("DELETE", path, summary, **declared)


def _parsing(handler: Handler, path: str, types: Mapping[str, Any], query: type[BaseModel] | None,
             body: type[BaseModel] | None) -> ApiHandler:
    """The handler called with its path parameters, ``query`` and ``body`` parsed; a path parameter first (an
    unknown row is 404 whatever the body says), then the query, then the body."""
    adapters = {name: TypeAdapter(types.get(name, Id)) for name in path_parameters(path)}

    @functools.wraps(handler)
    async def parsed(request: web.Request) -> web.StreamResponse:
        values: dict[str, Any] = {name: _path_value(request, name, adapter, is_id=name not in types)
                                  for name, adapter in adapters.items()}
        if query is not None:
            values["query"] = parse_query(request.query, query)
        if body is not None:
            values["body"] = await parse_body(request, body)
        return await handler(request, **values)

    return parsed


def path_parameters(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def _path_value(request: web.Request, name: str, adapter: TypeAdapter[Any], *, is_id: bool) -> Any:
    raw = request.match_info[name]
    try:
        if is_id:
            return adapter.validate_python(int(raw) if raw.isdigit() else None)
        return adapter.validate_strings(raw)
    except ValidationError as exc:
        if is_id:  # not a number a row could have: nothing is found by it, like an unknown number
            raise not_found(name.removesuffix("_id")) from None
        raise invalid(field_errors(exc, prefix=name)) from None


def _has_required_field(body: type[BaseModel] | None) -> bool:
    return body is not None and any(info.is_required() for info in body.model_fields.values())
