"""SIGKILL during a burst of moves from many players at once, so that saves are in flight in
batches (group commit) when the hub dies, on SQLite and on PostgreSQL.

Every move answered before a kill is stored after the restart (``crash_run`` looks each one up),
and no round is half-stored: each game's row (its round and score) agrees with its stored rounds
and with the events of its topic, read straight from the storage the hub used.
"""

from __future__ import annotations

from pathlib import Path

from protocol.game import Game, Status
from storage.base import Storage
from storage.open import open_storage
from tests.postgres import fresh_schema, schema_url
from tests.reliability.crash import CrashResult, crash_run
from tests.reliability.harness import Hubs

KILLS = 3
PLAYERS = 8  # each over WebSocket and over REST: 16 players moving flat out


async def all_games(storage: Storage) -> list[Game]:
    """Every stored game, page by page."""
    games: list[Game] = []
    before = None
    while True:
        page = await storage.games(player=None, status=None, limit=100, before=before)
        games += page.games
        if page.next is None:
            return games
        before = page.next


async def assert_whole(storage: Storage, game: Game) -> None:
    """The game's row, its rounds and its events tell one story, with nothing half-stored."""
    a, b = game.players
    numbers = [r.round for r in game.rounds]
    assert numbers == list(range(1, len(numbers) + 1)), game.id
    wins = {p: sum(r.winner == p for r in game.rounds) for p in (a, b)}
    assert game.score == wins, game.id
    played = len(game.rounds)
    assert game.round == (played if game.status is Status.FINISHED else played + 1), game.id
    events = await storage.events(game.id, 0)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), game.id
    assert await storage.last_seq(game.id) == len(events), game.id
    rounds = [e.data for e in events if e.event == "round"]
    assert [(d["round"], d["moves"], d["winner"]) for d in rounds] == [
        (r.round, r.moves, r.winner) for r in game.rounds
    ], game.id
    opened = [e.data["round"] for e in events if e.event == "round_open"]
    assert opened == list(range(1, game.round + 1)), game.id
    assert (events[-1].event == "game_over") == (game.status is Status.FINISHED), game.id


async def check(result: CrashResult, db: str) -> None:
    """What every crash run must show, then the stored games, each whole."""
    assert result.kills == KILLS
    assert result.acked["ws"] > 0 and result.acked["rest"] > 0, result
    assert result.lost_moves == []
    storage = await open_storage(db)
    try:
        games = await all_games(storage)
        assert len(games) >= result.games
        for game in games:
            await assert_whole(storage, game)
    finally:
        await storage.close()


async def test_no_move_answered_before_a_kill_is_lost_nor_half_stored_on_sqlite(
    hubs: Hubs, tmp_path: Path
) -> None:
    db = str(tmp_path / "hub.db")
    result = await crash_run(
        hubs, db, kills=KILLS, players=PLAYERS, moves_between=(40, 120), seed=3,
        backend="sqlite",
    )  # fmt: skip
    await check(result, db)


async def test_no_move_answered_before_a_kill_is_lost_nor_half_stored_on_postgresql(
    hubs: Hubs,
) -> None:
    async with fresh_schema() as schema:
        db = schema_url(schema)
        result = await crash_run(
            hubs, db, kills=KILLS, players=PLAYERS, moves_between=(40, 120), seed=4,
            backend="postgresql",
        )  # fmt: skip
        await check(result, db)
