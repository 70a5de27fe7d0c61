"""The ``/reports`` part of the admin API's OpenAPI document, merged into :data:`bot.api.openapi.DOCUMENT`."""

from __future__ import annotations

from typing import Any

from bot.api.openapi_parts import COMMON_ERRORS as _ERRORS
from bot.api.openapi_parts import error as _error
from bot.api.openapi_parts import json_ref as _json

_STATUSES = ["draft", "submitted", "under_review", "returned", "adopted", "not_adopted"]
_LEVELS = ["county", "city", "provincial", "national"]
_ID = {"name": "report_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


_REPORT_ERRORS = {**_ERRORS, "404": _error("No report with this id (or no such action).")}


_ACTION_RESPONSES = {
    "200": _json("ReportDecision", "Done; the member is told in chat."),
    "409": _error("The report's status does not allow this (illegal_transition)."),
    "422": _json("ValidationError", "The body is not valid."),
    **_REPORT_ERRORS,
}


PATHS: dict[str, Any] = {
    "/reports": {
        "get": {
            "operationId": "listReports",
            "summary": "List social-condition reports, filtered and paginated (ordered by id).",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": _STATUSES}},
                {"name": "group", "in": "query", "description": "liaison group id or exact name",
                 "schema": {"type": "string"}},
                {"name": "year", "in": "query", "schema": {"type": "integer"}},
                {"name": "member", "in": "query", "description": "member id", "schema": {"type": "integer"}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                {"name": "per_page", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
            ],
            "responses": {
                "200": _json("ReportPage", "One page of reports."),
                "422": _json("ValidationError", "A query parameter is not valid (or unknown)."),
                **_ERRORS,
            },
        }
    },
    "/reports/{report_id}": {
        "parameters": [_ID],
        "get": {
            "operationId": "getReport",
            "summary": "One report with its body, photos, history and instructions.",
            "responses": {"200": _json("ReportDetail", "The report."), **_REPORT_ERRORS},
        },
    },
    "/reports/{report_id}/{action}": {
        "parameters": [_ID, {"name": "action", "in": "path", "required": True, "schema": {
            "type": "string", "enum": ["accept", "return", "adopt", "not_adopt", "instruct"]}}],
        "post": {
            "operationId": "reportAction",
            "summary": "Move a report along the workflow: accept (submitted → under_review), return "
                       "{comment}, adopt {level, comment?}, not_adopt {comment?}, instruct {text, leader, "
                       "given_at?} (adopted reports only).",
            "requestBody": {"required": False, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ReportActionBody"}}}},
            "responses": _ACTION_RESPONSES,
        },
    },
}

SCHEMAS: dict[str, Any] = {
    "Report": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "category": {"type": "string"},
            "status": {"type": "string", "enum": _STATUSES},
            "year": {"type": "integer"},
            "member": {"$ref": "#/components/schemas/Ref"},
            "group": {"$ref": "#/components/schemas/Ref"},
            "adoption_level": {"type": ["string", "null"], "enum": [*_LEVELS, None]},
            "review_comment": {"type": "string"},
            "length": {"type": "integer", "description": "characters, whitespace not counted"},
            "similar_report_id": {"type": ["integer", "null"]},
            "similarity": {"type": ["number", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "submitted_at": {"type": ["string", "null"], "format": "date-time"},
            "decided_at": {"type": ["string", "null"], "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "ReportDetail": {
        "allOf": [{"$ref": "#/components/schemas/Report"}, {"type": "object", "properties": {
            "body": {"type": "string"},
            "photos": {"type": "array", "items": {"type": "object"}},
            "history": {"type": "array", "items": {"type": "object"}},
            "instructions": {"type": "array", "items": {"type": "object"}},
        }}],
    },
    "ReportDecision": {
        "allOf": [{"$ref": "#/components/schemas/ReportDetail"}, {"type": "object", "properties": {
            "notified": {"type": "boolean", "description": "a chat message to the member was queued"},
        }}],
    },
    "ReportPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Report"}},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        },
    },
    "ReportActionBody": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "comment": {"type": "string", "maxLength": 500},
            "level": {"type": "string", "enum": _LEVELS},
            "text": {"type": "string", "maxLength": 1000},
            "leader": {"type": "string", "maxLength": 80},
            "given_at": {"type": "string", "format": "date-time"},
        },
    },
}
