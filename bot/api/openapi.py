"""The OpenAPI 3.1 document of the admin API, written by hand (small, and reviewed with the code).

``tests/test_api_members.py`` checks that every route the app serves under ``/api/v1`` is documented.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.api import activities_openapi, duty_openapi, notices_openapi, reports_openapi
from bot.api.openapi_parts import COMMON_ERRORS as _COMMON_ERRORS
from bot.api.openapi_parts import error as _error
from bot.api.openapi_parts import json_ref as _json

_ROLES = ["member", "group_leader", "secretary", "admin"]
_STATUSES = ["pending", "active", "suspended", "left", "rejected"]
_APPLICATION_STATUSES = ["pending", "approved", "rejected", "withdrawn"]


_MEMBER_ERRORS = {**_COMMON_ERRORS, "404": _error("No member with this id.")}
_ID = {"name": "member_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_REF = {
    "type": ["object", "null"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "lvzhi admin API",
        "version": "1",
        "description": (
            "Members of the CPPCC committee: list, read, approve or reject registrations, change role or "
            "status; social-condition reports; deliveries; activities, their attendance and leave requests; "
            "broadcasts and every notice's report (reached, failed, read), answers to meeting notices; study "
            "materials and plans. "
            "Every endpoint but this document needs `Authorization: Bearer <admin.api_token>`. "
            "Approving or rejecting tells the applicant in chat."
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "paths": {
        "/members": {
            "get": {
                "operationId": "listMembers",
                "summary": "List members, filtered and paginated (ordered by id).",
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": _STATUSES}},
                    {"name": "group", "in": "query", "description": "liaison group id or exact name",
                     "schema": {"type": "string"}},
                    {"name": "sector", "in": "query", "description": "sector (界别) id or exact name",
                     "schema": {"type": "string"}},
                    {"name": "page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "default": 1}},
                    {"name": "per_page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                ],
                "responses": {
                    "200": _json("MemberPage", "One page of members."),
                    "422": _json("ValidationError", "A query parameter is not valid (or unknown)."),
                    **_COMMON_ERRORS,
                },
            }
        },
        "/members/{member_id}": {
            "parameters": [_ID],
            "get": {
                "operationId": "getMember",
                "summary": "One member, with chat identities and the latest registration application.",
                "responses": {"200": _json("MemberDetail", "The member."), **_MEMBER_ERRORS},
            },
            "patch": {
                "operationId": "updateMember",
                "summary": "Change role, status or a secretary's liaison-group scope.",
                "description": "A pending or rejected member's status changes only through approve / reject "
                               "(409). Making someone group leader replaces the group's previous leader.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/MemberPatch"}}}},
                "responses": {
                    "200": _json("MemberDetail", "The member after the change."),
                    "409": _error("The member is pending or rejected."),
                    "422": _json("ValidationError", "The body is not valid."),
                    **_MEMBER_ERRORS,
                },
            },
        },
        "/members/{member_id}/approve": {
            "parameters": [_ID],
            "post": {
                "operationId": "approveMember",
                "summary": "Approve a pending registration: the member becomes active and is told.",
                "responses": {
                    "200": _json("Decision", "Approved."),
                    "409": _error("The member is not pending."),
                    **_MEMBER_ERRORS,
                },
            },
        },
        "/members/{member_id}/reject": {
            "parameters": [_ID],
            "post": {
                "operationId": "rejectMember",
                "summary": "Reject a pending registration with a reason the applicant is told.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Rejection"}}}},
                "responses": {
                    "200": _json("Decision", "Rejected."),
                    "409": _error("The member is not pending."),
                    "422": _json("ValidationError", "The body is not valid (a reason is required)."),
                    **_MEMBER_ERRORS,
                },
            },
        },
        **reports_openapi.PATHS,
        **activities_openapi.PATHS,
        **notices_openapi.PATHS,
        **duty_openapi.PATHS,
        "/deliveries": {
            "get": {
                "summary": "Each recipient's push: sent (channel), queued, failed (why) or given up",
                "parameters": [
                    {"name": "key_prefix", "in": "query", "schema": {"type": "string"},
                     "description": "idempotency key prefix, e.g. notice:17:"},
                    {"name": "status", "in": "query", "schema": {
                        "type": "string", "enum": ["queued", "sending", "sent", "failed", "given_up"]}},
                    {"name": "member", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                ],
                "responses": {
                    "200": {"description": "A page of deliveries with counts by status.",
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                    "422": _json("ValidationError", "A query parameter is not valid."),
                    **_COMMON_ERRORS,
                },
            },
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            **reports_openapi.SCHEMAS,
            **activities_openapi.SCHEMAS,
            **notices_openapi.SCHEMAS,
            **duty_openapi.SCHEMAS,
            "Ref": _REF,
            "Member": {
                "type": "object",
                "required": ["id", "name", "status", "role"],
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "gender": {"type": "string"},
                    "mobile": {"type": ["string", "null"]},
                    "status": {"type": "string", "enum": _STATUSES},
                    "role": {"type": "string", "enum": _ROLES},
                    "group": {"$ref": "#/components/schemas/Ref"},
                    "sector": {"$ref": "#/components/schemas/Ref"},
                    "committee": {"$ref": "#/components/schemas/Ref"},
                    "work_unit": {"type": "string"},
                    "term": {"type": "string"},
                    "scope_group_ids": {"type": "array", "items": {"type": "integer"},
                                        "description": "a secretary's liaison groups; empty means all"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time"},
                },
            },
            "MemberDetail": {
                "allOf": [{"$ref": "#/components/schemas/Member"}, {"type": "object", "properties": {
                    "identities": {"type": "array", "items": {"type": "object", "properties": {
                        "platform": {"type": "string", "enum": ["mp", "wecom", "sim"]},
                        "bound_at": {"type": "string", "format": "date-time"},
                    }}},
                    "application": {"type": ["object", "null"], "properties": {
                        "id": {"type": "integer"},
                        "status": {"type": "string", "enum": _APPLICATION_STATUSES},
                        "platform": {"type": "string"},
                        "reason": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "decided_at": {"type": ["string", "null"], "format": "date-time"},
                    }},
                }}],
            },
            "Decision": {
                "allOf": [{"$ref": "#/components/schemas/MemberDetail"}, {"type": "object", "properties": {
                    "notified": {"type": "boolean",
                                 "description": "a chat message to the applicant was queued"},
                }}],
            },
            "MemberPage": {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Member"}},
                    "total": {"type": "integer"},
                    "page": {"type": "integer"},
                    "per_page": {"type": "integer"},
                },
            },
            "MemberPatch": {
                "type": "object",
                "additionalProperties": False,
                "minProperties": 1,
                "properties": {
                    "role": {"type": "string", "enum": _ROLES},
                    "status": {"type": "string", "enum": ["active", "suspended", "left"]},
                    "scope_group_ids": {"type": "array", "items": {"type": "integer"}},
                },
            },
            "Rejection": {
                "type": "object",
                "additionalProperties": False,
                "required": ["reason"],
                "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 200}},
            },
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {
                    "error": {"type": "string", "enum": ["api_disabled", "unauthorized", "not_found",
                                                         "not_pending", "rejected", "invalid",
                                                         "illegal_transition",
                                                         *activities_openapi.ERROR_CODES,
                                                         *(code for code in notices_openapi.ERROR_CODES
                                                           if code not in activities_openapi.ERROR_CODES)]},
                    "message": {"type": "string"},
                },
            },
            "ValidationError": {
                "allOf": [{"$ref": "#/components/schemas/Error"}, {"type": "object", "properties": {
                    "fields": {"type": "array", "items": {"type": "object", "properties": {
                        "field": {"type": "string"}, "message": {"type": "string"},
                    }}},
                }}],
            },
        },
    },
}


async def serve(request: web.Request) -> web.Response:
    """Public, like most API descriptions: it holds no data, only the shape of the API."""
    return web.json_response(DOCUMENT)
