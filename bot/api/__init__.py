"""The admin JSON API under ``/api/v1/``, for a secretary console or scripts.

Every endpoint but the OpenAPI document needs ``Authorization: Bearer <admin.api_token>`` (the office), or a
secretary's personal token where the endpoint keeps to its holder's scope (:mod:`bot.api.common`; the others
answer 403 ``personal_token_refused``). Errors have one shape
(:mod:`bot.api.common`), whatever part of the API answers:

    no token configured ──► 503 {"error": "api_disabled"}   (the API is off until a token is set)
    missing / wrong token ─► 401 {"error": "unauthorized"}
    unknown id in the path ► 404 {"error": "not_found"}
    invalid body, query or path value ─► 422 {"error": "invalid", "message", "fields": [{"field", "message"}]}
    a state that does not allow the action ─► 409 {"error": <code>}: not_pending, illegal_transition,
        not_scheduled, not_open, unchanged, already_decided, screen_expired, not_sent …

Refusals of the rules (:class:`bot.domain.refusals.Refusal`) are mapped by their kind, with the catalogue's
message. Each part declares its endpoints in a :class:`bot.api.registry.Routes`; they are routed here in the
order of :data:`PARTS`, and the document at ``GET /api/v1/openapi.json`` (:mod:`bot.api.openapi`) is made from
the same declarations.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from bot.api import activities, audit, deliveries, duty, members, notices, openapi, reports, study
from bot.api.registry import Endpoint

API_PREFIX = "/api/v1"
PARTS = (members, deliveries, reports, activities, notices, study, duty, audit)


def endpoints() -> list[Endpoint]:
    return [endpoint for part in PARTS for endpoint in part.routes.endpoints]


@functools.cache
def api_document() -> dict[str, Any]:
    """The OpenAPI document of :func:`endpoints`. The declarations are fixed when the modules load, so it is
    made once per process (a fifth of a second: every app the tests start would pay it again)."""
    return openapi.document(endpoints())


def setup_admin_api(app: web.Application) -> None:
    """Add the admin API's routes to the main application (its services are under ``SERVICES_KEY``). The
    document is made here, so a type that cannot be described fails the start, not a request."""
    app.router.add_get(f"{API_PREFIX}/openapi.json", openapi.server(api_document()))
    for endpoint in endpoints():
        app.router.add_route(endpoint.method, API_PREFIX + endpoint.path, endpoint.handler)
