"""The reference for ``moves.py``: a bare aiohttp server that stores every round durably.

It is the floor a hub's move path is measured against (ANCHORS, "durable moves"): aiohttp with
``compress=False``, SQLite in WAL mode with ``synchronous=NORMAL``, and **group commit** — every
save waiting at the moment goes to the writer thread in one hop and commits in one transaction
(a savepoint per save, so one failing save fails alone); nobody is answered before the commit.

It speaks just enough of the hub's wire protocol (docs/protocol.md) for the benchmark's players,
and does what the protocol asks of every move, no more:

- ``auth`` replies ``{"player": ...}`` (any token is taken: identity is not what is measured);
- ``play`` against the computer stores a game and its first event, replies ``{"game": id}``, then
  sends ``round_open``;
- ``move`` resolves the round against a committed random computer roll
  (``sha256("<roll>:<nonce>")``, like the hub), stores the round, the game's score and the
  move's three events (``moved``, ``round``, ``round_open`` or ``game_over``: the game topic's
  history, which the protocol keeps whole; in one row, as the hub does) in one save, then sends
  those three events and the reply ``{"round": n}``.

Each frame is serialized once and sent with aiohttp's ``send_frame``.  Game ids sort by the time
they were made, as the hub's do, so a batch's new rows share index pages.  ``--lean`` is the
reference as it was until 2026-12-06: no ``moved`` event, no event rows, random ids; less than
the protocol asks of a move (``moves.py`` runs it as ``lean`` and ``lean-pg``, for comparison with
earlier runs).  Run: ``python benchmarks/moves_reference.py --port P --db FILE [--lean]``.

It runs on uvloop when that is installed, as the hub does by default; ``--loop asyncio`` runs it on
asyncio's own loop.  Its process is tuned as the hub's serving process is: it hands the GIL to a
waiting thread, its writer's, after 0.5 ms instead of CPython's 5 (``hub.server.tune_switching``),
and collects the youngest generation as rarely (``hub.server.tune_gc``, since 2026-12-06 09:40:
the floor is a bare server as well tuned as the hub, not one with CPython's defaults).

With ``--pg URL --schema NAME`` it stores on PostgreSQL instead (the floor ``hub-pg`` is measured
against): asyncpg, one connection, the same group commit — every save waiting at the moment in one
transaction, each table's rows of the batch in one statement over array parameters (with
``--lean`` in one ``executemany``), the games inserted first; when a batch fails, each of its
saves is tried alone.  The batchers and tables are in ``moves_reference_store.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import secrets
import signal
import time
from typing import Any

from aiohttp import WSMsgType, web
from benchlib import run_on_loop
from moves_reference_store import Batcher, GroupCommit, PgGroupCommit, Statement

from hub.server import tune_gc, tune_switching

ROLLS = ("Rock", "Paper", "Scissors")
BEATS = {"Rock": "Scissors", "Paper": "Rock", "Scissors": "Paper"}

# ``--lean``: the reference as it was until 2026-12-06: no ``moved`` event and no event rows
# stored (less than the protocol asks of a move), random game ids.
LEAN = False
WRITER: web.AppKey[Batcher] = web.AppKey("writer", object)  # type: ignore[arg-type]


def dump(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class Game:
    __slots__ = ("best_of", "commitment", "id", "nonce", "player", "roll", "round", "score")

    def __init__(self, player: str, best_of: int) -> None:
        self.id = secrets.token_urlsafe(9) if LEAN else sortable_id()
        self.player = player
        self.best_of = best_of
        self.round = 1
        self.score = [0, 0]
        self.roll = self.nonce = self.commitment = ""
        self.commit()

    def commit(self) -> None:
        """The computer's roll for the open round, fixed and committed before any move."""
        self.roll = secrets.choice(ROLLS)
        self.nonce = secrets.token_hex(16)
        self.commitment = hashlib.sha256(f"{self.roll}:{self.nonce}".encode()).hexdigest()


def sortable_id() -> str:
    """A game id that sorts by the time it was made (hex milliseconds, then random): a batch's
    new rows land on the same few index pages, not one page a game (the hub's ids do too)."""
    return f"{time.time_ns() // 1_000_000:011x}{secrets.token_hex(4)}"


def now_ms() -> int:
    return int(time.time() * 1000)


