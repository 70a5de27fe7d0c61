"""Logging in to the secretary console through the bot, and the console's sessions.

    browser: GET /console/login ── issue_code ──► a ConsoleLogin: 6 digits, 5 minutes, the browser's nonce
    chat:    登录 123456 (or the QR scene console:123456) ── confirm_code ──► confirmed_by the secretary
    browser: polls login_state(nonce) … "confirmed" ── exchange(nonce) ──► a ConsoleSession (the login is used)
    CLI:     lvzhi console link ── issue_link ──► a confirmed login whose "nonce" is the link's token;
             opening the link exchanges it the same way
    every request: session_for(token) ── idle timeout, absolute lifetime, revoked, may still use the console

Only an active secretary or admin may confirm (:data:`bot.domain.authz.Action.USE_CONSOLE`); anyone else, a
wrong, expired or already used code is refused with a :class:`~bot.domain.refusals.Refusal` and nothing is
logged in. A confirmed code logs in only the browser holding the nonce it was issued to, once.

Secrets are random (``secrets``) and stored as SHA-256 digests; a session also carries a CSRF token that every
state-changing request must return. Logins, logouts, revocations and CLI links are audit events
(``console.login``, ``console.logout``, ``console.revoke``, ``console.link``) in the same transaction, on the
channel of the caller's ``acting_through``.

**Rate limits** (:class:`RateLimits`) are kept in this process's memory, not in the database: per IP for new
codes, exchanges and links, per code for confirmations naming it, per member for wrong codes typed in chat.
Several worker processes each keep their own counts, so the effective limit is that many times higher; a
restart forgets them. That is enough against guessing (a code lives 5 minutes, a million values).
"""

from __future__ import annotations

import hashlib
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.activities import count_pending_leave_for
from bot.domain.audit import record
from bot.domain.authz import Action, can, groups_within_reach, scope_of
from bot.domain.duty import waiting_count
from bot.domain.members import count_pending_applications
from bot.domain.refusals import Kind, Refusal
from bot.domain.reports import review_queue
from bot.infra.config import ConsoleSettings
from bot.infra.services import Services
from models.console import ConsoleLogin, ConsoleSession
from models.duty import DutyAppeal, DutyClaim
from models.member import LiaisonGroup, Member

CODE_LIFETIME = timedelta(minutes=5)
CODE_DIGITS = 6
SCENE_PREFIX = "console:"  # the QR code's scene: console:<code>
SEEN_EVERY = timedelta(minutes=1)  # last_seen is written at most this often: not one write per page view


