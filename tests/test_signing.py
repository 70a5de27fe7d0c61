"""Signed links: a genuine token gives its payload back; a changed, malformed or expired one is refused;
without a configured key every process and every restart share the one kept in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.infra.clock import FrozenClock
from bot.infra.db import Database
from bot.infra.signing import BadToken, Signer, load_signer


def test_round_trip_and_refusals(clock: FrozenClock) -> None:
    signer = Signer(b"key")
    token = signer.sign("screen-7", clock.now() + timedelta(hours=1))
    assert signer.unsign(token, clock.now()) == "screen-7"
    payload, expiry, mac = token.split(".")
    tampered = [f"screen-8.{expiry}.{mac}", f"{payload}.{int(expiry) + 1}.{mac}", f"{payload}.{expiry}.{mac[:-1]}A",
                "screen-7", "", "..", f"{payload}.x.{mac}"]
    for bad in tampered:
        with pytest.raises(BadToken):
            signer.unsign(bad, clock.now())
    with pytest.raises(BadToken, match="expired"):
        signer.unsign(token, clock.now() + timedelta(hours=1, seconds=1))
    with pytest.raises(BadToken):
        Signer(b"another key").unsign(token, clock.now())
    with pytest.raises(ValueError):
        signer.sign("a.b", clock.now())


async def test_the_generated_key_is_kept_in_the_database(db: Database, clock: FrozenClock) -> None:
    first, second = await load_signer(db, ""), await load_signer(db, "")
    token = first.sign("r-1", clock.now() + timedelta(minutes=5))
    assert second.unsign(token, clock.now()) == "r-1"
    configured = await load_signer(db, "from-config")
    with pytest.raises(BadToken):
        configured.unsign(token, clock.now())
