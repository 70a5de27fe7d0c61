"""Logs hide mobile numbers and secrets; tests cannot reach the internet."""

from __future__ import annotations

import logging
import socket

import pytest

from bot.infra.logs import MaskingFilter, mask_mobiles
from tests.conftest import NetworkAccessError


def test_mobile_numbers_are_masked() -> None:
    assert mask_mobiles("委员 13812345678 注册") == "委员 138****5678 注册"
    assert mask_mobiles("订单 2013812345678901") == "订单 2013812345678901"  # not a mobile inside longer digits


def test_secrets_and_mobiles_are_masked_in_records() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "token=%s mobile=%s", ("s3cr3t-token", "13900001111"),
                               None)
    MaskingFilter(["s3cr3t-token"]).filter(record)
    assert record.getMessage() == "token=*** mobile=139****1111"


def test_the_network_guard_refuses_outside_addresses() -> None:
    with socket.socket() as sock, pytest.raises(NetworkAccessError):
        sock.connect(("203.0.113.10", 443))
    with pytest.raises(NetworkAccessError):
        socket.getaddrinfo("api.weixin.qq.com", 443)
