"""Pieces shared by the admin API's OpenAPI sections (members, reports, deliveries)."""

from __future__ import annotations

from typing import Any


def error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def json_ref(schema: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


COMMON_ERRORS = {
    "401": error("Missing or wrong bearer token."),
    "503": error("The API is disabled: no admin.api_token is configured."),
}
