"""The admin JSON API under ``/api/v1/``, for a secretary console or scripts.

Every endpoint but the OpenAPI document needs ``Authorization: Bearer <admin.api_token>``:

    no token configured ──► 503 {"error": "api_disabled"}   (the API is off until a token is set)
    missing / wrong token ─► 401 {"error": "unauthorized"}
    unknown member id ─────► 404 {"error": "not_found"}
    invalid query or body ─► 422 {"error": "invalid", "fields": [{"field": …, "message": …}]}
    decision on a member that is not pending ─► 409 {"error": "not_pending"}
    report action its status does not allow ──► 409 {"error": "illegal_transition"}
    activities, attendance, leave (bot.api.activities): bad input 400 {"error": "invalid"}; a state that
    does not allow the action 409 (not_scheduled, not_open, unchanged, already_decided)
    notices and study (bot.api.notices, bot.api.study): the same; 409 not_scheduled (cancelling a notice
    already sent or cancelled), not_sent (resending one not sent yet)
    duty ledger (bot.api.duty): the same; 409 already_decided (a claim or appeal decided before)

The document itself is at ``GET /api/v1/openapi.json`` (:mod:`bot.api.openapi`).
"""

from __future__ import annotations

from aiohttp import web

API_PREFIX = "/api/v1"


def setup_admin_api(app: web.Application) -> None:
    """Add the admin API's routes to the main application (its services are under ``SERVICES_KEY``)."""
    from bot.api import deliveries, members, openapi, reports

    app.router.add_get(f"{API_PREFIX}/openapi.json", openapi.serve)
    app.router.add_get(f"{API_PREFIX}/members", members.list_members)
    app.router.add_get(f"{API_PREFIX}/members/{{member_id}}", members.get_member)
    app.router.add_patch(f"{API_PREFIX}/members/{{member_id}}", members.patch_member)
    app.router.add_post(f"{API_PREFIX}/members/{{member_id}}/approve", members.approve_member)
    app.router.add_post(f"{API_PREFIX}/members/{{member_id}}/reject", members.reject_member)
    app.router.add_get(f"{API_PREFIX}/deliveries", deliveries.list_deliveries)
    app.router.add_get(f"{API_PREFIX}/reports", reports.list_reports)
    app.router.add_get(f"{API_PREFIX}/reports/{{report_id}}", reports.get_report)
    app.router.add_post(f"{API_PREFIX}/reports/{{report_id}}/{{action}}", reports.report_action)
    _add_activity_routes(app)
    _add_notice_routes(app)
    from bot.api import duty

    duty.add_routes(app, API_PREFIX)


def _add_activity_routes(app: web.Application) -> None:
    from bot.api import activities as a

    one = f"{API_PREFIX}/activities/{{activity_id}}"
    app.router.add_post(f"{API_PREFIX}/activities", a.create_activity)
    app.router.add_get(f"{API_PREFIX}/activities", a.list_activities)
    app.router.add_get(one, a.get_activity)
    app.router.add_patch(one, a.patch_activity)
    app.router.add_post(f"{one}/cancel", a.cancel_activity)
    app.router.add_post(f"{one}/close", a.close_activity)
    app.router.add_get(f"{one}/screen-link", a.screen_link)
    app.router.add_get(f"{one}/attendance", a.get_attendance)
    app.router.add_put(f"{one}/attendance/{{member_id}}", a.correct_attendance)
    app.router.add_get(f"{one}/attendance/{{member_id}}/history", a.attendance_history)
    app.router.add_get(f"{API_PREFIX}/attendance", a.year_attendance)
    app.router.add_get(f"{API_PREFIX}/leave", a.list_leave)
    app.router.add_post(f"{API_PREFIX}/leave/{{leave_id}}/approve", a.approve_leave)
    app.router.add_post(f"{API_PREFIX}/leave/{{leave_id}}/deny", a.deny_leave)


def _add_notice_routes(app: web.Application) -> None:
    from bot.api import notices as n
    from bot.api import study as s

    one = f"{API_PREFIX}/notices/{{notice_id}}"
    app.router.add_post(f"{API_PREFIX}/notices", n.create_broadcast)
    app.router.add_get(f"{API_PREFIX}/notices", n.list_notices)
    app.router.add_get(one, n.get_notice)
    app.router.add_post(f"{one}/cancel", n.cancel_notice)
    app.router.add_post(f"{one}/resend", n.resend_notice)
    app.router.add_get(f"{API_PREFIX}/activities/{{activity_id}}/answers", n.activity_answers)
    material = f"{API_PREFIX}/study/materials/{{material_id}}"
    app.router.add_post(f"{API_PREFIX}/study/materials", s.create_material)
    app.router.add_get(f"{API_PREFIX}/study/materials", s.list_materials)
    app.router.add_get(material, s.get_material)
    app.router.add_post(f"{material}/push", s.push_material)
    app.router.add_post(f"{API_PREFIX}/study/plans", s.create_plan)
    app.router.add_get(f"{API_PREFIX}/study/plans", s.list_plans)
    app.router.add_delete(f"{API_PREFIX}/study/plans/{{plan_id}}", s.stop_plan)
