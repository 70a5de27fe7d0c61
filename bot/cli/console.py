"""``lvzhi console link --member ID|MOBILE``: a one-time login link to the console, for a first administrator
when no secretary has bound WeChat yet (or a secretary whose phone is elsewhere).

The member must be an active secretary or admin. The link works once, for ``console.link_minutes``, and is
printed on stdout; its making is recorded in the audit log (channel cli). Exit codes: 0 printed, 1 no such
member, 2 the member may not use the console (or the database has no schema).
"""

from __future__ import annotations

import argparse

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.common import EXIT_NOT_FOUND, EXIT_OK, CommandFailed, command_database, failing_politely
from bot.domain.audit import acting_through
from bot.domain.console import issue_link, may_use_console
from bot.infra.clock import Clock
from bot.infra.config import Settings
from models.audit import Channel
from models.member import Member


def add_console_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    console = subparsers.add_parser("console", help="the secretary console under /console/")
    console_sub = console.add_subparsers(dest="console_command", required=True)
    link = console_sub.add_parser("link", help="print a one-time login link for a secretary or admin")
    link.add_argument("--member", required=True, help="the member's id or mobile number")
    link.set_defaults(func=console_link)


@failing_politely
async def console_link(settings: Settings, args: argparse.Namespace, clock: Clock | None = None) -> int:
    now = (clock or Clock()).now()
    with acting_through(Channel.CLI):
        async with command_database(settings) as db, db.session() as session:
            member = await _member(session, args.member)
            if not may_use_console(member):
                raise CommandFailed(f"{member.name} is not an active secretary or admin: no console login")
            token = await issue_link(session, member, now=now, settings=settings.console)
    print(f"{settings.server.public_url.rstrip('/')}/console/link/{token}")
    print(f"valid once, for {settings.console.link_minutes} minutes")
    return EXIT_OK


async def _member(session: AsyncSession, wanted: str) -> Member:
    condition = Member.id == int(wanted) if wanted.isdigit() and len(wanted) < 11 else Member.mobile == wanted
    member = await session.scalar(select(Member).where(condition))
    if member is None:
        raise CommandFailed(f"no member {wanted} (give the id or the 11-digit mobile number)", EXIT_NOT_FOUND)
    return member
