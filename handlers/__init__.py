"""Handler modules, one per capability. ``ROUTERS`` is the order the dispatcher tries them in.

``common`` comes first (cancel and help work in any state); ``welcome`` last (its fallbacks answer
whatever nobody else did).
"""

from __future__ import annotations

from functools import cache

from bot.chat.router import Handler, HelpEntry, Router
from handlers import (
    activity,
    broadcast,
    common,
    duty,
    duty_review,
    leave,
    leave_review,
    notice_reply,
    profile,
    register,
    report,
    report_review,
    review,
    signin,
    study,
    welcome,
)

ROUTERS: list[Router] = [
    common.router,
    signin.router,  # before welcome: a follow through a sign-in QR code signs in
    register.router,
    profile.router,
    review.router,
    report.router,
    report_review.router,
    leave.router,
    leave_review.router,
    activity.router,
    notice_reply.router,  # 参加: the answer to a meeting notice
    study.router,
    broadcast.router,
    duty.router,  # 履职, 履职明细, 补录, 申诉 N
    duty_review.router,  # 补录审核, 申诉处理, 调整, 履职排名
    welcome.router,
]

_AUDIENCES = {"guest": ("guest",), "member": ("member",), "secretary": ("member", "secretary")}


def help_entries(audience: str) -> list[HelpEntry]:
    """The ``帮助`` lines an audience sees, in router order."""
    wanted = _AUDIENCES[audience]
    return [entry for router in ROUTERS for entry in router.help if entry.audience in wanted]


def cancel_hook_for(state: str | None) -> Handler | None:
    """The ``取消`` hook of the conversation ``state`` belongs to, if its module declared one."""
    for router in ROUTERS:
        for group, hook in router.cancel_hooks:
            if group.contains(state):
                return hook
    return None


@cache
def command_words() -> frozenset[str]:
    return frozenset(word for router in ROUTERS for route in router.routes for word in route.words)
