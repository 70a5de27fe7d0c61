"""委员: the members within a secretary's reach, one member's page, and editing a member with a confirmation.

    GET  /console/members              search (name, mobile) and filters (group, sector, committee, status,
                                        bound), counted and paged in the database by bot.domain.members.search
    GET  /console/members.xlsx         the same filters, every page, as a workbook (未绑定: ?bound=no&status=active)
    (名册导入 is bot/web/console/roster.py: /console/members/import)
    GET  /console/members/{id}         profile, chat identities, this year's duties (bot.domain.ledger), the edit
                                        form and the edit history (bot.domain.audit events of the member)
    POST /console/members/{id}/edit    without ``confirm``: the changes side by side, to confirm
                                        with ``confirm``: bot.domain.members.edit_member → back to the member

Reach is ``groups_within_reach(secretary, MANAGE_MEMBERS)``; a member outside it is a 404 page, the same as one
that does not exist. A refused edit shows the form again with the refusal's text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from bot.domain import audit, ledger
from bot.domain import members as ops
from bot.domain.authz import Action, can, groups_within_reach
from bot.domain.duty_rules import year_rules
from bot.domain.refusals import Kind, Refusal
from bot.exports.members import members_workbook
from bot.exports.sheets import XLSX
from bot.web.console.auth import Visit, console_page, frame, local_time, query_link, redirect
from bot.web.pages import PRIVATE_HEADERS
from models.member import Member, MemberStatus, Role

PER_PAGE = 30
HISTORY = 20  # the latest edits shown on a member's page
STATUS_OF_KIND = {Kind.INVALID: 422, Kind.FORBIDDEN: 403, Kind.NOT_FOUND: 404, Kind.CONFLICT: 409}
LIST, EXPORT = "/console/members", "/console/members.xlsx"
FILTER_FIELDS = ("q", "group", "sector", "committee", "status", "bound")
UNBOUND = {"bound": "no", "status": MemberStatus.ACTIVE.value}  # whom the office calls to bind WeChat
FIELDS = ("name", "mobile", "group_id", "sector_id", "committee_id", "role", "status")


def _reach(visit: Visit) -> frozenset[int] | None:
    return groups_within_reach(visit.member, Action.MANAGE_MEMBERS)


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _filters(query: Mapping[str, str]) -> ops.MemberFilters:
    status = query.get("status", "")
    bound = {"yes": True, "no": False}.get(query.get("bound", ""))
    return ops.MemberFilters(
        text=query.get("q", "").strip(), group_id=_number(query.get("group")), sector_id=_number(query.get("sector")),
        committee_id=_number(query.get("committee")),
        status=MemberStatus(status) if status in MemberStatus.__members__.values() else None, bound=bound)


@console_page()
async def members_page(request: web.Request, visit: Visit) -> web.Response:
    reach, filters = _reach(visit), _filters(request.query)
    page = max(_number(request.query.get("page")) or 1, 1)
    async with visit.services.db.reader() as session:
        rows, total = await ops.search(session, reach, filters, page=page, per_page=PER_PAGE)
        bound = await ops.bound_ids(session, [member.id or 0 for member in rows])
        names = await ops.organisation(session, reach)
    pages = max(math.ceil(total / PER_PAGE), 1)
    return frame(request, visit, "console/members.html", title_key="console_members.page_title", current="members",
                 rows=rows, bound=bound, names=names, total=total, page=page, pages=pages, query=request.query,
                 statuses=list(MemberStatus),
                 link=lambda to: query_link(LIST, request.query, FILTER_FIELDS, page=to),
                 export=query_link(EXPORT, request.query, FILTER_FIELDS),
                 unbound=query_link(LIST, UNBOUND, FILTER_FIELDS),
                 may_import=can(visit.member, Action.IMPORT_ROSTER))


@console_page()
async def members_export(request: web.Request, visit: Visit) -> web.Response:
    """The filtered list, every page of it, as .xlsx (the 未绑定 list with its phone numbers, to call)."""
    services = visit.services
    async with services.db.reader() as session:
        body = await members_workbook(session, _reach(visit), _filters(request.query), texts=services.texts)
    return web.Response(body=body, content_type=XLSX, headers={
        **PRIVATE_HEADERS, "Content-Disposition": 'attachment; filename="members.xlsx"'})


@console_page()
async def member_page(request: web.Request, visit: Visit) -> web.Response:
    member_id = int(request.match_info["member_id"])
    try:
        return await _member(request, visit, member_id, saved=request.query.get("saved") == "1")
    except Refusal as refusal:
        return _refused(request, visit, refusal)


async def _member(request: web.Request, visit: Visit, member_id: int, *, status: int = 200, saved: bool = False,
                  form: Mapping[str, Any] | None = None, error: str = "") -> web.Response:
    services = visit.services
    now = services.clock.now()
    year, reach = now.astimezone(services.zone).year, _reach(visit)
    async with services.db.session() as session:  # a session that writes: the year is refreshed first
        member = await ops.member_within_reach(session, visit.member, member_id)
        duty = await ledger.member_year(session, year_rules(services, year), member, year, services.zone, now=now)
        bindings = await ops.bindings_of(session, member_id)
        names = await ops.organisation(session, reach)
        everything = await ops.organisation(session, None)
        history, _ = await audit.events(session, reach, object_type="member", object_id=member_id, per_page=HISTORY)
    response = frame(request, visit, "console/member.html", title_key="console_members.detail.page_title",
                     current="members", shown=member, bindings=bindings, duty=duty, year=year, history=history,
                     names=names, everything=everything, form=form or _form_of(member), error=error, saved=saved,
                     roles=list(Role), statuses=list(ops.EDIT_STATUSES), may_change_role=can(visit.member,
                     Action.CHANGE_ROLE), local=local_time(visit),
                     shown_value=lambda field, value: _shown(visit, everything, field, value))
    response.set_status(status)
    return response


def _form_of(member: Member) -> dict[str, Any]:
    return {field: getattr(member, field) for field in FIELDS} | {"mobile": member.mobile or ""}


def _edit_of(form: MultiDictProxy[Any]) -> ops.MemberEdit:
    def choice(name: str) -> int | None:
        return _number(str(form.get(name, "")))

    role, status = str(form.get("role", "")), str(form.get("status", ""))
    return ops.MemberEdit(
        name=str(form.get("name", "")), mobile=str(form.get("mobile", "")), group_id=choice("group_id"),
        sector_id=choice("sector_id"), committee_id=choice("committee_id"),
        role=Role(role) if role in Role.__members__.values() else None,
        status=MemberStatus(status) if status in MemberStatus.__members__.values() else None)


def _shown(visit: Visit, names: dict[str, dict[int, str]], field: str, value: Any) -> str:
    """A field's value in the reader's words: a group's name for its id, 暂停 for suspended, a dash for nothing."""
    texts = visit.services.texts
    if value in (None, ""):
        return texts("console_members.edit.none")
    if field in ("group_id", "sector_id", "committee_id"):
        return names[field.removesuffix("_id")].get(int(value), str(value))
    if field in ("role", "status"):
        return texts(f"members.{field}.{value}")
    return str(value)


