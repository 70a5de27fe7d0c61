"""A load generator that plays the WeChat platform against an Official Account callback (safe mode).

Run in its own process (``python -m bench.loadgen PLAN.json``) so that its CPU does not count against
the server. A plan is a JSON file::

    {"url": "http://127.0.0.1:8080/wechat", "token": ..., "app_id": ..., "aes_key": ...,
     "concurrency": 50,            # closed loop: this many requests in flight, each waits for its answer
     "rate": null,                 # or messages per second: open loop, as the platform sends (overload test)
     "max_inflight": 3000,         # open loop only: connections opened at most
     "allow_success": false,       # whether a bare "success" is an acceptable answer to a text
     "msg_id_base": 123000000,     # MsgIds are msg_id_base + index: distinct in every run
     "messages": [[openid, text, [expected substrings, any of them]], ...]}

Every request is built by :class:`bot.devtools.emulator.OfficialAccountPlatform` (URL signature, AES envelope,
message signature) before the clock starts. Every answer is kept and verified after the clock stops, so
verification costs no generator time during the measurement: status 200, the reply's signature, its
decryption and AppID, the reply addressed to the sender, and its content. In the closed loop the
messages of one openid always go through the same connection, in order, each after the previous answer
(a member answers what they have read), so conversation steps arrive in order.

Latency is measured from when the request was due: its send time in the closed loop, its scheduled time
in the open loop (waiting for a free connection counts). Answers slower than 5 s, which WeChat would
have abandoned and retried, are counted.

The result is one JSON object on stdout (or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from bot.devtools.emulator import OfficialAccountPlatform, text_fields

WECHAT_TIMEOUT = 5.0  # the platform gives up (and retries) after 5 seconds
GIVE_UP = 60.0  # the generator waits this long for an answer before calling it an error


@dataclass(slots=True)
class Prepared:
    index: int
    openid: str
    expect: list[str]
    payload: bytes
    status: int = 0
    body: str = ""
    latency: float = -1.0
    error: str = ""


class Connection:
    """One keep-alive HTTP/1.1 connection: a minimal client (aiohttp's costs more generator CPU per request)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, payload: bytes) -> tuple[int, str]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        try:
            self.writer.write(payload)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await self.reader.readexactly(length) if length else b""
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, body.decode()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def prepare(plan: dict[str, Any]) -> list[Prepared]:
    platform = OfficialAccountPlatform(plan["token"], plan["app_id"], plan["aes_key"], mode="safe")
    url = urlsplit(plan["url"])
    host = f"{url.hostname}:{url.port}"
    base = int(plan["msg_id_base"])
    to = plan.get("to", "gh_lvzhi")
    prepared = []
    for index, (openid, text, expect) in enumerate(plan["messages"]):
        request = platform.request(text_fields(openid, text, msg_id=base + index, to=to))
        body = request.body.encode()
        payload = (
            f"POST {url.path}?{urlencode(request.params)} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        prepared.append(Prepared(index, openid, list(expect), payload))
    return prepared


async def _one(conn: Connection, item: Prepared, due: float) -> None:
    try:
        item.status, item.body = await asyncio.wait_for(conn.request(item.payload), GIVE_UP)
    except Exception as exc:
        item.error = f"transport: {type(exc).__name__}"
    item.latency = time.perf_counter() - due


async def closed_loop(items: list[Prepared], host: str, port: int, concurrency: int) -> None:
    """``concurrency`` connections; the messages of one openid stay on one connection, in order."""
    lanes: list[list[Prepared]] = [[] for _ in range(concurrency)]
    for item in items:
        lanes[zlib.crc32(item.openid.encode()) % concurrency].append(item)

    async def lane(queue: list[Prepared]) -> None:
        conn = Connection(host, port)
        for item in queue:
            await _one(conn, item, time.perf_counter())
        conn.close()

    await asyncio.gather(*(lane(queue) for queue in lanes))


async def open_loop(items: list[Prepared], host: str, port: int, rate: float, max_inflight: int) -> None:
    """Requests sent on a fixed schedule whatever the answers do, like the platform under a crowd."""
    idle: list[Connection] = []
    opened = 0
    free = asyncio.Condition()

    async def send(item: Prepared, due: float) -> None:
        nonlocal opened
        async with free:
            while not idle and opened >= max_inflight:
                await free.wait()
            if idle:
                conn = idle.pop()
            else:
                conn, opened = Connection(host, port), opened + 1
        await _one(conn, item, due)
        async with free:
            idle.append(conn)
            free.notify()

    tasks = []
    start = time.perf_counter()
    for number, item in enumerate(items):
        due = start + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(send(item, due)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()


def verify(plan: dict[str, Any], items: list[Prepared]) -> dict[str, Any]:
    platform = OfficialAccountPlatform(plan["token"], plan["app_id"], plan["aes_key"], mode="safe")
    allow_success = bool(plan.get("allow_success"))
    errors: dict[str, int] = {}
    successes = 0

    def fail(item: Prepared, reason: str) -> None:
        item.error = item.error or reason
        errors[reason] = errors.get(reason, 0) + 1

    samples: list[str] = []
    for item in items:
        if item.error:
            fail(item, item.error)
            continue
        if item.status != 200:
            fail(item, f"HTTP {item.status}")
            continue
        if item.body == "success":
            successes += 1
            if not allow_success:
                fail(item, "success instead of a reply")
            continue
        try:
            answer = platform.read_answer(item.status, item.body)  # signature, AES, AppID
        except Exception as exc:
            fail(item, f"reply does not verify: {type(exc).__name__}")
            continue
        if answer.fields.get("ToUserName") != item.openid:
            fail(item, "reply addressed to someone else")
        elif item.expect and not any(fragment in answer.text for fragment in item.expect):
            fail(item, "unexpected reply content")
            if len(samples) < 3:
                samples.append(f"{item.openid}: {answer.text[:120]!r} (expected one of {item.expect})")
    return {
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "error_samples": samples,
        "success_answers": successes,
    }


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def run(plan: dict[str, Any]) -> dict[str, Any]:
    items = prepare(plan)
    url = urlsplit(plan["url"])
    started = time.perf_counter()
    if plan.get("rate"):
        asyncio.run(
            open_loop(
                items,
                url.hostname or "127.0.0.1",
                url.port or 80,
                float(plan["rate"]),
                int(plan.get("max_inflight", 3000)),
            )
        )
    else:
        asyncio.run(closed_loop(items, url.hostname or "127.0.0.1", url.port or 80, int(plan["concurrency"])))
    elapsed = time.perf_counter() - started
    latencies = sorted(item.latency for item in items)
    result = {
        "messages": len(items),
        "seconds": elapsed,
        "msgs_per_s": len(items) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p90_ms": percentile(latencies, 0.90) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
        "over_5s": sum(1 for value in latencies if value > WECHAT_TIMEOUT),
    }
    result.update(verify(plan, items))
    # A bare "success" means the server stopped waiting at its reply deadline (4.5 s after its request
    # handler started): how long such answers took shows any wait *before* the handler started.
    waited = sorted(item.latency for item in items if item.status == 200 and item.body == "success")
    if waited:
        result["success_latency_ms"] = {"min": waited[0] * 1000, "p50": percentile(waited, 0.5) * 1000,
                                        "max": waited[-1] * 1000}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="play the WeChat platform against a callback")
    parser.add_argument("plan", help="the plan, a JSON file (see the module docstring)")
    parser.add_argument("--out", help="write the result here instead of stdout")
    args = parser.parse_args()
    with open(args.plan, encoding="utf-8") as handle:
        plan = json.load(handle)
    result = run(plan)
    text = json.dumps(result, ensure_ascii=False)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
