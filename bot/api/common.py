"""What every admin endpoint shares: the bearer-token check, JSON errors, body and query validation."""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy import or_, select

from bot.infra.services import services_of

ApiHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Model = TypeVar("Model", bound=BaseModel)


class ApiError(Exception):
    """Raised inside a handler; becomes a JSON error response."""

    def __init__(
        self, status: int, error: str, message: str, fields: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.fields = status, error, message, fields

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.fields is not None:
            body["fields"] = self.fields
        headers = {"WWW-Authenticate": 'Bearer realm="lvzhi"'} if self.status == 401 else None
        return web.json_response(body, status=self.status, headers=headers)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def admin_endpoint(handler: ApiHandler) -> ApiHandler:
    """Checks the bearer token (in constant time) and turns :class:`ApiError` into its response."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            _check_token(request)
            return await handler(request)
        except ApiError as exc:
            return exc.response()

    return wrapper


def _check_token(request: web.Request) -> None:
    configured = services_of(request.app).settings.admin.api_token.get_secret_value()
    if not configured:
        raise ApiError(503, "api_disabled", "the admin API is disabled: set admin.api_token "
                       "(or LVZHI_ADMIN__API_TOKEN) to enable it")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # compare_digest on bytes of any length: no early exit that would time the token out.
    valid = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), configured.encode())
    if not valid:
        raise ApiError(401, "unauthorized", "missing or wrong bearer token")


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    return [
        {"field": prefix + ".".join(str(part) for part in error["loc"]) or "body", "message": error["msg"]}
        for error in exc.errors()
    ]


def invalid(fields: list[dict[str, str]]) -> ApiError:
    return ApiError(422, "invalid", "the request is not valid; see fields", fields)


async def parse_body(request: web.Request, model: type[Model]) -> Model:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise invalid([{"field": "body", "message": "body must be JSON"}]) from None
    if not isinstance(data, dict):
        raise invalid([{"field": "body", "message": "body must be a JSON object"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from None


def parse_query(query: Mapping[str, str], model: type[Model]) -> Model:
    try:
        return model.model_validate(dict(query))
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from None


def path_id(request: web.Request, name: str = "member_id") -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise not_found("member")  # not a number: no such member, rather than a validation puzzle
    return int(raw)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def by_id_or_name(column: Any, model: Any, value: str) -> Any:
    """A filter on a foreign key given either its id or the referenced row's name (``?group=城关镇``)."""
    by_name = column.in_(select(model.id).where(model.name == value))
    return or_(column == int(value), by_name) if value.isdigit() else by_name
