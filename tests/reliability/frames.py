"""Malformed frames against a real hub: each one answered as docs/protocol.md says.

A frame that is text, valid UTF-8 and at most 65,536 bytes gets exactly one ``reply``: with the
frame's ``id`` when the frame is a JSON object whose ``id`` is an integer or a string, else with
``"id": null``; ``bad_request`` when it is not such an object or names no known op; and the
connection stays open (a request sent after it is answered).  A binary frame closes with 1003,
invalid UTF-8 with 1007, a message over 65,536 bytes with 1009.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from typing import Any

from attrs import define, field
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

MAX_FRAME = 65_536
OPS = ("auth", "subscribe", "unsubscribe", "play", "accept", "decline", "cancel", "move", "resign")
CODES = {"bad_request", "unauthorized", "forbidden", "not_found", "conflict", "rate_limited",
         "too_large", "unavailable", "internal"}  # fmt: skip
TIMEOUT = 20.0
PER_CONNECTION = 30  # frames, then a probe: within one burst of the per-connection rate limit


def padded(n: int) -> str:
    """A valid ``unsubscribe`` of exactly ``n`` UTF-8 bytes (an unknown field pads it)."""
    frame = '{"type":"unsubscribe","id":"pad","topic":"lobby","pad":""}'
    return frame[:-2] + "x" * (n - len(frame)) + '"}'


# Frames that must each get one reply: (name, frame, expected id, expected code or None for ok).
REPLIES: list[tuple[str, str, Any, str | None]] = [
    ("not JSON", "{", None, "bad_request"),
    ("empty", "", None, "bad_request"),
    ("trailing garbage", '{"type":"cancel","id":1} x', None, "bad_request"),
    ("byte order mark", '\ufeff{"type":"cancel","id":1}', None, "bad_request"),
    ("raw control character", '{"type":"auth","id":1,"token":"a\x01b"}', None, "bad_request"),
    ("array", "[1, 2]", None, "bad_request"),
    ("string", '"hello"', None, "bad_request"),
    ("null", "null", None, "bad_request"),
    ("nested 32,000 deep", "[" * 32_000 + "]" * 32_000, None, "bad_request"),
    ("id missing", '{"type":"auth","token":"x"}', None, "bad_request"),
    ("id true", '{"type":"auth","id":true,"token":"x"}', None, "bad_request"),
    ("id an object", '{"type":"auth","id":{},"token":"x"}', None, "bad_request"),
    ("id a float", '{"type":"auth","id":1.5,"token":"x"}', None, "bad_request"),
    ("id NaN", '{"type":"auth","id":NaN,"token":"x"}', None, "bad_request"),
    ("id a lone surrogate", '{"type":"auth","id":"\\ud800","token":"x"}', None, "bad_request"),
    ("type missing", '{"id":7}', 7, "bad_request"),
    ("type a number", '{"id":8,"type":5}', 8, "bad_request"),
    ("unknown op", '{"id":"x9","type":"launch"}', "x9", "bad_request"),
    ("field missing", '{"id":10,"type":"move"}', 10, "bad_request"),
    ("topic a number", '{"id":11,"type":"subscribe","topic":5}', 11, "bad_request"),
    ("unknown topic form", '{"id":12,"type":"subscribe","topic":"weather"}', 12, "bad_request"),
    ("round a string", '{"id":13,"type":"move","game":"g","roll":"Rock","round":"one"}', 13,
     "bad_request"),
    ("round 1e999", '{"id":14,"type":"move","game":"g","roll":"Rock","round":1e999}', 14,
     "bad_request"),
    ("token a lone surrogate", '{"id":15,"type":"auth","token":"\\udfff"}', 15, "bad_request"),
    ("exactly 65,536 bytes", padded(MAX_FRAME), "pad", None),
]  # fmt: skip


def _oversized() -> str:
    return padded(MAX_FRAME + 1)


def _fragments() -> Iterator[str]:
    yield "x" * 40_000
    yield "x" * 40_000


# Frames that must close the connection: (name, what to send, close code).
CLOSES: list[tuple[str, Any, int]] = [
    ("binary frame", b'{"type":"cancel","id":1}', 1003),
    ("invalid UTF-8", b'{"type":"auth","id":1,"token":"\xff\xfe"}', 1007),
    ("65,537 bytes", "oversized", 1009),
    ("80,000 bytes in two fragments", "fragments", 1009),
]


def expected(frame: str) -> tuple[Any, str | None]:
    """The answer to a text frame: the reply's id, and its code when it is fixed."""
    try:
        obj = json.loads(frame)
    except (ValueError, RecursionError):
        return None, "bad_request"
    if not isinstance(obj, dict):
        return None, "bad_request"
    rid = obj.get("id")
    if isinstance(rid, bool) or not isinstance(rid, int | str):
        return None, "bad_request"
    try:
        rid.encode() if isinstance(rid, str) else None
    except UnicodeEncodeError:
        return None, "bad_request"
    if obj.get("type") not in OPS:
        return rid, "bad_request"
    return rid, None  # a known op: any one reply (ok, or an error with one of the protocol's codes)


