"""The ``/notices``, ``/activities/{id}/answers`` and ``/study`` part of the admin API's OpenAPI document,
merged into :data:`bot.api.openapi.DOCUMENT`. Bad input is 400 here, as in the activities part."""

from __future__ import annotations

from typing import Any

from bot.api.openapi_parts import COMMON_ERRORS as _ERRORS
from bot.api.openapi_parts import error as _error
from bot.api.openapi_parts import json_ref as _json
from models.activity import ActivityStatus
from models.notice import NoticeKind, NoticeStatus, ReadVia

_KINDS = [k.value for k in NoticeKind]
_STATUSES = [s.value for s in NoticeStatus]


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _schema(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
]
_INVALID = {"400": _json("ValidationError", "Not valid: the message (from the catalogue for the rules of "
                                            "notices and study) and the field it is about.")}
_NO_NOTICE = {**_ERRORS, "404": _error("No notice with this id.")}
_NO_MATERIAL = {**_ERRORS, "404": _error("No study material with this id.")}
_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with an offset; without one: 400"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_REF = _schema("Ref")
_PERSON = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "group": _REF}}

PATHS: dict[str, Any] = {
    "/notices": {
        "post": {
            "operationId": "createBroadcast",
            "summary": "A broadcast (群发) to an audience: sent now (receipts written, one push per chat identity) "
                       "or at send_at (a scheduled task).",
            "requestBody": _body("BroadcastCreate"),
            "responses": {"201": _json("NoticeDetail", "Created; the report is there when it was sent now."),
                          **_INVALID, **_ERRORS},
        },
        "get": {
            "operationId": "listNotices",
            "summary": "Notices of every kind (broadcasts, meeting notices, study pushes), latest send time first, "
                       "each with the report's counts.",
            "parameters": [
                {"name": "kind", "in": "query", "schema": {"type": "string", "enum": _KINDS}},
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": _STATUSES}},
                {"name": "activity_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                *_PAGING,
            ],
            "responses": {"200": _json("NoticePage", "One page of notices."), **_INVALID, **_ERRORS},
        },
    },
    "/notices/{notice_id}": {
        "parameters": [_id("notice_id")],
        "get": {
            "operationId": "getNotice",
            "summary": "One notice with its report: reached, failed (why), pending, not bound, read, and every "
                       "member not reached.",
            "responses": {"200": _json("NoticeDetail", "The notice."), **_NO_NOTICE},
        },
    },
    "/notices/{notice_id}/cancel": {
        "parameters": [_id("notice_id")],
        "post": {
            "operationId": "cancelNotice",
            "summary": "Cancel a scheduled notice (its send task is cancelled).",
            "responses": {"200": _json("NoticeDetail", "Cancelled."),
                          "409": _error("Sent or cancelled already (not_scheduled)."), **_NO_NOTICE},
        },
    },
    "/notices/{notice_id}/resend": {
        "parameters": [_id("notice_id")],
        "post": {
            "operationId": "resendNotice",
            "summary": "Send a sent notice again to the members whose every push failed (not to those still "
                       "pending or not bound).",
            "responses": {
                "200": {"description": "The notice, and how many pushes were queued.",
                        "content": {"application/json": {"schema": {"allOf": [
                            _schema("NoticeDetail"),
                            {"type": "object", "properties": {"queued": {"type": "integer"}}}]}}}},
                "409": _error("Not sent yet, or cancelled (not_sent)."),
                **_NO_NOTICE,
            },
        },
    },
    "/activities/{activity_id}/answers": {
        "parameters": [_id("activity_id")],
        "get": {
            "operationId": "getActivityAnswers",
            "summary": "Answers to an activity's notice: 参加, 请假 (said so, or asked for leave: pending or "
                       "approved) and no answer, over the activity's active audience.",
            "responses": {"200": _json("Answers", "The answers."),
                          **_ERRORS, "404": _error("No activity with this id.")},
        },
    },
    "/study/materials": {
        "post": {
            "operationId": "createMaterial",
            "summary": "Add a study material (a link or a text); with plan_id it waits for the plan's next fire "
                       "time, otherwise push it with /push.",
            "requestBody": _body("MaterialCreate"),
            "responses": {"201": _json("MaterialDetail", "Created."), **_INVALID, **_ERRORS},
        },
        "get": {
            "operationId": "listMaterials",
            "summary": "Study materials, newest first, each with how many members read it and were pushed it "
                       "(the text itself only in the detail).",
            "parameters": [{"name": "plan_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                           *_PAGING],
            "responses": {"200": _json("MaterialPage", "One page of materials."), **_INVALID, **_ERRORS},
        },
    },
    "/study/materials/{material_id}": {
        "parameters": [_id("material_id")],
        "get": {
            "operationId": "getMaterial",
            "summary": "One material: who read it (how and when), who it was pushed to and has not read it, "
                       "and its pushes.",
            "responses": {"200": _json("MaterialDetail", "The material."), **_NO_MATERIAL},
        },
    },
    "/study/materials/{material_id}/push": {
        "parameters": [_id("material_id")],
        "post": {
            "operationId": "pushMaterial",
            "summary": "Push the material as a study notice, now or at send_at, to its audience or another.",
            "requestBody": {"required": False, "content": {"application/json": {"schema": _schema("MaterialPush")}}},
            "responses": {"201": _json("NoticeDetail", "The notice; the report is there when it was sent now."),
                          **_INVALID, **_NO_MATERIAL},
        },
    },
    "/study/plans": {
        "post": {
            "operationId": "createPlan",
            "summary": "A recurring push: at each fire time of its crontab line (the committee's local time) the "
                       "plan's oldest material not pushed yet goes to the plan's audience.",
            "requestBody": _body("PlanCreate"),
            "responses": {"201": _json("Plan", "Created; the recurring task is armed."), **_INVALID, **_ERRORS},
        },
        "get": {
            "operationId": "listPlans",
            "summary": "Study plans by id, each with its next fire time and how many materials are still queued.",
            "parameters": _PAGING,
            "responses": {"200": _json("PlanPage", "One page of plans."), **_INVALID, **_ERRORS},
        },
    },
    "/study/plans/{plan_id}": {
        "parameters": [_id("plan_id")],
        "delete": {
            "operationId": "stopPlan",
            "summary": "Stop a plan: its task is cancelled; the plan and its materials stay (idempotent).",
            "responses": {"200": _json("Plan", "Stopped."), **_ERRORS, "404": _error("No study plan with this id.")},
        },
    },
}

_COUNTS = {
    "recipients": {"type": "integer", "description": "members addressed when it was sent"},
    "reached": {"type": "integer", "description": "at least one push sent"},
    "failed": {"type": "integer", "description": "every push failed or was given up"},
    "pending": {"type": "integer", "description": "a push still queued or being sent"},
    "not_bound": {"type": "integer", "description": "no chat identity: nothing could be pushed"},
    "read": {"type": "integer", "description": "opened the link or answered"},
}
_AUDIENCE = _schema("Audience")  # defined by the activities part

SCHEMAS: dict[str, Any] = {
    "BroadcastCreate": {
        "type": "object", "additionalProperties": False, "required": ["title"],
        "properties": {
            "title": {"type": "string", "maxLength": 100},
            "body": {"type": "string", "maxLength": 1500},
            "url": {"type": "string", "maxLength": 500,
                    "description": "http(s); each member gets a personal read-tracking link to it"},
            "audience": _AUDIENCE,
            "send_at": {**_TIME, "description": "when to send; default (or a past time): now"},
            "to_group_chats": {"type": "boolean", "default": True,
                               "description": "also post to the configured WeCom group chats"},
        },
    },
    "NoticeCounts": {"type": "object", "properties": _COUNTS},
    "Notice": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": _KINDS},
            "title": {"type": "string"},
            "body": {"type": "string"},
            "url": {"type": "string"},
            "status": {"type": "string", "enum": _STATUSES},
            "activity_id": {"type": ["integer", "null"]},
            "material_id": {"type": ["integer", "null"]},
            "audience": _AUDIENCE,
            "to_group_chats": {"type": "boolean"},
            "send_at": _TIME,
            "sent_at": _NULLABLE_TIME,
            "created_at": _TIME,
            "created_by_id": {"type": ["integer", "null"], "description": "null: the office (the admin API)"},
            "recipients": {"type": "integer"},
            "resends": {"type": "integer", "description": "times the unreached were sent it again"},
        },
    },
    "NoticeReport": {
        "type": ["object", "null"],
        "description": "null until the notice is sent",
        "properties": {
            **_COUNTS,
            "unreached": {"type": "array", "items": {"type": "object", "properties": {
                "member": _REF,
                "group": {**_REF, "description": "the member's group when the notice went out"},
                "reason": {"type": "string", "enum": ["not_bound", "pending", "failed"]},
                "error": {"type": ["string", "null"], "description": "the last error, when failed"},
            }}},
        },
    },
    "NoticeDetail": {
        "allOf": [_schema("Notice"), {"type": "object", "properties": {"report": _schema("NoticeReport")}}],
    },
    "NoticePage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"allOf": [_schema("Notice"), {"type": "object", "properties": {
                "counts": _schema("NoticeCounts")}}]}},
            "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"},
        },
    },
    "Answers": {
        "type": "object",
        "properties": {
            "activity": {"type": "object", "properties": {
                "id": {"type": "integer"}, "title": {"type": "string"},
                "status": {"type": "string", "enum": [s.value for s in ActivityStatus]}, "starts_at": _TIME}},
            "counts": {"type": "object", "properties": {"attend": {"type": "integer"}, "leave": {"type": "integer"},
                                                        "no_answer": {"type": "integer"}}},
            "attend": {"type": "array", "items": _PERSON},
            "leave": {"type": "array", "items": _PERSON},
            "no_answer": {"type": "array", "items": _PERSON},
        },
    },
    "MaterialCreate": {
        "type": "object", "additionalProperties": False, "required": ["title"],
        "description": "exactly one of url and body",
        "properties": {
            "title": {"type": "string", "maxLength": 100},
            "summary": {"type": "string", "maxLength": 500},
            "url": {"type": "string", "maxLength": 500},
            "body": {"type": "string", "description": "the text, read in chat (学习 N)"},
            "tags": {"type": "array", "maxItems": 10, "items": {"type": "string"}},
            "audience": _AUDIENCE,
            "plan_id": {"type": ["integer", "null"], "description": "queue it in this plan"},
        },
    },
    "Material": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "summary": {"type": "string"},
            "url": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "audience": _AUDIENCE,
            "plan_id": {"type": ["integer", "null"]},
            "pushed_at": {**_NULLABLE_TIME, "description": "first pushed (or scheduled to be)"},
            "created_at": _TIME,
            "created_by_id": {"type": ["integer", "null"]},
            "read": {"type": "integer", "description": "members who read it"},
            "pushed": {"type": "integer", "description": "members it was pushed to"},
        },
    },
    "MaterialDetail": {
        "allOf": [_schema("Material"), {"type": "object", "properties": {
            "body": {"type": "string"},
            "readers": {"type": "array", "description": "only in GET /study/materials/{id}", "items": {
                "type": "object", "properties": {
                    "member": _REF, "group": _REF,
                    "via": {"type": "string", "enum": [v.value for v in ReadVia]}, "read_at": _TIME}}},
            "unread": {"type": "array", "description": "pushed to, not read; only in GET /study/materials/{id}",
                       "items": {"type": "object", "properties": {"member": _REF, "group": _REF}}},
            "notices": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "status": {"type": "string", "enum": _STATUSES}, "send_at": _TIME,
                "sent_at": _NULLABLE_TIME, "recipients": {"type": "integer"}}}},
        }}],
    },
    "MaterialPage": {
        "type": "object",
        "properties": {"items": {"type": "array", "items": _schema("Material")},
                       "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}},
    },
    "MaterialPush": {
        "type": "object", "additionalProperties": False,
        "properties": {"send_at": {**_TIME, "description": "default (or a past time): now"},
                       "audience": {**_AUDIENCE, "description": "default: the material's own audience"}},
    },
    "PlanCreate": {
        "type": "object", "additionalProperties": False, "required": ["name", "cron"],
        "properties": {
            "name": {"type": "string", "maxLength": 60},
            "cron": {"type": "string", "examples": ["0 8 * * 1"],
                     "description": "a crontab line (minute hour day month weekday, Sunday = 0 or 7) in the "
                                    "committee's time zone"},
            "audience": _AUDIENCE,
        },
    },
    "Plan": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "cron": {"type": "string"},
            "timezone": {"type": "string", "description": "the zone of the cron line (scheduler.timezone)"},
            "audience": _AUDIENCE,
            "active": {"type": "boolean", "description": "false once stopped"},
            "next_fire_at": {"type": ["string", "null"], "format": "date-time",
                             "description": "in the committee's local time, with its offset; null when stopped"},
            "queued": {"type": "integer", "description": "materials of the plan not pushed yet"},
            "created_at": _TIME,
            "created_by_id": {"type": ["integer", "null"]},
        },
    },
    "PlanPage": {
        "type": "object",
        "properties": {"items": {"type": "array", "items": _schema("Plan")},
                       "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}},
    },
}

ERROR_CODES = ["not_scheduled", "not_sent"]