@console_page()
async def edit_member(request: web.Request, visit: Visit) -> web.Response:
    member_id = int(request.match_info["member_id"])
    form = await request.post()
    edit = _edit_of(form)
    if form.get("confirm") != "1":
        return await _review(request, visit, member_id, edit)
    services = visit.services
    try:
        async with services.db.session() as session:
            await ops.edit_member(session, visit.member, member_id, edit, now=services.clock.now())
    except Refusal as refusal:
        if refusal.kind is Kind.NOT_FOUND:
            return _refused(request, visit, refusal)
        return await _member(request, visit, member_id, status=STATUS_OF_KIND[refusal.kind],
                             form=_as_form(edit),
                             error=refusal.render(services.texts))
    return redirect(f"/console/members/{member_id}?saved=1")


def _as_form(edit: ops.MemberEdit) -> dict[str, Any]:
    return {field: getattr(edit, field) for field in FIELDS}


async def _review(request: web.Request, visit: Visit, member_id: int, edit: ops.MemberEdit) -> web.Response:
    """The changes side by side before they are saved (nothing is written yet)."""
    try:
        async with visit.services.db.reader() as session:
            member = await ops.member_within_reach(session, visit.member, member_id)
            everything = await ops.organisation(session, None)
    except Refusal as refusal:
        return _refused(request, visit, refusal)
    current = _form_of(member)
    wanted = {field: current[field] if value is None and field in ("role", "status") else value
              for field, value in _as_form(edit).items()}
    changes = [(field, _shown(visit, everything, field, current[field]), _shown(visit, everything, field, value))
               for field, value in wanted.items() if str(current[field] or "") != str(value or "")]
    return frame(request, visit, "console/member_confirm.html", title_key="console_members.edit.confirm_title",
                 current="members", shown=member, changes=changes, wanted=wanted)


def _refused(request: web.Request, visit: Visit, refusal: Refusal) -> web.Response:
    texts = visit.services.texts
    response = frame(request, visit, "console/message.html", title_key="console_members.detail.page_title",
                     current="members", message=texts("console_members.detail.not_found")
                     if refusal.kind is Kind.NOT_FOUND else refusal.render(texts),
                     back=LIST, back_label=texts("console_members.detail.back"))
    response.set_status(STATUS_OF_KIND[refusal.kind])
    return response