def digest(secret: str) -> str:
    """What is stored of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def scene_of(code: str) -> str:
    return f"{SCENE_PREFIX}{code}"


def code_of_scene(scene: str) -> str:
    return scene.removeprefix(SCENE_PREFIX).strip()


# --- rate limits ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limit:
    attempts: int
    per: timedelta


@dataclass
class RateLimits:
    """Sliding windows per key (``ip:…``, ``code:…``, ``member:…``), in memory: see the module docstring."""

    limits: dict[str, Limit] = field(default_factory=lambda: {
        "ip": Limit(20, timedelta(minutes=10)),  # codes, exchanges and links asked from one address
        "code": Limit(5, timedelta(minutes=5)),  # confirmations naming one code
        "member": Limit(5, timedelta(minutes=10)),  # wrong codes one member typed
    })
    _seen: dict[str, deque[datetime]] = field(default_factory=dict)

    def allow(self, kind: str, value: object, now: datetime) -> bool:
        """Count an attempt of ``kind`` for ``value``; False when it is one too many (it is not counted)."""
        limit = self.limits[kind]
        window = self._seen.setdefault(f"{kind}:{value}", deque())
        while window and window[0] <= now - limit.per:
            window.popleft()
        if len(window) >= limit.attempts:
            return False
        window.append(now)
        return True

    def check(self, kind: str, value: object, now: datetime) -> None:
        if not self.allow(kind, value, now):
            raise Refusal("console.refused.too_many", Kind.CONFLICT, code="rate_limited")


# --- logging in --------------------------------------------------------------------------------------------


async def issue_code(session: AsyncSession, nonce: str, *, ip: str, now: datetime) -> ConsoleLogin:
    """A fresh code for the browser holding ``nonce``, unlike every code still waiting."""
    while True:
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        if await _waiting_login(session, code, now) is None:
            break
    login = ConsoleLogin(code=code, nonce_hash=digest(nonce), created_at=now, expires_at=now + CODE_LIFETIME,
                         ip=ip[:64])
    session.add(login)
    await session.flush()
    return login


async def _waiting_login(session: AsyncSession, code: str, now: datetime) -> ConsoleLogin | None:
    return await session.scalar(
        select(ConsoleLogin).where(ConsoleLogin.code == code, ConsoleLogin.used_at.is_(None),  # type: ignore[union-attr]
                                   ConsoleLogin.expires_at > now)
        .order_by(ConsoleLogin.id.desc()).limit(1)  # type: ignore[union-attr]
    )


def may_use_console(member: Member | None) -> bool:
    return can(member, Action.USE_CONSOLE)


async def confirm_code(session: AsyncSession, member: Member | None, code: str, *, now: datetime,
                       limits: RateLimits) -> ConsoleLogin:
    """``member`` confirms ``code`` from chat. Refused: not a secretary, too many tries, a code that is wrong,
    expired, already confirmed or used (all one answer for a stranger's code: nobody learns which codes live)."""
    if not may_use_console(member):
        raise Refusal("console.refused.not_secretary", Kind.FORBIDDEN)
    assert member is not None
    limits.check("code", code, now)
    login = await _waiting_login(session, code, now) if len(code) == CODE_DIGITS else None
    if login is None or login.confirmed_at is not None:
        limits.check("member", member.id, now)
        raise Refusal("console.refused.bad_code", Kind.NOT_FOUND, code_digits=code)
    login.confirmed_by_id, login.confirmed_at = member.id, now
    session.add(login)
    return login


async def issue_link(session: AsyncSession, member: Member, *, now: datetime, settings: ConsoleSettings) -> str:
    """A one-time login link's token for ``member`` (the CLI's ``console link``), confirmed already."""
    if not may_use_console(member):
        raise Refusal("console.refused.not_secretary", Kind.FORBIDDEN)
    token = new_secret()
    session.add(ConsoleLogin(nonce_hash=digest(token), created_at=now, confirmed_by_id=member.id, confirmed_at=now,
                             expires_at=now + timedelta(minutes=settings.link_minutes)))
    await session.flush()
    # Recorded without a person: whoever runs the command, not the member the link is for.
    await record(session, action="console.link", object_type="member", object_id=member.id, group_id=None, by=None,
                 summary=f"one-time console link for {member.name}", at=now)
    return token


async def login_of(session: AsyncSession, nonce: str) -> ConsoleLogin | None:
    return await session.scalar(select(ConsoleLogin).where(ConsoleLogin.nonce_hash == digest(nonce)))


def login_state(login: ConsoleLogin | None, now: datetime) -> str:
    """What the waiting login page shows: none, waiting, confirmed, used or expired."""
    if login is None:
        return "none"
    if login.used_at is not None:
        return "used"
    if login.expires_at <= now:
        return "expired"
    return "confirmed" if login.confirmed_at is not None else "waiting"


@dataclass(frozen=True, slots=True)
class Opened:
    """A new session and the token for its cookie (only the digest is stored)."""

    session: ConsoleSession
    token: str
    member: Member


async def exchange(session: AsyncSession, nonce: str, *, ip: str, user_agent: str, now: datetime,
                   settings: ConsoleSettings) -> Opened:
    """The confirmed login of ``nonce`` (a browser's nonce or a link's token) becomes a session, once."""
    login = await login_of(session, nonce)
    if login_state(login, now) != "confirmed":
        raise Refusal("console.refused.not_confirmed", Kind.FORBIDDEN)
    assert login is not None and login.confirmed_by_id is not None
    member = await session.get(Member, login.confirmed_by_id)
    if not may_use_console(member):  # the role may have changed since the confirmation
        raise Refusal("console.refused.not_secretary", Kind.FORBIDDEN)
    assert member is not None and member.id is not None
    login.used_at = now
    token = new_secret()
    opened = ConsoleSession(token_hash=digest(token), member_id=member.id, created_at=now, last_seen_at=now,
                            expires_at=now + timedelta(hours=settings.lifetime_hours), ip=ip[:64],
                            user_agent=user_agent[:300], csrf_token=secrets.token_urlsafe(24))
    session.add_all([login, opened])
    await session.flush()
    await record(session, action="console.login", object_type="console_session", object_id=opened.id, group_id=None,
                 by=member, at=now)
    return Opened(opened, token, member)


# --- sessions ----------------------------------------------------------------------------------------------


def is_live(row: ConsoleSession, now: datetime, settings: ConsoleSettings) -> bool:
    idle = timedelta(minutes=settings.idle_timeout_minutes)
    return row.revoked_at is None and now < row.expires_at and now - row.last_seen_at < idle


async def session_for(session: AsyncSession, token: str, *, now: datetime, settings: ConsoleSettings
                      ) -> tuple[ConsoleSession, Member] | None:
    """The live session of a cookie's token and its member (who must still be allowed the console), seen now."""
    if not token:
        return None
    row = await session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == digest(token)))
    if row is None or not is_live(row, now, settings):
        return None
    member = await session.get(Member, row.member_id)
    if not may_use_console(member):
        return None
    assert member is not None
    if now - row.last_seen_at >= SEEN_EVERY:
        row.last_seen_at = now
        session.add(row)
    return row, member


