"""What a handler is given: the event, its transaction, the member, the conversation, the texts, the route
table (what spans all handler modules: command words, help lines, cancel hooks) and the committee's local time."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.conversations import Conversation
from bot.chat.events import Event
from bot.outbound.message import Reply, as_reply
from bot.outbound.queue import enqueue

if TYPE_CHECKING:
    from bot.infra.services import Services
    from models.member import Member


class Routes(Protocol):
    """What a handler may ask of the dispatcher's :class:`bot.chat.router.RouteTable`. A protocol, so that
    this module needs no import of the router (whose handlers take a Context)."""

    command_words: frozenset[str]

    def help_entries(self, audience: str) -> list[Any]: ...

    def cancel_hook_for(self, state: str | None) -> Callable[[Context], Awaitable[object]] | None: ...


@dataclass
class Context:
    event: Event
    session: AsyncSession  # the message's write transaction: commit happens after the handler returns
    services: Services
    conv: Conversation
    routes: Routes  # every handler module's routes (the dispatcher's RouteTable)
    member: Member | None = None
    match: re.Match[str] | None = None
    pushed: bool = False  # something was queued: the dispatcher wakes the delivery worker after commit
    scheduled: bool = False  # tasks were scheduled: the dispatcher re-arms the scheduler after commit

    @property
    def text(self) -> str:
        return self.event.text.strip()

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    @cached_property
    def zone(self) -> ZoneInfo:
        """The committee's time zone: what members read and type is local time, what is stored is UTC."""
        return self.services.zone

    def local(self, moment: datetime) -> datetime:
        """``moment`` (aware, usually UTC) in the committee's local time."""
        return moment.astimezone(self.zone)

    @property
    def local_now(self) -> datetime:
        return self.local(self.now)

    def t(self, key: str, **values: Any) -> str:
        return self.services.texts(key, **values)

    def re_ask(self, key: str, *, closing_note: str = "", **values: object) -> str:
        """A wrong answer: ask again with ``key``, or end the conversation politely after
        ``conversation.max_wrong_answers`` wrong answers in a row (with ``closing_note`` added)."""
        if self.conv.wrong_answer() >= self.services.settings.conversation.max_wrong_answers:
            self.conv.finish()
            return "\n".join(filter(None, [self.t("conversation.too_many_wrong"), closing_note]))
        return self.t(key, **values)

    async def push_to(
        self, platform: str, user_id: str, reply: Reply | str, key: str, *, member_id: int | None = None
    ) -> bool:
        """Queue a message to someone else, committed together with this message's effects."""
        message = as_reply(reply)
        assert message is not None
        queued = await enqueue(
            self.session, platform=platform, recipient=user_id, reply=message, key=key, member_id=member_id
        )
        self.pushed = self.pushed or queued
        return queued

    async def push(self, reply: Reply | str, key: str) -> bool:
        """Queue an extra message to the sender (beyond the one reply a callback may carry)."""
        return await self.push_to(self.event.platform, self.event.user_id, reply, key,
                                  member_id=self.member.id if self.member else None)