def event(topic: str, seq: int, name: str, data: object) -> bytes:
    ts = now_ms()
    return dump(
        {"type": "event", "topic": topic, "seq": seq, "ts": ts, "event": name, "data": data}
    )


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, max_msg_size=65537)
    await ws.prepare(request)
    writer = request.app[WRITER]
    send = ws.send_frame
    await send(dump({"type": "welcome", "protocol": 1, "server": "reference", "session": "s"}),
               WSMsgType.TEXT)  # fmt: skip
    player = "anon"
    games: dict[str, tuple[Game, list[int]]] = {}
    async for msg in ws:
        if msg.type is not WSMsgType.TEXT:
            break
        req = json.loads(msg.data)
        rid, op = req.get("id"), req.get("type")
        if op == "auth":
            player = secrets.token_hex(4)
            await send(dump({"type": "reply", "id": rid, "ok": True, "data": {"player": player}}),
                       WSMsgType.TEXT)  # fmt: skip
        elif op == "play":
            game = Game(player, int(req.get("best_of", 5)))
            seq = [0]
            games[game.id] = (game, seq)
            topic = f"game:{game.id}"
            first = {"round": 1, "deadline": None, "commitment": game.commitment}
            opened = event(topic, 1, "round_open", first)
            created: list[Statement] = [("game", (game.id, player, game.best_of, now_ms()))]
            if not LEAN:
                created.append(("events", (game.id, 1, now_ms(), "round_open", opened.decode())))
            await writer.save(created)
            await send(dump({"type": "reply", "id": rid, "ok": True, "data": {"game": game.id}}),
                       WSMsgType.TEXT)  # fmt: skip
            seq[0] += 1
            await send(opened, WSMsgType.TEXT)
        elif op == "move":
            game, seq = games[req["game"]]
            mine, theirs = req["roll"], game.roll
            n = game.round
            winner = None
            if BEATS[mine] == theirs:
                winner, game.score[0] = game.player, game.score[0] + 1
            elif BEATS[theirs] == mine:
                winner, game.score[1] = "computer", game.score[1] + 1
            need = game.best_of // 2 + 1
            over = max(game.score) >= need
            nonce = game.nonce
            if not over:
                game.round += 1
                game.commit()
            topic = f"game:{game.id}"
            score = {game.player: game.score[0], "computer": game.score[1]}
            frames: list[bytes] = []
            if not LEAN:
                seq[0] += 1
                frames.append(event(topic, seq[0], "moved", {"round": n, "player": game.player}))
            seq[0] += 1
            frames.append(event(topic, seq[0], "round", {
                "round": n, "moves": {game.player: mine, "computer": theirs},
                "winner": winner, "score": score, "nonce": nonce,
            }))  # fmt: skip
            seq[0] += 1
            if over:
                result = {"winner": winner, "reason": "won", "score": score}
                frames.append(event(topic, seq[0], "game_over", result))
                del games[game.id]
            else:
                frames.append(event(topic, seq[0], "round_open",
                                    {"round": game.round, "deadline": None,
                                     "commitment": game.commitment}))  # fmt: skip
            save: list[Statement] = [
                ("round", (game.id, n, mine, theirs, nonce, winner)),
                ("score", (game.score[0], game.score[1], game.round,
                           "finished" if over else "playing", game.id)),
            ]  # fmt: skip
            if not LEAN:  # the move's three events in one row, as the hub stores them
                names = "moved,round," + ("game_over" if over else "round_open")
                text = b"\n".join(frames).decode()
                save.append(("events", (game.id, seq[0] - 2, now_ms(), names, text)))
            await writer.save(save)
            for frame in frames:
                await send(frame, WSMsgType.TEXT)
            await send(dump({"type": "reply", "id": rid, "ok": True, "data": {"round": n}}),
                       WSMsgType.TEXT)  # fmt: skip
        else:
            await send(dump({"type": "reply", "id": rid, "ok": False,
                             "error": {"code": "bad_request", "message": "unknown op"}}),
                       WSMsgType.TEXT)  # fmt: skip
    return ws


async def main(port: int, db: str | None, pg: str | None, schema: str) -> None:
    app = web.Application()

    async def writer_ctx(app: web.Application) -> Any:
        if pg is not None:
            app[WRITER] = await PgGroupCommit.open(pg, schema, lean=LEAN)
        else:
            assert db is not None
            app[WRITER] = GroupCommit(db)
        yield
        await app[WRITER].close()

    app.cleanup_ctx.append(writer_ctx)
    app.router.add_get("/ws", websocket)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    tune_switching()  # the GIL handed over as the hub's serving process hands it
    tune_gc()  # and the collector as rare
    parser = argparse.ArgumentParser(description="durable-move reference server")
    parser.add_argument("--port", type=int, required=True)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", help="a SQLite file")
    where.add_argument("--pg", help="a PostgreSQL URL")
    parser.add_argument("--schema", default="moves_reference", help="the PostgreSQL schema")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default=None,
                        help="the event loop (default: uvloop when installed)")  # fmt: skip
    parser.add_argument("--lean", action="store_true",
                        help="no moved event, no event rows, random ids (the reference before"
                        " 2026-12-06)")  # fmt: skip
    args = parser.parse_args()
    LEAN = args.lean
    run_on_loop(main(args.port, args.db, args.pg, args.schema), args.loop)