async def open_ws(url: str) -> ClientConnection:
    """A connection with its welcome read."""
    ws = await connect(url, max_queue=None, open_timeout=TIMEOUT, max_size=None)
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome", welcome
    return ws


async def next_reply(ws: ClientConnection) -> dict[str, Any]:
    """The next ``reply`` frame (events of a topic the frames subscribed to are skipped)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "reply":
                return dict(frame)


def judge(reply: dict[str, Any], rid: Any, code: str | None) -> bool:
    """Whether ``reply`` is the specified answer to a frame expecting ``rid`` and ``code``."""
    if reply.get("id") != rid:
        return False
    if code is None:
        return reply["ok"] is True or reply["error"]["code"] in CODES
    return reply["ok"] is False and reply["error"]["code"] == code


async def probe(ws: ClientConnection) -> bool:
    """The connection still answers: a harmless request gets its own ``ok`` reply."""
    await ws.send(json.dumps({"type": "unsubscribe", "id": "probe", "topic": "lobby"}))
    reply = await next_reply(ws)
    return reply == {"type": "reply", "id": "probe", "ok": True, "data": {}}


async def close_code(url: str, what: Any) -> int | None:
    """Send one closing case on a fresh connection; the code the hub closed with."""
    ws = await open_ws(url)
    try:
        if isinstance(what, bytes) and what.startswith(b'{"type":"auth"'):
            await ws.send(what, text=True)
        elif what == "oversized":
            await ws.send(_oversized())
        elif what == "fragments":
            await ws.send(_fragments())
        else:
            await ws.send(what)
        async with asyncio.timeout(TIMEOUT):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None
    finally:
        await ws.close()


def mutants(rng: random.Random) -> Iterator[str]:
    """Endless random damage to valid requests: cut, spliced, retyped, re-keyed, noise."""
    valid = [
        {"type": "auth", "id": 1, "token": "t" * 43},
        {"type": "subscribe", "id": "s", "topic": "game:abc", "since": 3, "epoch": "e"},
        {"type": "move", "id": 2, "game": "g", "roll": "Rock", "round": 1},
        {"type": "play", "id": 3, "opponent": "computer", "best_of": 5, "rules": "rps3"},
        {"type": "accept", "id": 4, "challenge": "c"},
        {"type": "unsubscribe", "id": 5, "topic": "lobby"},
    ]
    junk: list[Any] = [None, True, -1, 2**70, 1.5, "", "\u0000", "\ud800", [], {}, "x" * 300]
    while True:
        obj = dict(rng.choice(valid))
        text = json.dumps(obj)
        kind = rng.randrange(6)
        if kind == 0:
            text = text[: rng.randrange(len(text))]
        elif kind == 1:
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice('{}[]",:\\ ') + text[at:]
        elif kind == 2:
            obj[rng.choice(list(obj))] = rng.choice(junk)
            text = json.dumps(obj)
        elif kind == 3:
            del obj[rng.choice(list(obj))]
            text = json.dumps(obj)
        elif kind == 4:
            obj["type"] = rng.choice([*OPS, "Auth", "MOVE", "", "ping"])
            text = json.dumps(obj)
        else:
            text = "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(1, 60)))
        yield text


@define
class FrameResult:
    """Counts of one malformed-frame run."""

    sent: int = 0
    answered: int = 0  # exactly as the protocol says
    wrong: list[tuple[str, Any]] = field(factory=list)
    connections: int = 0
    probes_ok: int = 0
    closes_sent: int = 0
    closes_right: int = 0


async def connection_batch(url: str, frames: list[str], result: FrameResult) -> None:
    """Send ``frames`` on one connection, read one reply per frame, then probe it."""
    ws = await open_ws(url)
    result.connections += 1
    try:
        for frame in frames:
            await ws.send(frame)
            result.sent += 1
        for frame in frames:
            reply = await next_reply(ws)
            rid, code = expected(frame)
            if judge(reply, rid, code):
                result.answered += 1
            else:
                result.wrong.append((frame[:200], reply))
        if await probe(ws):
            result.probes_ok += 1
    except ConnectionClosed as exc:
        result.wrong.append(("connection closed", str(exc)))
    finally:
        await ws.close()


async def malformed_run(
    url: str, *, frames: int, seed: int, parallel: int = 8, closes: int = 1
) -> FrameResult:
    """The fixed cases, then ``frames`` random mutants, then ``closes`` rounds of closing cases."""
    result = FrameResult()
    rng = random.Random(seed)
    fixed = [frame for _, frame, _, _ in REPLIES]
    generator = mutants(rng)
    pool = fixed + [next(generator) for _ in range(frames)]
    batches = [pool[i : i + PER_CONNECTION] for i in range(0, len(pool), PER_CONNECTION)]
    gate = asyncio.Semaphore(parallel)

    async def run(batch: list[str]) -> None:
        async with gate:
            await connection_batch(url, batch, result)

    await asyncio.gather(*(run(b) for b in batches))
    for _ in range(closes):
        for _, what, code in CLOSES:
            result.closes_sent += 1
            if await close_code(url, what) == code:
                result.closes_right += 1
    return result
