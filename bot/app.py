"""The aiohttp application: routes, middleware and the lifecycle of every long-lived part."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web

from bot.chat.dispatcher import Dispatcher
from bot.chat.router import Router
from bot.domain.duty_rules import rules_of
from bot.infra.clock import Clock
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from bot.infra.logs import new_request_id, request_id
from bot.infra.services import SERVICES_KEY, Services

log = logging.getLogger(__name__)

DISPATCHER_KEY: web.AppKey[Dispatcher] = web.AppKey("dispatcher")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    return Services(
        settings=settings,
        db=Database(settings.database.url, echo=settings.database.echo),
        clock=clock or Clock(),
        texts=Catalogue(settings.locale),
        rules=rules_of(settings),
    )


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    start_background: bool = True,
    migrate: bool = True,
    routers: list[Router] | None = None,
) -> web.Application:
    """The whole server. ``start_background=False`` leaves the delivery worker and the scheduler
    stopped (tests drive them step by step); ``migrate=False`` trusts the schema as it is;
    ``routers`` replaces ``handlers.ROUTERS`` (tests of the dispatcher itself)."""
    from handlers import ROUTERS

    services = services or build_services(settings)
    app = web.Application(client_max_size=settings.server.max_body_bytes, middlewares=[request_context])
    app[SERVICES_KEY] = services
    dispatcher = Dispatcher(services, ROUTERS if routers is None else routers)
    app[DISPATCHER_KEY] = dispatcher

    app.router.add_get("/healthz", healthz)
    _add_transports(app, settings, dispatcher)
    from bot.api import setup_admin_api

    setup_admin_api(app)
    from bot.web import screen

    screen.setup(app)  # the venue screen, behind signed links
    from bot.web import reading

    reading.setup(app)  # /r/<token>: personal reading links of notices and study materials
    from bot.web import console

    console.setup(app)  # /console/: the secretary console, logged in through the bot

    app.cleanup_ctx.append(_database(services, migrate))
    app.cleanup_ctx.append(_outbound(services, start_background))
    app.cleanup_ctx.append(_dispatcher_drain(dispatcher, start_background))
    return app


def _add_transports(app: web.Application, settings: Settings, dispatcher: Dispatcher) -> None:
    if settings.wechat.enabled:
        from bot.transports import official

        official.setup(app, settings.wechat, dispatcher)
    if settings.wecom.enabled:
        from bot.transports import wecom

        wecom.setup(app, settings.wecom, dispatcher)
    if settings.simulator.enabled:
        from bot.transports import simulator

        simulator.setup(app, dispatcher)


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request id in every log line; an unexpected error is logged and answered as a bare 500."""
    token = request_id.set(request.headers.get("X-Request-Id") or new_request_id())
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        raise web.HTTPInternalServerError(text="internal error") from None
    finally:
        request_id.reset(token)


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES_KEY]
    try:
        await services.db.ping()
    except Exception:
        log.exception("health check: database unreachable")
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


def _database(services: Services, migrate: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        if migrate:
            await prepare_database(services)
        # The link signer may have to store its key once: do it now, never from inside a handler's
        # transaction (signed links are made in chat, and SQLite write sessions must not nest).
        await services.signer()
        yield
        await services.db.dispose()

    return lifecycle


async def prepare_database(services: Services) -> None:
    """SQLite (the local default) is brought up to date by itself; a server database must already be."""
    db = services.db
    if db.is_sqlite:
        await db.upgrade()
        return
    current, head = await db.current_revision(), db.head_revision()
    if current != head:
        raise SystemExit(f"database is at revision {current or 'none'}, code expects {head}: run `lvzhi db upgrade`")


def _outbound(services: Services, start: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        from bot.outbound.worker import DeliveryWorker

        services.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        services.delivery = DeliveryWorker(services)
        if start:
            await services.delivery.start()
            if services.settings.scheduler.enabled:
                from scheduler.core import LvzhiScheduler

                services.scheduler = LvzhiScheduler(services)
                await services.scheduler.start()
        yield
        if services.scheduler is not None:
            await services.scheduler.shutdown()
        if start:
            await services.delivery.stop()
        await services.http.close()

    return lifecycle


def _dispatcher_drain(dispatcher: Dispatcher, start: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        if start:
            await dispatcher.resume_inbox()  # what a stop left in the inbox is handled first (bot/chat/inbox.py)
        yield
        await dispatcher.drain()  # let handlers past their deadline finish and queue their replies

    return lifecycle
