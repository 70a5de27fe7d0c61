"""The ``/duty`` part of the admin API's OpenAPI document (the duty ledger, :mod:`bot.api.duty`), merged into
:data:`bot.api.openapi.DOCUMENT`. Bad input is 400 here, as in the activities part."""

from __future__ import annotations

from typing import Any

from bot.api.openapi_parts import COMMON_ERRORS as _ERRORS
from bot.api.openapi_parts import error as _error
from bot.api.openapi_parts import json_ref as _json
from models.duty import AppealStatus, ClaimStatus, EntrySource, EntryStatus

_YEAR = {"name": "year", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 2000,
                                                                    "maximum": 2100}}
_MEMBER_ID = {"name": "member_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_CLAIM_ID = {"name": "claim_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_APPEAL_ID = {"name": "appeal_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
]
_BY_MEMBER_YEAR = [
    {"name": "member_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "year", "in": "query", "schema": {"type": "integer", "minimum": 2000, "maximum": 2100}},
]

_INVALID = {"400": _json("ValidationError", "Not valid: the message (from the catalogue for the rules of the "
                                            "ledger) and the field it is about; also a year outside 2000–2100.")}
_DECIDED = {"409": _error("Decided before (already_decided).")}
_REF = {"$ref": "#/components/schemas/Ref"}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_NULLABLE_NUMBER = {"type": ["number", "null"]}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _page(item: str) -> dict[str, Any]:
    return {"type": "object", "properties": {
        "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
        "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}}}


PATHS: dict[str, Any] = {
    "/duty/{year}/members/{member_id}": {
        "parameters": [_YEAR, _MEMBER_ID],
        "get": {
            "operationId": "getDutyYear",
            "summary": "A member's year: score and ranks, each category's raw and capped points, \"five one\" "
                       "progress and every entry with its source (traceability). The member's liaison group "
                       "is rebuilt first.",
            "responses": {"200": _json("DutyMemberYear", "The member's year."), **_INVALID,
                          **_ERRORS, "404": _error("No member with this id.")},
        },
    },
    "/duty/{year}/members": {
        "parameters": [_YEAR],
        "get": {
            "operationId": "listDutyScores",
            "summary": "The assessed members' scores, best first (ties share a rank), filtered and paginated. "
                       "Read from the ledger as last rebuilt (rebuilt_at).",
            "parameters": [
                {"name": "group_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "sector_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "below_pass", "in": "query", "schema": {"type": "boolean", "default": False}},
                *_PAGING,
            ],
            "responses": {"200": _json("DutyScorePage", "One page of scores."), **_INVALID, **_ERRORS},
        },
    },
    "/duty/{year}/rankings": {
        "parameters": [_YEAR],
        "get": {
            "operationId": "dutyRankings",
            "summary": "Liaison groups or sectors ranked by their members' average score (ties share a rank).",
            "parameters": [{"name": "by", "in": "query",
                            "schema": {"type": "string", "enum": ["group", "sector"], "default": "group"}}],
            "responses": {"200": _json("DutyRankings", "The standings."), **_INVALID, **_ERRORS},
        },
    },
    "/duty/{year}/groups": {
        "parameters": [_YEAR],
        "get": {
            "operationId": "dutyGroupAssessment",
            "summary": "The group assessment (联络组考核): activities held, reports, attendance rate, score, rank.",
            "responses": {"200": _json("DutyGroupAssessment", "Every liaison group."), **_INVALID, **_ERRORS},
        },
    },
    "/duty/{year}/rebuild": {
        "parameters": [_YEAR],
        "post": {
            "operationId": "rebuildDutyYear",
            "summary": "Rebuild the year's ledger from its sources under the year's rules (idempotent).",
            "responses": {"200": _json("DutyRebuild", "Rebuilt."), **_INVALID, **_ERRORS},
        },
    },
    "/duty/rules/{year}": {
        "parameters": [_YEAR],
        "get": {
            "operationId": "getDutyRules",
            "summary": "The rules that apply to a year (a year without its own entry uses the closest earlier "
                       "one: from_year).",
            "responses": {"200": _json("DutyRules", "The rules."), **_INVALID, **_ERRORS},
        },
    },
    "/duty/claims": {
        "get": {
            "operationId": "listDutyClaims",
            "summary": "Self-reported duties (补录), oldest first, filtered and paginated.",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": [s.value for s in ClaimStatus]}},
                *_BY_MEMBER_YEAR, *_PAGING,
            ],
            "responses": {"200": _json("DutyClaimPage", "One page of claims."), **_INVALID, **_ERRORS},
        },
    },
    "/duty/claims/{claim_id}/verify": {
        "parameters": [_CLAIM_ID],
        "post": {
            "operationId": "verifyDutyClaim",
            "summary": "Verify a pending claim: its entry is confirmed and the member is told.",
            "requestBody": {"required": False, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/DutyNote"}}}},
            "responses": {"200": _json("DutyClaimDecision", "Verified."), **_DECIDED, **_INVALID,
                          **_ERRORS, "404": _error("No claim with this id.")},
        },
    },
    "/duty/claims/{claim_id}/reject": {
        "parameters": [_CLAIM_ID],
        "post": {
            "operationId": "rejectDutyClaim",
            "summary": "Reject a pending claim with a note (2–300 characters) the member is told.",
            "requestBody": _body("DutyNote"),
            "responses": {"200": _json("DutyClaimDecision", "Rejected."), **_DECIDED, **_INVALID,
                          **_ERRORS, "404": _error("No claim with this id.")},
        },
    },
    "/duty/appeals": {
        "get": {
            "operationId": "listDutyAppeals",
            "summary": "Appeals (申诉) on ledger entries, oldest first, filtered and paginated.",
            "parameters": [
                {"name": "status", "in": "query",
                 "schema": {"type": "string", "enum": [s.value for s in AppealStatus]}},
                *_BY_MEMBER_YEAR, *_PAGING,
            ],
            "responses": {"200": _json("DutyAppealPage", "One page of appeals."), **_INVALID, **_ERRORS},
        },
    },
    "/duty/appeals/{appeal_id}/decide": {
        "parameters": [_APPEAL_ID],
        "post": {
            "operationId": "decideDutyAppeal",
            "summary": "Uphold (optionally with an adjustment of `points`) or dismiss an open appeal; the "
                       "member is told the answer.",
            "requestBody": _body("DutyAppealDecision"),
            "responses": {"200": _json("DutyAppealOutcome", "Decided."), **_DECIDED, **_INVALID,
                          **_ERRORS, "404": _error("No appeal with this id.")},
        },
    },
    "/duty/adjustments": {
        "get": {
            "operationId": "listDutyAdjustments",
            "summary": "Manual adjustments, oldest first, filtered and paginated.",
            "parameters": [*_BY_MEMBER_YEAR, *_PAGING],
            "responses": {"200": _json("DutyAdjustmentPage", "One page of adjustments."), **_INVALID, **_ERRORS},
        },
        "post": {
            "operationId": "createDutyAdjustment",
            "summary": "Add or take points with a reason (never capped, kept forever); the member is told.",
            "requestBody": _body("DutyAdjustmentCreate"),
            "responses": {"201": _json("DutyAdjustmentCreated", "Adjusted."),
                          "400": _json("ValidationError", "Not valid, or no member with member_id."),
                          **_ERRORS},
        },
    },
}

_SCORE = {
    "total": {"type": "number"},
    "pending": {"type": "number", "description": "points of entries not confirmed yet (not in total)"},
    "grade": {"type": "string"},
    "passed": {"type": "boolean"},
    "group_rank": {"type": "integer"},
    "group_size": {"type": "integer"},
    "sector_rank": {"type": "integer"},
    "overall_rank": {"type": "integer"},
}
_TARGET = {"type": "object", "properties": {
    "name": {"type": "string"}, "need": {"type": "integer"}, "done": {"type": "integer"},
    "pending": {"type": "integer"}, "met": {"type": "boolean"}}}
_ENTRY_KEY = {
    "source": {"type": "string", "enum": [s.value for s in EntrySource]},
    "source_id": {"type": "integer"},
    "ref": {"type": "string", "description": "source#id, e.g. attendance#123"},
    "kind": {"type": "string"},
    "label": {"type": "string"},
}

SCHEMAS: dict[str, Any] = {
    "DutyMemberYear": {
        "type": "object",
        "properties": {
            "year": {"type": "integer"},
            "member": _REF,
            "group": _REF,
            "sector": _REF,
            "assessed": {"type": "boolean", "description": "false for secretaries and inactive members"},
            "rebuilt_at": _NULLABLE_TIME,
            "score": {"type": ["object", "null"], "properties": {
                **_SCORE, "base": {"type": "number"},
                "bonus": {"type": "number", "description": "the bonus categories after caps and bonus_cap"},
                "bonus_cap": _NULLABLE_NUMBER, "pass_mark": {"type": "number"}}},
            "categories": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "label": {"type": "string"}, "cap": _NULLABLE_NUMBER,
                "floor": _NULLABLE_NUMBER, "penalty": {"type": "boolean"},
                "raw": {"type": "number", "description": "confirmed points before the cap"},
                "points": {"type": "number", "description": "after the cap (or floor)"}}}},
            "five_one": {"type": "array", "items": _TARGET},
            "entries": {"type": "array", "items": {"type": "object", "properties": {
                **_ENTRY_KEY, "category": {"type": "string"}, "category_label": {"type": "string"},
                "points": {"type": "number"},
                "status": {"type": "string", "enum": [s.value for s in EntryStatus]},
                "occurred_at": _TIME, "title": {"type": "string"},
                "open_appeal_id": {"type": ["integer", "null"]}}}},
        },
    },
    "DutyScore": {
        "type": "object",
        "properties": {
            "member": _REF, "group": _REF, "sector": _REF, **_SCORE,
            "categories": {"type": "object", "additionalProperties": {"type": "number"},
                           "description": "category name → points after its cap; adjustment included"},
            "five_one": {"type": "object", "properties": {
                "met": {"type": "integer"}, "targets": {"type": "integer"},
                "missing": {"type": "array", "items": {"type": "string"}}}},
        },
    },
    "DutyScorePage": {"allOf": [_page("DutyScore"), {"type": "object", "properties": {
        "year": {"type": "integer"}, "rebuilt_at": _TIME, "pass_mark": {"type": "number"}}}]},
    "DutyRankings": {
        "type": "object",
        "properties": {
            "year": {"type": "integer"}, "by": {"type": "string", "enum": ["group", "sector"]},
            "rebuilt_at": _TIME, "pass_mark": {"type": "number"},
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "rank": {"type": "integer"}, "id": {"type": ["integer", "null"], "description": "null: none"},
                "name": {"type": "string"}, "members": {"type": "integer"}, "average": {"type": "number"},
                "below_pass": {"type": "integer"}}}},
        },
    },
    "DutyGroupAssessment": {
        "type": "object",
        "properties": {
            "year": {"type": "integer"},
            "weights": {"type": "object", "additionalProperties": {"type": "number"}},
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "rank": {"type": "integer"}, "group": _REF, "activities_held": {"type": "integer"},
                "reports_submitted": {"type": "integer"}, "reports_adopted": {"type": "integer"},
                "attended": {"type": "integer"}, "expected": {"type": "integer"},
                "attendance_rate": {"type": "number"}, "score": {"type": "number"}}}},
        },
    },
    "DutyRebuild": {"type": "object", "properties": {
        "year": {"type": "integer"}, "entries": {"type": "integer"}, "rebuilt_at": _TIME}},
    "DutyRules": {"type": "object", "properties": {
        "name": {"type": "string"}, "year": {"type": "integer"}, "from_year": {"type": "integer"},
        "digest": {"type": "string"},
        "terms": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer"}}},
        "rules": {"type": "object", "description": "base, bonus_cap, pass_mark, grades, categories, "
                                                   "penalty_category, duties, five_one, groups"}}},
    "DutyClaim": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "member": _REF, "group": _REF, "year": {"type": "integer"},
            "kind": {"type": "string"}, "label": {"type": "string"}, "points": _NULLABLE_NUMBER,
            "day": {"type": "string", "format": "date"}, "occurred_at": _TIME, "description": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in ClaimStatus]},
            "decision_note": {"type": "string"}, "decided_by": {"type": ["string", "null"]},
            "decided_by_id": {"type": ["integer", "null"]}, "created_at": _TIME, "decided_at": _NULLABLE_TIME,
            "photos": {"type": "integer"},
        },
    },
    "DutyClaimPage": _page("DutyClaim"),
    "DutyClaimDecision": {"allOf": [{"$ref": "#/components/schemas/DutyClaim"}, {"type": "object", "properties": {
        "notified": {"type": "boolean", "description": "a chat message to the member was queued"}}}]},
    "DutyNote": {"type": "object", "additionalProperties": False,
                 "properties": {"note": {"type": "string", "maxLength": 300,
                                         "description": "required (2–300 characters) to reject; told to the member"}}},
    "DutyAppeal": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "member": _REF, "group": _REF, "year": {"type": "integer"},
            "entry": {"type": "object", "properties": {
                **_ENTRY_KEY, "title": {"type": "string"},
                "points": {"type": "number", "description": "as the member saw it"},
                "points_now": {**_NULLABLE_NUMBER, "description": "as the ledger has it now (null: gone)"}}},
            "reason": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in AppealStatus]},
            "answer": {"type": "string"}, "decided_by": {"type": ["string", "null"]},
            "decided_by_id": {"type": ["integer", "null"]}, "created_at": _TIME, "decided_at": _NULLABLE_TIME,
        },
    },
    "DutyAppealPage": _page("DutyAppeal"),
    "DutyAppealDecision": {
        "type": "object", "additionalProperties": False, "required": ["upheld", "answer"],
        "properties": {
            "upheld": {"type": "boolean"},
            "answer": {"type": "string", "minLength": 2, "maxLength": 300, "description": "told to the member"},
            "points": {"type": ["number", "null"], "description": "only when upheld: an adjustment (±100 at most, "
                                                                  "one decimal)"},
        },
    },
    "DutyAppealOutcome": {"allOf": [{"$ref": "#/components/schemas/DutyAppeal"}, {"type": "object", "properties": {
        "adjustment": {"oneOf": [{"$ref": "#/components/schemas/DutyAdjustment"}, {"type": "null"}]},
        "notified": {"type": "boolean"}}}]},
    "DutyAdjustment": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "member": _REF, "year": {"type": "integer"}, "points": {"type": "number"},
            "reason": {"type": "string"}, "appeal_id": {"type": ["integer", "null"]},
            "by": {"type": ["string", "null"], "description": "null: the admin API"},
            "by_id": {"type": ["integer", "null"]}, "at": _TIME,
        },
    },
    "DutyAdjustmentPage": _page("DutyAdjustment"),
    "DutyAdjustmentCreate": {
        "type": "object", "additionalProperties": False, "required": ["member_id", "year", "points", "reason"],
        "properties": {
            "member_id": {"type": "integer", "minimum": 1},
            "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
            "points": {"type": "number", "description": "±100 at most, not 0, one decimal"},
            "reason": {"type": "string", "minLength": 2, "maxLength": 300},
        },
    },
    "DutyAdjustmentCreated": {"allOf": [{"$ref": "#/components/schemas/DutyAdjustment"}, {
        "type": "object", "properties": {"notified": {"type": "boolean"}}}]},
}

ERROR_CODES = ["already_decided"]
