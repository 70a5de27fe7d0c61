"""What every admin endpoint shares: the bearer-token check, one shape of errors, body and query validation,
paging, and getting a row or answering 404.

    request ─► admin_endpoint: token? ─► handler ─► 200/201 JSON
                     │                      ├─ raise ApiError ─────────────► its status and body
                     │                      └─ raise Refusal (bot.domain) ─► by its kind: 422 / 403 / 404 / 409
                     └─ 503 api_disabled, 401 unauthorized

Two kinds of token. The superuser token (``admin.api_token``) acts as the office: every group, audited as
``api-token``. A personal token (``lvzhi_pat_…``, bot.domain.api_tokens) acts as the secretary who made it: an
endpoint declared ``personal=True`` keeps to their scope (:mod:`bot.api.scope`: caller, reach_of, within) and
passes them as ``by`` to the domain, which checks and audits them; any other endpoint refuses it (403
``personal_token_refused``) rather than let it act as the office.

Every error body is ``{"error": code, "message": text}``; an invalid request (body, query string, a path value
that is malformed rather than naming nothing) is **422** ``{"error": "invalid", "message", "fields": [{"field",
"message"}]}``.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import TypedDict

from bot.domain.api_tokens import holder_of, is_personal
from bot.domain.audit import acting_through
from bot.domain.refusals import Kind, Refusal
from bot.infra.services import Services, services_of
from models.audit import Channel
from models.member import Member

ApiHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Model = TypeVar("Model", bound=BaseModel)
Row = TypeVar("Row")

INVALID = 422
MAX_PER_PAGE = 200
# The status of each kind of refusal (bot.domain.refusals); an invalid one also names its field.
STATUS_OF = {Kind.INVALID: INVALID, Kind.FORBIDDEN: 403, Kind.NOT_FOUND: 404, Kind.CONFLICT: 409}


# --- errors -----------------------------------------------------------------------------------------------


class FieldError(TypedDict):
    field: str
    message: str


class Error(TypedDict):
    """Every error: a stable code (``not_found``, ``already_decided`` …) and a message ready to show."""

    error: str
    message: str


class Invalid(Error):
    """A request that is not valid: what is wrong with each field (``body`` for the request as a whole)."""

    fields: list[FieldError]


class ApiError(Exception):
    """Raised inside a handler; becomes a JSON error response."""

    def __init__(
        self, status: int, error: str, message: str, fields: list[FieldError] | None = None
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


def invalid(fields: list[FieldError]) -> ApiError:
    return ApiError(INVALID, "invalid", "the request is not valid; see fields", fields)


def invalid_field(field: str, message: str) -> ApiError:
    """One field is wrong: the message is the answer's message too (ready to show beside the field)."""
    return ApiError(INVALID, "invalid", message, [{"field": field, "message": message}])


def refused(refusal: Refusal, services: Services) -> ApiError:
    """A rule's refusal in the words of the catalogue, with the status of its kind."""
    message = refusal.render(services.texts)
    if refusal.kind is Kind.INVALID:
        return invalid_field(refusal.field or "body", message)
    return ApiError(STATUS_OF[refusal.kind], refusal.code, message)


def admin_endpoint(handler: ApiHandler, *, personal: bool = False) -> ApiHandler:
    """Checks the bearer token (in constant time) and turns :class:`ApiError` and
    :class:`~bot.domain.refusals.Refusal` into their responses (a refusal rolls the transaction back, as it
    leaves the handler's ``async with`` session). ``personal``: the handler keeps a personal token's holder to
    their scope, so it may take one."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            request[CALLER] = await _check_token(request, personal=personal)
            with acting_through(Channel.API, ip=request.remote):  # audited as the holder, or as "api-token"
                return await handler(request)
        except ApiError as exc:
            return exc.response()
        except Refusal as refusal:
            return refused(refusal, services_of(request.app)).response()

    return wrapper


CALLER = web.RequestKey("api_caller", object)  # who the token acts as: a Member, or None for the office


async def _check_token(request: web.Request, *, personal: bool) -> Member | None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip() if scheme.lower() == "bearer" else ""
    if is_personal(given):
        return await _personal(request, given, personal=personal)
    configured = services_of(request.app).settings.admin.api_token.get_secret_value()
    if not configured:
        raise ApiError(503, "api_disabled", "the admin API is disabled: set admin.api_token "
                       "(or LVZHI_ADMIN__API_TOKEN) to enable it")
    # compare_digest on bytes of any length: no early exit that would time the token out.
    if not (given and hmac.compare_digest(given.encode(), configured.encode())):
        raise ApiError(401, "unauthorized", "missing or wrong bearer token")
    return None


async def _personal(request: web.Request, token: str, *, personal: bool) -> Member:
    services = services_of(request.app)
    async with services.db.session() as session:  # a writer: the token's last use is noted
        holder = await holder_of(session, token, now=services.clock.now())
    if holder is None:
        raise ApiError(401, "unauthorized", "missing or wrong bearer token")
    if not personal:
        raise ApiError(403, "personal_token_refused", "this endpoint does not take personal tokens yet: it acts "
                       "for every liaison group; use the superuser token (admin.api_token)")
    return holder


# --- parsing ------------------------------------------------------------------------------------------------


class Strict(BaseModel):
    """A body or query: a field it does not know is refused (a typo would otherwise be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:  # a naive time is refused: guessing the zone would move a meeting by hours
        raise ValueError("give a time zone offset, e.g. 2026-11-22T09:00:00+08:00")
    return value


# A time in a body or query: ISO 8601 with its offset.
Aware = Annotated[datetime, AfterValidator(_aware)]


def _said(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


# A text that must say something (a reason, a comment): blank is refused, the rest is stripped.
Said = Annotated[str, AfterValidator(_said)]


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    return [
        {"field": prefix + ".".join(str(part) for part in error["loc"]) or "body", "message": error["msg"]}
        for error in exc.errors()
    ]


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


async def found(session: AsyncSession, model: type[Row], ident: int, what: str) -> Row:
    """The row with this id, or 404 ``not_found`` naming ``what``."""
    row = await session.get(model, ident)
    if row is None:
        raise not_found(what)
    return row


# --- paging -------------------------------------------------------------------------------------------------


class PageQuery(Strict):
    """``page`` and ``per_page`` of a list; a list that allows longer pages says so in its own ``per_page``."""

    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


async def fetch_page(session: AsyncSession, rows: Select[Any], query: PageQuery) -> tuple[int, list[Any]]:
    """How many rows ``rows`` selects, and the page ``query`` asks for: the objects when it selects one entity
    (``select(Member)``), else tuples (``select(Leave, Member)``)."""
    total = await session.scalar(select(func.count()).select_from(rows.order_by(None).subquery()))
    result = await session.execute(rows.offset(query.offset).limit(query.per_page))
    items = result.scalars().all() if len(rows.column_descriptions) == 1 else result.all()
    return int(total or 0), list(items)


def page_of(items: list[Any], query: PageQuery) -> list[Any]:
    """The page ``query`` asks for of a list already in memory."""
    return items[query.offset:query.offset + query.per_page]


# --- filters ----------------------------------------------------------------------------------------------


def by_id_or_name(column: Any, model: Any, value: str) -> Any:
    """A filter on a foreign key given either its id or the referenced row's name (``?group=城关镇``)."""
    by_name = column.in_(select(model.id).where(model.name == value))
    return or_(column == int(value), by_name) if value.isdigit() else by_name
