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
asyncio's own loop.  Like the hub's serving process (``hub.server.tune_switching``) it hands the
GIL to a waiting thread, its writer's, after 0.5 ms instead of CPython's 5.

With ``--pg URL --schema NAME`` it stores on PostgreSQL instead (the floor ``hub-pg`` is measured
against): asyncpg, one connection, the same group commit — every save waiting at the moment in one
transaction, each table's rows of the batch in one ``executemany`` (asyncpg sends them in one
go), the games inserted first; when a batch fails, each of its saves is tried alone.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import secrets
import signal
import sqlite3
import time
from typing import Any

import asyncpg
from aiohttp import WSMsgType, web
from benchlib import run_on_loop

from hub.server import tune_switching

ROLLS = ("Rock", "Paper", "Scissors")
BEATS = {"Rock": "Scissors", "Paper": "Rock", "Scissors": "Paper"}

# ``--lean``: the reference as it was until 2026-12-06: no ``moved`` event and no event rows
# stored (less than the protocol asks of a move), random game ids.
LEAN = False
WRITER: web.AppKey[Batcher] = web.AppKey("writer", object)  # type: ignore[arg-type]


def dump(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


SCHEMA = """
CREATE TABLE IF NOT EXISTS games (
    id TEXT PRIMARY KEY, player TEXT NOT NULL, best_of INTEGER NOT NULL,
    score_player INTEGER NOT NULL, score_computer INTEGER NOT NULL, round INTEGER NOT NULL,
    status TEXT NOT NULL, started INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rounds (
    game TEXT NOT NULL, round INTEGER NOT NULL, player_roll TEXT NOT NULL,
    computer_roll TEXT NOT NULL, nonce TEXT NOT NULL, winner TEXT,
    PRIMARY KEY (game, round)
);
CREATE TABLE IF NOT EXISTS events (
    game TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, names TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (game, seq)
);
"""

# A save is a list of statements by name, each with its parameters; the SQL per database.
Statement = tuple[str, tuple[Any, ...]]
SQLITE = {
    "game": "INSERT INTO games VALUES (?, ?, ?, 0, 0, 1, 'playing', ?)",
    "round": "INSERT INTO rounds VALUES (?, ?, ?, ?, ?, ?)",
    "score": "UPDATE games SET score_player = ?, score_computer = ?, round = ?, status = ? "
    "WHERE id = ?",
    "events": "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
}
POSTGRES = {
    "game": "INSERT INTO games VALUES ($1, $2, $3, 0, 0, 1, 'playing', $4)",
    "round": "INSERT INTO rounds VALUES ($1, $2, $3, $4, $5, $6)",
    "score": "UPDATE games SET score_player = $1, score_computer = $2, round = $3, status = $4 "
    "WHERE id = $5",
    "events": "INSERT INTO events VALUES ($1, $2, $3, $4, $5)",
}
# Each table's rows of a batch in one statement, from array parameters (a column each): what
# PostgreSQL does a row is then a row's work, not a statement's (``executemany`` runs the
# statement once a row; ``--lean`` still does).  The update names its ids as an array too, so
# the primary key answers it even in a plan made while ``games`` was small.
POSTGRES_ARRAYS = {
    "game": "INSERT INTO games SELECT v.id, v.player, v.best_of, 0, 0, 1, 'playing', v.started"
    " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])"
    " AS v(id, player, best_of, started)",
    "round": "INSERT INTO rounds SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[],"
    " $4::text[], $5::text[], $6::text[])",
    "score": "UPDATE games AS g SET score_player = v.a, score_computer = v.b, round = v.r,"
    " status = v.s FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])"
    " AS v(a, b, r, s, id) WHERE g.id = ANY($5::text[]) AND g.id = v.id",
    "events": "INSERT INTO events"
    " SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])",
}
PG_SCHEMA = SCHEMA.replace("INTEGER", "BIGINT")


class Batcher:
    """Group commit: whatever waits when the last batch is done is stored as the next batch
    (``_store``: one outcome a save, None when it is committed); nobody is answered before."""

    def __init__(self) -> None:
        self._waiting: list[tuple[list[Statement], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run())
        self.batches = 0
        self.saves = 0

    async def save(self, statements: list[Statement]) -> None:
        """Store ``statements`` as one unit; returns once they are committed."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((statements, future))
        self._wake.set()
        await future

    async def _store(self, units: list[list[Statement]]) -> list[BaseException | None]:
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._waiting = self._waiting, []
            if not batch:
                continue
            results = await self._store([s for s, _ in batch])
            self.batches += 1
            self.saves += len(batch)
            for (_, future), error in zip(batch, results, strict=True):
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class GroupCommit(Batcher):
    """SQLite: one writer thread; a batch is one hop to it and one transaction, a savepoint a
    save (one failing fails alone)."""

    def __init__(self, path: str) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="writer")
        self._db = self._pool.submit(self._open, path).result()
        super().__init__()

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        return db

    async def _store(self, units: list[list[Statement]]) -> list[BaseException | None]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._write, units)

    def _write(self, units: list[list[Statement]]) -> list[BaseException | None]:
        db = self._db
        results: list[BaseException | None] = []
        db.execute("BEGIN IMMEDIATE")
        for statements in units:
            db.execute("SAVEPOINT s")
            try:
                for name, params in statements:
                    db.execute(SQLITE[name], params)
            except sqlite3.Error as exc:
                db.execute("ROLLBACK TO s")
                results.append(exc)
            else:
                results.append(None)
            db.execute("RELEASE s")
        db.execute("COMMIT")
        return results

    async def close(self) -> None:
        await super().close()
        self._pool.submit(self._db.close).result()
        self._pool.shutdown()


class PgGroupCommit(Batcher):
    """PostgreSQL: one connection; a batch is one transaction, each table's rows in one statement
    over array parameters (``executemany`` with ``--lean``), the games inserted first; when it
    fails, each save is tried alone."""

    def __init__(self, db: asyncpg.Connection) -> None:
        self._db = db
        super().__init__()

    @classmethod
    async def open(cls, url: str, schema: str) -> PgGroupCommit:
        db = await asyncpg.connect(url)
        await db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await db.execute(f'SET search_path TO "{schema}"')
        await db.execute(PG_SCHEMA)
        if not LEAN:  # as the hub's batch connection: no plan reads a table whole
            await db.execute("SET enable_seqscan = off")
        return cls(db)

    async def _store(self, units: list[list[Statement]]) -> list[BaseException | None]:
        try:
            await self._write(units)
            return [None] * len(units)
        except asyncpg.PostgresError:
            results: list[BaseException | None] = []
            for statements in units:
                try:
                    await self._write([statements])
                    results.append(None)
                except asyncpg.PostgresError as exc:
                    results.append(exc)
            return results

    async def _write(self, units: list[list[Statement]]) -> None:
        rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in POSTGRES}
        for statements in units:
            for name, params in statements:
                rows[name].append(params)
        async with self._db.transaction():
            for name, table_rows in rows.items():
                if not table_rows:
                    continue
                if LEAN:
                    await self._db.executemany(POSTGRES[name], table_rows)
                else:
                    await self._db.execute(POSTGRES_ARRAYS[name], *zip(*table_rows, strict=True))

    async def close(self) -> None:
        await super().close()
        await self._db.close()


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
            app[WRITER] = await PgGroupCommit.open(pg, schema)
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
