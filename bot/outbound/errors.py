"""Typed platform errors, each keeping the platform's ``errcode`` so a secretary can see why a push failed."""

from __future__ import annotations


class WechatError(Exception):
    """An error answer (``errcode`` ≠ 0) or a failed call to a WeChat / WeCom API."""

    def __init__(self, code: int | None, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if code is not None else message)
        self.code = code
        self.message = message


class TokenError(WechatError):
    """40001 / 40014 / 42001: the access token is invalid or expired; refresh once and retry."""


class QuotaError(WechatError):
    """45009 (daily quota reached) or 45047 (the customer-service window's message count is used up)."""


class NotSubscribedError(WechatError):
    """43004: the member does not follow the Official Account (any more)."""


class OutOfWindowError(WechatError):
    """45015: customer-service messages are only allowed within the window after a member's interaction."""


class TransientError(WechatError):
    """-1 (system busy), a 5xx answer or a network failure: worth retrying later.

    ``uncertain`` is true when the request may have reached the platform (a timeout or a dropped
    connection after sending): retrying then risks a duplicate unless the platform dedupes it.
    """

    def __init__(self, code: int | None, message: str = "", *, uncertain: bool = False) -> None:
        super().__init__(code, message)
        self.uncertain = uncertain


class PermanentError(WechatError):
    """Any other platform error: retrying will not help (bad template field 47003, invalid openid …)."""


TOKEN_CODES = frozenset({40001, 40014, 42001})
QUOTA_CODES = frozenset({45009, 45047})
NOT_SUBSCRIBED = 43004
OUT_OF_WINDOW = 45015
WINDOW_COUNT_EXCEEDED = 45047
SYSTEM_BUSY = -1


def error_for(code: int, message: str) -> WechatError:
    """The typed error for a platform ``errcode``."""
    if code in TOKEN_CODES:
        return TokenError(code, message)
    if code in QUOTA_CODES:
        return QuotaError(code, message)
    if code == NOT_SUBSCRIBED:
        return NotSubscribedError(code, message)
    if code == OUT_OF_WINDOW:
        return OutOfWindowError(code, message)
    if code == SYSTEM_BUSY:
        return TransientError(code, message)
    return PermanentError(code, message)