async def sessions_of(session: AsyncSession, member_id: int, *, now: datetime, settings: ConsoleSettings
                      ) -> list[ConsoleSession]:
    """A member's live sessions, newest first."""
    rows = (await session.scalars(
        select(ConsoleSession).where(ConsoleSession.member_id == member_id, ConsoleSession.revoked_at.is_(None),  # type: ignore[union-attr]
                                     ConsoleSession.expires_at > now)
        .order_by(ConsoleSession.id.desc())  # type: ignore[union-attr]
    )).all()
    return [row for row in rows if is_live(row, now, settings)]


async def revoke(session: AsyncSession, member: Member, session_id: int, *, now: datetime,
                 logout: bool = False) -> ConsoleSession:
    """End one of ``member``'s own sessions (another's is as unknown as one that never was); ``logout``: the
    session asking for it, recorded as a logout rather than a revocation."""
    row = await session.get(ConsoleSession, session_id)
    if row is None or row.member_id != member.id:
        raise Refusal("console.refused.no_session", Kind.NOT_FOUND)
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(row)
        await record(session, action="console.logout" if logout else "console.revoke",
                     object_type="console_session", object_id=row.id, group_id=None, by=member, at=now)
    return row


# --- 工作台: what waits for this secretary -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Queue:
    key: str  # registrations, reports, leave, claims, appeals (the catalogue's console.queue.<key>)
    count: int
    page: str = ""  # the console page that works the queue, where there is one yet


async def queues_of(session: AsyncSession, member: Member) -> list[Queue]:
    """The queues ``member`` may work on, each with how many items wait in it, within their scope (a queue
    they may not work on at all is left out rather than shown as 0)."""
    queues: list[Queue] = []
    registrations = groups_within_reach(member, Action.APPROVE_MEMBER)
    if registrations != frozenset():
        queues.append(Queue("registrations", await count_pending_applications(session, registrations),
                             "/console/registrations"))
    reports = groups_within_reach(member, Action.REVIEW_REPORT)
    if reports != frozenset():
        queues.append(Queue("reports", (await review_queue(session, reports, limit=0))[1], "/console/reports"))
    if groups_within_reach(member, Action.APPROVE_LEAVE) != frozenset() or can(member, Action.APPROVE_PLENARY_LEAVE):
        queues.append(Queue("leave", await count_pending_leave_for(session, member), "/console/leave"))
    duty = groups_within_reach(member, Action.VERIFY_DUTY)
    if duty != frozenset():
        queues.append(Queue("claims", await waiting_count(session, DutyClaim, duty)))
        queues.append(Queue("appeals", await waiting_count(session, DutyAppeal, duty)))
    return queues


async def scope_names(session: AsyncSession, member: Member) -> list[str]:
    """The names of the liaison groups ``member`` is limited to (empty: no limit)."""
    scope = scope_of(member)
    if not scope:
        return []
    return list((await session.scalars(
        select(LiaisonGroup.name).where(LiaisonGroup.id.in_(sorted(scope)))  # type: ignore[union-attr]
        .order_by(LiaisonGroup.id))).all())


LIMITS_KEY = "console.limits"


def limits_of(services: Services) -> RateLimits:
    """This process's rate limits (kept with the services, so every request and message shares them)."""
    limits = services.extras.get(LIMITS_KEY)
    if limits is None:
        limits = services.extras[LIMITS_KEY] = RateLimits()
    return limits
