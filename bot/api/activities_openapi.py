"""The ``/activities``, ``/attendance`` and ``/leave`` part of the admin API's OpenAPI document, merged into
:data:`bot.api.openapi.DOCUMENT`. Bad input is 400 here (see :mod:`bot.api.activities`)."""

from __future__ import annotations

from typing import Any

from bot.api.openapi_parts import COMMON_ERRORS as _ERRORS
from bot.api.openapi_parts import error as _error
from bot.api.openapi_parts import json_ref as _json
from models.activity import (
    ActivityStatus,
    ActivityType,
    AttendanceStatus,
    Audience,
    LeaveKind,
    LeaveStatus,
    SignInMethod,
)

_TYPES = [t.value for t in ActivityType]
_STATUSES = [s.value for s in ActivityStatus]
_AUDIENCES = [a.value for a in Audience]
_ATTENDANCE = [s.value for s in AttendanceStatus]
_LEAVE_STATUSES = [s.value for s in LeaveStatus]
_METHODS = [m.value for m in SignInMethod]

_ACTIVITY_ID = {"name": "activity_id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1}}
_MEMBER_ID = {"name": "member_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_LEAVE_ID = {"name": "leave_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
]

_INVALID = {"400": _json("ValidationError", "Not valid: the message (from the catalogue for the rules of "
                                            "activities) and the field it is about.")}
_NO_ACTIVITY = {**_ERRORS, "404": _error("No activity with this id.")}
_NO_ROW = {**_ERRORS, "404": _error("No activity or no member with this id.")}
_NO_LEAVE = {**_ERRORS, "404": _error("No leave request with this id.")}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with an offset; without one: 400"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_COUNTS = {
    "expected": {"type": "integer"},
    "present": {"type": "integer"},
    "late": {"type": "integer"},
    "leave": {"type": "integer"},
    "absent": {"type": "integer"},
    "attended": {"type": "integer", "description": "present + late"},
    "rate": {"type": "number", "description": "attended / (expected − leave), 0 when nobody is expected"},
}

