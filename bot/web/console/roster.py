"""名册导入 in the console: upload a roster (.xlsx / .csv), see a dry run with the row errors first, then confirm.

    GET  /console/members/import            the upload form (only for roles that may import: IMPORT_ROSTER)
    POST /console/members/import            the file → <media_dir>/console-imports/<session id>-<random id>.<ext>
                                             → bot.domain.roster.import_file(dry_run=True) → the preview
    POST /console/members/import/confirm    the random id → the same file, this session's only
                                             → import_file(by=secretary), audited as roster.import → the result

The file waits server-side between the two steps, named by the session's id and a random one, so a confirm
from another session (or a guessed id) finds nothing; one upload waits per session (a new one replaces it),
and the file is deleted once imported.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web
from aiohttp.web_request import FileField

from bot.domain.authz import Action, can
from bot.domain.roster import RosterError, import_file
from bot.web.console.auth import Visit, console_page, forbidden, frame

FOLDER = "console-imports"
SUFFIXES = (".xlsx", ".csv")
UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _may_import(visit: Visit) -> bool:
    return can(visit.member, Action.IMPORT_ROSTER)


def _folder(visit: Visit) -> Path:
    return Path(visit.services.settings.media_dir) / FOLDER


def _waiting(visit: Visit, upload_id: str) -> Path | None:
    """This session's waiting upload of that id, if there is one."""
    if not UPLOAD_ID.fullmatch(upload_id):
        return None
    for suffix in SUFFIXES:
        path = _folder(visit) / f"{visit.session.id}-{upload_id}{suffix}"
        if path.is_file():
            return path
    return None


def _keep(visit: Visit, upload: FileField) -> tuple[str, Path] | None:
    """Store the upload for the confirm step (replacing this session's earlier one); None: not .xlsx or .csv."""
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        return None
    folder = _folder(visit)
    folder.mkdir(parents=True, exist_ok=True)
    for earlier in folder.glob(f"{visit.session.id}-*"):
        earlier.unlink(missing_ok=True)
    upload_id = secrets.token_urlsafe(16)
    path = folder / f"{visit.session.id}-{upload_id}{suffix}"
    path.write_bytes(upload.file.read())
    return upload_id, path


def _name_of(upload: FileField) -> str:
    # Some clients percent-encode a non-ASCII file name in the form (aiohttp's own does): show it as typed.
    return unquote(upload.filename or "")


def _page(request: web.Request, visit: Visit, status: int = 200, **values: object) -> web.Response:
    response = frame(request, visit, "console/member_import.html", title_key="console_members.import.page_title",
                     current="members", **values)
    response.set_status(status)
    return response


@console_page()
async def import_page(request: web.Request, visit: Visit) -> web.Response:
    if not _may_import(visit):
        return forbidden(visit.services, "console_members.import.forbidden")
    return _page(request, visit, step="form")


@console_page()
async def upload(request: web.Request, visit: Visit) -> web.Response:
    services = visit.services
    if not _may_import(visit):
        return forbidden(services, "console_members.import.forbidden")
    sent = (await request.post()).get("file")
    kept = _keep(visit, sent) if isinstance(sent, FileField) else None
    if kept is None:
        return _page(request, visit, 422, step="form", error=services.texts("roster.error_file_type"))
    upload_id, path = kept
    try:
        report = await import_file(services.db, path, dry_run=True, texts=services.texts, by=visit.member)
    except RosterError as refused:
        path.unlink(missing_ok=True)
        refused.values["path"] = _name_of(sent)  # the secretary's name for it, not the server's folder
        return _page(request, visit, 422, step="form", error=refused.render(services.texts))
    return _page(request, visit, step="preview", report=report, upload_id=upload_id, filename=_name_of(sent))


@console_page()
async def confirm(request: web.Request, visit: Visit) -> web.Response:
    services = visit.services
    if not _may_import(visit):
        return forbidden(services, "console_members.import.forbidden")
    path = _waiting(visit, str((await request.post()).get("upload", "")))
    if path is None:
        return _page(request, visit, 404, step="form", error=services.texts("console_members.import.gone"))
    try:
        report = await import_file(services.db, path, texts=services.texts, by=visit.member)
    except RosterError as refused:  # the file was read a moment ago: only a change on disk gets here
        return _page(request, visit, 422, step="form", error=refused.render(services.texts))
    finally:
        path.unlink(missing_ok=True)
    return _page(request, visit, step="done", report=report)
