"""Handler modules, one per capability. ``ROUTERS`` is the order the dispatcher tries them in.

``common`` comes first (cancel and help work in any state); ``welcome`` last (its fallbacks answer
whatever nobody else did). What spans the modules (the command words, the ``帮助`` lines, the ``取消``
hooks) is asked of the dispatcher's :class:`bot.chat.router.RouteTable` (``ctx.routes``), so no handler
module imports this package back.
"""

from __future__ import annotations

from bot.chat.router import Router
from handlers import (
    activity,
    broadcast,
    common,
    console_login,
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
    console_login.router,  # 登录 123456 and the console's QR scene, from any state
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
