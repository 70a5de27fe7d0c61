"""The admin API's OpenAPI document is generated from the endpoints' declarations: it is valid OpenAPI 3.1,
names every route the app serves (and nothing else), and every reference in it resolves. Refusals of the rules
become one error shape (tests/support.py checks every answer of the API tests against the document)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from bot.api import API_PREFIX, endpoints
from bot.api.common import refused
from bot.api.openapi import document
from bot.domain.refusals import Kind, Refusal, Term
from bot.infra.i18n import Catalogue


def _refs(node: Any) -> list[str]:
    """Every "$ref" anywhere in ``node``."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.append(node["$ref"])
        node = list(node.values())
    if isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found


def _resolve(root: dict[str, Any], pointer: str) -> Any:
    assert pointer.startswith("#/"), pointer
    found: Any = root
    for part in pointer[2:].split("/"):
        found = found[part.replace("~1", "/").replace("~0", "~")]
    return found


async def test_the_served_document_is_valid_openapi(api: TestClient) -> None:
    response = await api.get(f"{API_PREFIX}/openapi.json")  # no token: the document is public
    assert response.status == 200
    served = await response.json()
    assert served == document(endpoints())
    assert served["openapi"] == "3.1.0"
    validate(served)


async def test_every_route_is_documented_with_its_methods(api: TestClient) -> None:
    served = set()
    for resource in api.app.router.resources():  # type: ignore[union-attr]
        path = resource.canonical
        if path.startswith(API_PREFIX) and not path.endswith("/openapi.json"):
            served |= {(path.removeprefix(API_PREFIX), route.method.lower()) for route in resource
                       if route.method != "HEAD"}
    paths = document(endpoints())["paths"]
    documented = {(path, method) for path, item in paths.items() for method in item}
    assert served == documented and len(served) == len(endpoints())
    for path, item in paths.items():
        for method, operation in item.items():
            named = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert named == set(path.replace("}", "{").split("{")[1::2]), (method, path)
            assert {"401", "503"} <= set(operation["responses"]), (method, path)


def test_every_reference_resolves_and_every_schema_is_used() -> None:
    built = document(endpoints())
    refs = _refs(built)
    assert refs
    for ref in refs:
        assert isinstance(_resolve(built, ref), dict), ref
    used = {ref.removeprefix("#/components/schemas/") for ref in refs}
    assert used == set(built["components"]["schemas"])
    json.dumps(built)  # plain JSON all the way down


def test_queries_bodies_and_errors_come_from_the_declarations() -> None:
    paths = document(endpoints())["paths"]
    members = paths["/members"]["get"]
    assert [p["name"] for p in members["parameters"]] == ["page", "per_page", "status", "group", "sector"]
    per_page = next(p for p in members["parameters"] if p["name"] == "per_page")
    assert per_page["schema"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    activities = paths["/activities"]["get"]
    assert {p["name"] for p in activities["parameters"]} >= {"from", "to"}  # the aliases a request uses
    year = paths["/duty/{year}/groups"]["get"]
    assert year["parameters"][0]["schema"] == {"type": "integer", "minimum": 2000, "maximum": 2100}
    assert year["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Invalid"}
    adopt = paths["/reports/{report_id}/adopt"]["post"]
    assert adopt["requestBody"] == {"required": True, "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/AdoptBody"}}}}
    # 403: a personal token whose secretary may not (bot.api.common), documented on every endpoint
    assert set(adopt["responses"]) == {"200", "401", "403", "404", "409", "422", "503"}
    accept = paths["/reports/{report_id}/accept"]["post"]
    assert accept["requestBody"]["required"] is False  # nothing in it is required


def test_each_kind_of_refusal_has_its_status_and_one_body_shape() -> None:
    class Texts:
        texts = Catalogue()

    cases = [
        (Refusal.invalid("leave.error.deny_reason", field="note", min=2, max=300), 422, "invalid"),
        (Refusal.forbidden("leave.error.forbidden"), 403, "forbidden"),
        (Refusal.not_found("members.error.not_found"), 404, "not_found"),
        (Refusal.conflict("leave.error.decided", code="already_decided", status=Term("leave.status.denied")), 409,
         "already_decided"),
    ]
    for refusal, status, code in cases:
        error = refused(refusal, Texts())  # type: ignore[arg-type]
        assert (error.status, error.error, error.message) == (status, code, refusal.render(Catalogue()))
    invalid = refused(cases[0][0], Texts())  # type: ignore[arg-type]
    assert invalid.fields == [{"field": "note", "message": invalid.message}]
    assert refused(Refusal.invalid("report.errors.comment_required"), Texts()).fields[0]["field"] == "body"  # type: ignore[arg-type,index]


def test_a_refusal_names_its_terms_in_the_readers_words() -> None:
    decided = Refusal.conflict("leave.error.decided", code="already_decided", status=Term("leave.status.approved"))
    assert decided.kind is Kind.CONFLICT and decided.values == {"status": Term("leave.status.approved")}
    assert decided.render(Catalogue()) == Catalogue()("leave.error.decided", status="已批准")
    assert decided.render(Catalogue("en")) == Catalogue("en")("leave.error.decided",
                                                              status=Catalogue("en")("leave.status.approved"))
    unknown = Refusal.conflict("leave.error.decided", code="already_decided", status=Term("leave.status.lost"))
    assert unknown.render(Catalogue()) == Catalogue()("leave.error.decided", status="lost")  # not a dotted key
