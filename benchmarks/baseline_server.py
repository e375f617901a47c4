"""The reference for ``fanout.py``: a bare aiohttp serialize-once broadcast server.

It mirrors the ANCHORS row "aiohttp, event serialized once, ``await ws.send_frame(data_bytes,
WSMsgType.TEXT)`` in a loop" and speaks just enough of the hub's wire protocol for the benchmark:

- ``{"type":"subscribe","id":..,"topic":"lobby"}`` registers the connection as a subscriber and
  replies ``{"seq": latest}``; ``unsubscribe`` removes it;
- any other request (the driver's ``move``) builds one lobby event shaped like the hub's
  ``game_updated`` (~256 bytes), serializes it once, sends the same bytes to every subscriber in a
  plain ``await ws.send_frame`` loop, then replies to the driver.

Run: ``python benchmarks/baseline_server.py --port P [--loop asyncio]`` (uvloop by default when
installed, as the hub).  SIGINT/SIGTERM stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time

from aiohttp import WSMsgType, web
from benchlib import run_on_loop

SUBSCRIBERS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("subscribers", set)
STATE: web.AppKey[dict[str, int]] = web.AppKey("state", dict)


def dump(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def game_summary(n: int) -> dict[str, object]:
    """A summary shaped like the hub's (docs/protocol.md, WebSocket), so the frame is ~256 bytes."""
    return {
        "id": "g7Qx2mK9pLw4",
        "rules": "rps15",
        "best_of": 15,
        "players": ["benchdrv00", "computer"],
        "status": "playing",
        "reason": None,
        "winner": None,
        "score": {"benchdrv00": n % 8, "computer": (n // 8) % 8},
        "round": n % 15 + 1,
        "started": "2025-01-01T12:00:00.000Z",
        "finished": None,
    }


async def broadcast(app: web.Application) -> int:
    state = app[STATE]
    state["seq"] += 1
    seq = state["seq"]
    ts = int(time.time() * 1000)
    data = dump(
        {
            "type": "event",
            "topic": "lobby",
            "seq": seq,
            "ts": ts,
            "event": "game_updated",
            "data": game_summary(seq),
        }
    )
    for ws in list(app[SUBSCRIBERS]):
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_frame(data, WSMsgType.TEXT)
    return seq


async def websocket(request: web.Request) -> web.WebSocketResponse:
    app = request.app
    ws = web.WebSocketResponse(compress=False, max_msg_size=65536)
    await ws.prepare(request)
    await ws.send_frame(
        dump({"type": "welcome", "protocol": 1, "server": "baseline", "session": "-"}),
        WSMsgType.TEXT,
    )
    subscribers = app[SUBSCRIBERS]
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            request_ = json.loads(msg.data)
            op, rid = request_.get("type"), request_.get("id")
            if op == "subscribe":
                subscribers.add(ws)
                data: dict[str, object] = {"topic": "lobby", "seq": app[STATE]["seq"]}
            elif op == "unsubscribe":
                subscribers.discard(ws)
                data = {}
            else:
                data = {"seq": await broadcast(app)}
            await ws.send_frame(
                dump({"type": "reply", "id": rid, "ok": True, "data": data}), WSMsgType.TEXT
            )
    finally:
        subscribers.discard(ws)
    return ws


async def main(port: int) -> None:
    app = web.Application()
    app[STATE] = {"seq": 0}
    app[SUBSCRIBERS] = set()
    app.router.add_get("/ws", websocket)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"baseline serving on http://127.0.0.1:{port}/", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default=None,
                        help="the event loop (default: uvloop when installed)")  # fmt: skip
    args = parser.parse_args()
    run_on_loop(main(args.port), args.loop)
