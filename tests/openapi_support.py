"""Every answer the admin API gives in the tests is checked against its OpenAPI document, so the document cannot
drift from the code: a status it does not list, a key it does not name, a type or a null it does not allow.

    admin_api_client(...) ─► the app with the middleware ``answers_as_documented``
        an answer of a /api/v1 route ─► its operation (the route's path template and method)
            ─► the status is documented? ─► the JSON is valid against its schema (objects closed: a key the
               document does not name is a failure; times must be RFC 3339)
        not as documented ─► 500 {"error": "undocumented", "problems": [...]}: the test's status check fails
                              and shows why
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator

from bot.api import API_PREFIX, api_document

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@functools.cache
def _closed_components() -> dict[str, Any]:
    """The components with every object closed: the document leaves them open for clients (new keys may come),
    the tests do not (a key the code adds must be documented)."""
    components = copy.deepcopy(api_document()["components"])

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                node.setdefault("additionalProperties", False)
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(components)
    return components


def problems_with(method: str, path: str, status: int, body: Any) -> list[str]:
    """What is wrong with this answer by the document (nothing: [])."""
    operation = api_document()["paths"].get(path, {}).get(method.lower())
    if operation is None:
        return [f"{method} {path} is not in the document"]
    documented = operation["responses"].get(str(status))
    if documented is None:
        return [f"{method} {path} answered {status}, which the document does not list"]
    schema = {**documented["content"]["application/json"]["schema"], "components": _closed_components()}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{method} {path} {status} at {'/'.join(map(str, error.absolute_path)) or 'the top'}: {error.message}"
            for error in validator.iter_errors(body)]


def download_problems(method: str, path: str, response: web.Response) -> list[str]:
    """A download is bytes: the document must list its status with its media type."""
    operation = api_document()["paths"].get(path, {}).get(method.lower(), {})
    content = operation.get("responses", {}).get(str(response.status), {}).get("content", {})
    if response.content_type not in content:
        return [f"{method} {path} answered {response.status} {response.content_type}, which the document does not list"]
    return []


@web.middleware
async def answers_as_documented(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else ""
    if not template.startswith(API_PREFIX) or template.endswith("/openapi.json"):
        return response
    assert isinstance(response, web.Response) and response.body is not None, "the admin API answers in full"
    if response.content_type != "application/json":  # a download: its status and media type are documented
        problems = download_problems(request.method, template.removeprefix(API_PREFIX), response)
        return response if not problems else web.json_response(
            {"error": "undocumented", "problems": problems}, status=500)
    problems = problems_with(request.method, template.removeprefix(API_PREFIX), response.status,
                             json.loads(bytes(response.body)))  # type: ignore[arg-type]
    if problems:
        return web.json_response({"error": "undocumented", "problems": problems}, status=500)
    return response
