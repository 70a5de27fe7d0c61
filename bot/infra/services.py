"""The long-lived parts of a running lvzhi, handed to handlers, transports, jobs and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.infra.clock import Clock
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from bot.infra.signing import Signer, load_signer

if TYPE_CHECKING:
    import aiohttp
    from sqlalchemy.ext.asyncio import AsyncSession

SERVICES_KEY: web.AppKey[Services] = web.AppKey("services")


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    texts: Catalogue
    http: aiohttp.ClientSession | None = None  # outbound HTTP, opened with the app
    delivery: Any = None  # bot.outbound.worker.DeliveryWorker, once started
    scheduler: Any = None  # scheduler.core.LvzhiScheduler, once started
    extras: dict[str, Any] = field(default_factory=dict)
    # The assessment rules (bot.domain.duty_rules.DutyRules of duty.rules_file): loaded at start-up, or on first
    # use by bot.domain.duty_rules.year_rules. Typed loosely so that infrastructure does not import the domain.
    rules: Any = None
    _signer: Signer | None = field(default=None, repr=False)

    async def signer(self, session: AsyncSession | None = None) -> Signer:
        """The link signer (its key may live in the database, so it is loaded on first use; inside an open
        write transaction pass its ``session``)."""
        if self._signer is None:
            key = self.settings.admin.signing_key.get_secret_value()
            self._signer = await load_signer(self.db, key, session)
        return self._signer

    @property
    def zone(self) -> ZoneInfo:
        """The committee's time zone (``scheduler.timezone``): local dates, times and years are read in it."""
        return self.settings.scheduler.zone

    def wake_delivery(self) -> None:
        """Tell the delivery worker that rows were queued (it also polls, so this only saves latency)."""
        if self.delivery is not None:
            self.delivery.wake()


def services_of(app: web.Application) -> Services:
    return app[SERVICES_KEY]
