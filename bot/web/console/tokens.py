"""API 令牌: a secretary's personal tokens for scripts (bot.domain.api_tokens), made and revoked at the console.

    GET  /console/tokens                the tokens not revoked (name, first characters, made, last used)
    POST /console/tokens                {name} (CSRF) ─► create_token ─► this page again, the new token shown
                                        once (never stored, so never shown again); a refused name: the form again
    POST /console/tokens/{id}/revoke    (CSRF) ─► revoke_token ─► back to the list

A token acts through the admin API as its secretary, within their scope (bot/api/common.py). Each page shows only
the viewer's own tokens; another's id is as unknown as none.
"""

from __future__ import annotations

from aiohttp import web

from bot.domain.api_tokens import PREFIX, create_token, revoke_token, tokens_of
from bot.domain.refusals import Refusal
from bot.web.console.auth import Visit, console_page, frame, local_time, redirect

TOKENS_URL = "/console/tokens"
REFUSED_STATUS = 422  # a name the rules refused: the form again, with the reason


@console_page()
async def tokens_page(request: web.Request, visit: Visit) -> web.Response:
    return await _page(request, visit, revoked=request.query.get("revoked") == "1")


@console_page()
async def create(request: web.Request, visit: Visit) -> web.Response:
    services = visit.services
    name = str((await request.post()).get("name", ""))
    try:
        async with services.db.session() as session:
            row, token = await create_token(session, visit.member, name, now=services.clock.now())
    except Refusal as refusal:
        response = await _page(request, visit, error=refusal.render(services.texts), name=name)
        response.set_status(REFUSED_STATUS)
        return response
    return await _page(request, visit, created=(row.name, token))


@console_page()
async def revoke(request: web.Request, visit: Visit) -> web.StreamResponse:
    services = visit.services
    try:
        async with services.db.session() as session:
            await revoke_token(session, visit.member, int(request.match_info["token_id"]), now=services.clock.now())
    except Refusal:
        return redirect(TOKENS_URL)  # not theirs, or never was: the list says what is left
    return redirect(f"{TOKENS_URL}?revoked=1")


async def _page(request: web.Request, visit: Visit, *, revoked: bool = False, error: str = "", name: str = "",
                created: tuple[str, str] | None = None) -> web.Response:
    services = visit.services
    async with services.db.reader() as session:
        rows = await tokens_of(session, visit.member.id or 0)
    return frame(request, visit, "console/tokens.html", title_key="console_tokens.page_title", current="tokens",
                 rows=rows, revoked=revoked, error=error, name=name, created=created, prefix=PREFIX,
                 api_url=services.settings.server.public_url.rstrip("/") + "/api/v1/",
                 local=local_time(visit, missing="—"))