PATHS: dict[str, Any] = {
    "/activities": {
        "post": {
            "operationId": "createActivity",
            "summary": "Create an activity; its sign-in window and the close task follow.",
            "requestBody": _body("ActivityCreate"),
            "responses": {"201": _json("ActivityDetail", "Created."), **_INVALID, **_ERRORS},
        },
        "get": {
            "operationId": "listActivities",
            "summary": "List activities by start, filtered and paginated, each with its tally.",
            "parameters": [
                {"name": "from", "in": "query", "description": "starts at or after", "schema": _TIME},
                {"name": "to", "in": "query", "description": "starts before", "schema": _TIME},
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": _STATUSES}},
                {"name": "type", "in": "query", "schema": {"type": "string", "enum": _TYPES}},
                {"name": "group_id", "in": "query", "description": "the organising liaison group",
                 "schema": {"type": "integer", "minimum": 1}},
                *_PAGING,
            ],
            "responses": {"200": _json("ActivityPage", "One page of activities."), **_INVALID, **_ERRORS},
        },
    },
    "/activities/{activity_id}": {
        "parameters": [_ACTIVITY_ID],
        "get": {
            "operationId": "getActivity",
            "summary": "One activity with its tally and the venue screen's signed link.",
            "responses": {"200": _json("ActivityDetail", "The activity."), **_NO_ACTIVITY},
        },
        "patch": {
            "operationId": "updateActivity",
            "summary": "Change any of the create fields of a scheduled activity; the window and the close task "
                       "move with it. Moving starts_at without ends_at keeps the duration; null resets "
                       "ends_at, geofence, group_id and the window minutes.",
            "requestBody": _body("ActivityPatch"),
            "responses": {
                "200": _json("ActivityDetail", "The activity after the change."),
                "409": _error("The activity is closed or cancelled (not_scheduled)."),
                **_INVALID, **_NO_ACTIVITY,
            },
        },
    },
    "/activities/{activity_id}/cancel": {
        "parameters": [_ACTIVITY_ID],
        "post": {
            "operationId": "cancelActivity",
            "summary": "Cancel a scheduled activity (its close task is cancelled too).",
            "responses": {
                "200": _json("ActivityDetail", "Cancelled."),
                "409": _error("The activity is closed or cancelled already (not_scheduled)."),
                **_NO_ACTIVITY,
            },
        },
    },
    "/activities/{activity_id}/close": {
        "parameters": [_ACTIVITY_ID],
        "post": {
            "operationId": "closeActivity",
            "summary": "Close the sign-in now: audience − signed in − approved leave are recorded absent. "
                       "Idempotent (closed_now is false the second time).",
            "responses": {
                "200": {"description": "Closed.", "content": {"application/json": {"schema": {"allOf": [
                    {"$ref": "#/components/schemas/ActivityDetail"},
                    {"type": "object", "properties": {"closed_now": {"type": "boolean"}}}]}}}},
                "409": _error("The sign-in window has not opened yet (not_open) or the activity is cancelled "
                              "(not_scheduled)."),
                **_NO_ACTIVITY,
            },
        },
    },
    "/activities/{activity_id}/screen-link": {
        "parameters": [_ACTIVITY_ID],
        "get": {
            "operationId": "getScreenLink",
            "summary": "The signed link of the venue screen (rotating code and QR); it works until a day "
                       "after the sign-in closes.",
            "responses": {
                "200": _json("ScreenLink", "The link."),
                "409": _error("The sign-in closed more than a day ago (screen_expired)."),
                **_NO_ACTIVITY,
            },
        },
    },
    "/activities/{activity_id}/attendance": {
        "parameters": [_ACTIVITY_ID],
        "get": {
            "operationId": "getAttendance",
            "summary": "One row per member, the tally and per-group counts. While the activity is scheduled, "
                       "audience members without a row are listed as pending.",
            "responses": {"200": _json("AttendanceSheet", "The sheet."), **_NO_ACTIVITY},
        },
    },
    "/activities/{activity_id}/attendance/{member_id}": {
        "parameters": [_ACTIVITY_ID, _MEMBER_ID],
        "put": {
            "operationId": "correctAttendance",
            "summary": "Correct a member's attendance, with a reason kept in the history.",
            "requestBody": _body("Correction"),
            "responses": {
                "200": _json("AttendanceHistory", "The record and its corrections."),
                "409": _error("Already this status (unchanged), or the activity is cancelled (not_scheduled)."),
                **_INVALID, **_NO_ROW,
            },
        },
    },
    "/activities/{activity_id}/attendance/{member_id}/history": {
        "parameters": [_ACTIVITY_ID, _MEMBER_ID],
        "get": {
            "operationId": "getAttendanceHistory",
            "summary": "A member's record of one activity and every correction, oldest first.",
            "responses": {"200": _json("AttendanceHistory", "The record (null if none) and corrections."),
                          **_NO_ROW},
        },
    },
    "/attendance": {
        "get": {
            "operationId": "yearAttendance",
            "summary": "A year's attendance (closed activities starting in the committee's local year): per "
                       "member by status and by activity type, and per liaison group (the group at the time).",
            "parameters": [
                {"name": "year", "in": "query", "required": True, "schema": {"type": "integer"}},
                {"name": "group_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "member_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            ],
            "responses": {"200": _json("YearAttendance", "The counts."), **_INVALID, **_ERRORS},
        },
    },
    "/leave": {
        "get": {
            "operationId": "listLeave",
            "summary": "Leave requests (请假), oldest first, filtered and paginated.",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": _LEAVE_STATUSES}},
                {"name": "activity_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "member_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                *_PAGING,
            ],
            "responses": {"200": _json("LeavePage", "One page of requests."), **_INVALID, **_ERRORS},
        },
    },
    "/leave/{leave_id}/approve": {
        "parameters": [_LEAVE_ID],
        "post": {
            "operationId": "approveLeave",
            "summary": "Approve a pending request; the member is told. After the close, their absence "
                       "becomes leave (with a correction row).",
            "requestBody": {"required": False, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/LeaveDecision"}}}},
            "responses": {"200": _json("Leave", "Approved."),
                          "409": _error("Decided before (already_decided)."), **_INVALID, **_NO_LEAVE},
        },
    },
    "/leave/{leave_id}/deny": {
        "parameters": [_LEAVE_ID],
        "post": {
            "operationId": "denyLeave",
            "summary": "Deny a pending request with a note the member is told.",
            "requestBody": _body("LeaveDecision"),
            "responses": {"200": _json("Leave", "Denied."),
                          "409": _error("Decided before (already_decided)."), **_INVALID, **_NO_LEAVE},
        },
    },
}

_FIELDS: dict[str, Any] = {
    "type": {"type": "string", "enum": _TYPES},
    "title": {"type": "string", "maxLength": 100},
    "starts_at": _TIME,
    "ends_at": {**_TIME, "type": ["string", "null"], "description": "default: start + the configured duration"},
    "venue": {"type": "string", "maxLength": 200},
    "description": {"type": "string", "maxLength": 5000},
    "geofence": {"$ref": "#/components/schemas/Geofence"},
    "require_location": {"type": "boolean", "description": "a code alone is not enough: the member must be "
                                                           "inside the geofence"},
    "audience": {"$ref": "#/components/schemas/Audience"},
    "group_id": {"type": ["integer", "null"], "description": "the organising liaison group; null: the office"},
    "opens_minutes_before": {"type": ["integer", "null"], "minimum": 0, "maximum": 1440},
    "closes_minutes_after": {"type": ["integer", "null"], "minimum": 0, "maximum": 1440},
    "late_after_minutes": {"type": ["integer", "null"], "minimum": 0, "maximum": 1440},
}
_REF = {"$ref": "#/components/schemas/Ref"}

SCHEMAS: dict[str, Any] = {
    "Geofence": {
        "type": ["object", "null"],
        "additionalProperties": False,
        "required": ["latitude", "longitude", "radius_m"],
        "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"},
                       "radius_m": {"type": "integer", "minimum": 10, "maximum": 50000}},
    },
    "Audience": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"kind": {"type": "string", "enum": _AUDIENCES, "default": "all"},
                       "ids": {"type": "array", "items": {"type": "integer"},
                               "description": "group, sector, committee or member ids (by kind)"}},
    },
    "ActivityCreate": {
        "type": "object", "additionalProperties": False, "required": ["type", "title", "starts_at"],
        "properties": {
            **_FIELDS,
            "notify": {"type": "boolean", "default": True,
                       "description": "push the meeting notice to the audience (reminders and last call follow)"},
            "notice_at": {**_TIME, "description": "when the notice goes out; default: now"},
        },
    },
    "ActivityPatch": {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": _FIELDS},
    "Tally": {"type": "object", "properties": _COUNTS},
    "Activity": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            **{name: schema for name, schema in _FIELDS.items() if name not in ("group_id", "geofence")},
            "status": {"type": "string", "enum": _STATUSES},
            "geofence": {"$ref": "#/components/schemas/Geofence"},
            "group": _REF,
            "signin_opens_at": _TIME,
            "signin_closes_at": _TIME,
            "late_after": _TIME,
            "created_at": _TIME,
            "updated_at": _TIME,
            "closed_at": _NULLABLE_TIME,
            "tally": {"$ref": "#/components/schemas/Tally"},
        },
    },
    "ActivityDetail": {
        "allOf": [{"$ref": "#/components/schemas/Activity"}, {"type": "object", "properties": {
            "screen_url": {"type": ["string", "null"],
                           "description": "the venue screen's signed link; null a day after the sign-in closed"},
        }}],
    },
    "ActivityPage": {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Activity"}},
                       "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}},
    },
    "ScreenLink": {
        "type": "object",
        "properties": {"url": {"type": "string"}, "expires_at": _TIME},
    },
    "AttendanceSheet": {
        "type": "object",
        "properties": {
            "activity": {"type": "object"},
            "tally": {"$ref": "#/components/schemas/Tally"},
            "groups": {"type": "array", "items": {"type": "object", "properties": {
                "group": _REF, **_COUNTS,
                "pending": {"type": "integer", "description": "only while the activity is scheduled"}}}},
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "member": _REF,
                "group": _REF,
                "status": {"type": "string", "enum": [*_ATTENDANCE, "pending"]},
                "method": {"type": ["string", "null"], "enum": [*_METHODS, None]},
                "signed_in_at": _NULLABLE_TIME,
                "leave_id": {"type": ["integer", "null"]},
                "leave": {"type": ["object", "null"], "properties": {
                    "id": {"type": "integer"}, "kind": {"type": "string", "enum": [k.value for k in LeaveKind]},
                    "status": {"type": "string", "enum": _LEAVE_STATUSES}}},
                "corrected": {"type": "boolean"},
            }}},
        },
    },
    "Correction": {
        "type": "object", "additionalProperties": False, "required": ["status", "reason"],
        "properties": {"status": {"type": "string", "enum": _ATTENDANCE},
                       "reason": {"type": "string", "minLength": 2, "maxLength": 300}},
    },
    "AttendanceHistory": {
        "type": "object",
        "properties": {
            "activity_id": {"type": "integer"},
            "member": _REF,
            "attendance": {"type": ["object", "null"]},
            "corrections": {"type": "array", "items": {"type": "object", "properties": {
                "from": {"type": "string"}, "to": {"type": "string"}, "reason": {"type": "string"},
                "by": {"type": ["string", "null"], "description": "null: the admin API"},
                "by_id": {"type": ["integer", "null"]}, "at": _TIME}}},
        },
    },
    "YearAttendance": {
        "type": "object",
        "properties": {
            "year": {"type": "integer"},
            "timezone": {"type": "string"},
            "activities": {"type": "integer", "description": "closed activities counted"},
            "totals": {"$ref": "#/components/schemas/Tally"},
            "members": {"type": "array", "items": {"type": "object", "properties": {
                "member": _REF, "group": _REF, **_COUNTS,
                "by_type": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Tally"}}}}},
            "groups": {"type": "array", "items": {"type": "object", "properties": {
                "group": _REF, "members": {"type": "integer"}, **_COUNTS}}},
        },
    },
    "Leave": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "activity": {"type": "object"},
            "member": _REF,
            "group": _REF,
            "kind": {"type": "string", "enum": [k.value for k in LeaveKind]},
            "reason": {"type": "string"},
            "status": {"type": "string", "enum": _LEAVE_STATUSES},
            "decided_by": {"type": ["string", "null"]},
            "decided_by_id": {"type": ["integer", "null"]},
            "decision_note": {"type": "string"},
            "created_at": _TIME,
            "decided_at": _NULLABLE_TIME,
        },
    },
    "LeavePage": {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Leave"}},
                       "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}},
    },
    "LeaveDecision": {
        "type": "object", "additionalProperties": False,
        "properties": {"note": {"type": "string", "maxLength": 300,
                                "description": "required (2–300 characters) to deny; told to the member"}},
    },
}

ERROR_CODES = ["not_scheduled", "not_open", "unchanged", "already_decided", "screen_expired"]
