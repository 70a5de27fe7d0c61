"""The scheduler's jobs: module-level coroutines that take only ids (or nothing).

Jobs hold no objects: the database rows are the source of truth, and the running :class:`Services` is
bound here by :class:`scheduler.core.LvzhiScheduler` when it starts. Each job reads what it needs,
and the ones that push only enqueue deliveries.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete

from bot.chat.conversations import close_idle_conversations
from bot.domain.activities import close_due_activities as close_due
from bot.domain.audit import acting_through
from bot.outbound.client import wechat_client, wecom_client
from models.audit import Channel
from models.conversation import InboundMessage
from scheduler.photos import fetch_due_photos
from scheduler.tasks import execute_task

if TYPE_CHECKING:
    from bot.infra.services import Services

log = logging.getLogger(__name__)

INBOUND_RETENTION = timedelta(days=3)  # far longer than WeChat's retries (three within ~15 s)
TOKEN_REFRESH_AHEAD_SECONDS = 15 * 60  # the token job runs every 5 minutes; refresh 15 minutes ahead

_bound: Services | None = None


def bind(services: Services) -> None:
    global _bound
    _bound = services


def unbind(services: Services) -> None:
    global _bound
    if _bound is services:
        _bound = None


def bound_services() -> Services:
    if _bound is None:
        raise RuntimeError("no Services bound: the scheduler binds them when it starts")
    return _bound


async def run_task(task_id: int) -> None:
    """A scheduled task's fire time (a notice to send, a reminder …)."""

    services = bound_services()
    scheduler = services.scheduler
    # Said, not assumed: a job must not inherit the channel of whatever started the scheduler.
    with acting_through(Channel.SYSTEM):
        await execute_task(services, task_id, grace=scheduler.grace, zone=scheduler.zone)


async def sweep_idle_conversations() -> None:
    """Close conversations idle longer than ``conversation.idle_timeout_minutes``."""

    await close_idle_conversations(bound_services())


async def wake_delivery() -> None:
    """Retries become due while nobody queues anything: nudge the worker (it also polls)."""
    bound_services().wake_delivery()


async def refresh_tokens() -> None:
    """Keep the shared access tokens valid well ahead of expiry, for every configured app."""

    services = bound_services()
    if services.settings.wechat.app_id and services.settings.wechat.app_secret.get_secret_value():
        await wechat_client(services).refresh_ahead(TOKEN_REFRESH_AHEAD_SECONDS)
    if services.settings.wecom.corp_id and services.settings.wecom.secret.get_secret_value():
        await wecom_client(services).refresh_ahead(TOKEN_REFRESH_AHEAD_SECONDS)


async def purge_inbound_messages() -> int:
    """Drop retry-dedupe records older than three days; returns how many."""
    services = bound_services()
    cutoff = services.clock.now() - INBOUND_RETENTION
    async with services.db.session() as session:
        result = await session.execute(delete(InboundMessage).where(InboundMessage.received_at < cutoff))
    return int(result.rowcount or 0)


async def fetch_report_photos() -> None:
    """Download photos members attached to reports; a failed fetch is retried later, never dropped."""

    await fetch_due_photos(bound_services())


async def resync_tasks() -> None:
    """Pick up tasks scheduled, moved or cancelled by other processes (the CLI, a second app)."""
    await bound_services().scheduler.sync()


async def close_due_activities() -> None:
    """The safety net of the per-activity close task (a restart long after a window closed, say):
    every activity whose sign-in window has closed gets its absences computed."""

    services = bound_services()
    async with services.db.session() as session:
        closed = await close_due(session, services.clock.now())
    if closed:
        log.info("closed the sign-in of activities %s", closed)
