"""A bounded randomized session on a real hub, then the invariants it must leave behind.

Twelve scripted players, each with its own ``random.Random``, play on real connections for a fixed
number of steps: games against the computer (over WebSocket and REST), challenges accepted and
declined, the matchmaking queue, moves over REST, moves left to a 0.3 s deadline, resignations,
and reconnects mid-game that recover the game's topic with ``since`` and ``epoch`` (some come back
within the grace period, some after the lobby saw them leave).  Three spectators follow the lobby
and the games, reconnecting and recovering as they go.

The session runs once for the module; each test checks one invariant of what it left: the log,
the stored games, every connection's event streams, replays of every game topic, the lobby and
the player records.  The interleaving of the players is up to the event loop, so the session is
not the same twice; every invariant must hold whatever the interleaving.  The scripted clients are
in soakwire.py (the connection), soakplayer.py and soakspectator.py.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from attrs import define, field

from hub.app import create_app
from hub.config import Config
from tests.hub.restclient import Rest, session
from tests.hub.soakplayer import Player
from tests.hub.soakspectator import Spectator
from tests.hub.soakwire import TIMEOUT, Wire, World
from tests.hub.wsclient import Frame, ws_url

pytestmark = pytest.mark.asyncio(loop_scope="module")

SEED = 20_240_617
PLAYERS = 12
SPECTATORS = 3
DEADLINE = 0.3
GRACE = 0.15
SESSION_TIMEOUT = 60.0


@define
class Session:
    """What the session left: the hub (still running), its clients, games and log records."""

    server: TestServer
    rest: Rest
    world: World
    players: list[Player]
    spectators: list[Spectator]
    errors: list[logging.LogRecord]
    barrier: dict[str, Any]  # the lobby snapshot when every player had done its steps
    games: list[dict[str, Any]] = field(factory=list)  # every stored game, whole
    replays: dict[str, list[Frame]] = field(factory=dict)  # game topic -> its events from seq 1


class Errors(logging.Handler):
    """Collects the records at ERROR or above."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record``."""
        self.records.append(record)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def soak(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Session]:
    """Run the session once; the hub stays up for the checks."""
    db: Path = tmp_path_factory.mktemp("soak") / "hub.db"
    # Twelve scripted players send faster than a person: the rate limit would only add noise.
    # A longer lobby history keeps every lobby event recoverable however busy the run gets.
    config = Config(
        db=str(db), round_deadline=DEADLINE, grace=GRACE, rate=1e6, burst=10**6, history=100_000
    )
    server = TestServer(create_app(config))
    await server.start_server()
    errors = Errors()
    logging.getLogger().addHandler(errors)
    try:
        async with session() as http:
            rest = Rest(http, server)
            rules = (await rest.ok("GET", "/api/rules"))["rules"]
            world = World(ws_url(server), rest, {k: v["rolls"] for k, v in rules.items()})
            result = await asyncio.wait_for(play(world, rest, server, errors), SESSION_TIMEOUT)
            result.games = await stored_games(rest)
            for game in result.games:
                result.replays[f"game:{game['id']}"] = await replay(world.url, game)
            yield result
    finally:
        logging.getLogger().removeHandler(errors)
        await server.close()


async def play(world: World, rest: Rest, server: TestServer, errors: Errors) -> Session:
    """The session itself."""
    rng = random.Random(SEED)
    names = [f"p{i:02d}" for i in range(PLAYERS)]
    spectators = [
        Spectator(world, random.Random(rng.getrandbits(64)), follow_games=i > 0, from_zero=i == 1)
        for i in range(SPECTATORS)
    ]
    watching = [asyncio.create_task(s.run()) for s in spectators]
    players = []
    for name in names:
        player = Player(world, name, await rest.register(name), random.Random(rng.getrandbits(64)))
        player.others = [n for n in names if n != name]
        await player.connect()
        players.append(player)
    await asyncio.gather(*(p.run() for p in players))
    lobby = await Wire.open(world.url, lambda frame: None, logs={}, logged=lambda topic: False)
    barrier = (await lobby.ok("subscribe", topic="lobby"))["snapshot"]
    await lobby.close()
    await asyncio.gather(*(p.finish() for p in players))
    # A game a player lost track of ends on its deadlines; the lobby follower sees it end.
    follower = spectators[0]
    async with asyncio.timeout(TIMEOUT):
        while follower.games:
            follower.changed.clear()
            await follower.changed.wait()
    for s in spectators:
        s.stop()
    await asyncio.gather(*watching)
    return Session(server, rest, world, players, spectators, errors.records, barrier)


async def stored_games(rest: Rest) -> list[dict[str, Any]]:
    """Every stored game, page by page, then each one whole."""
    summaries: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = "/api/games?limit=7" + (f"&before={cursor}" if cursor else "")
        page = await rest.ok("GET", query)
        summaries += page["games"]
        cursor = page["next"]
        if cursor is None:
            break
    ids = [g["id"] for g in summaries]
    assert len(ids) == len(set(ids)), "a game listed twice across pages"
    return [await rest.ok("GET", f"/api/games/{i}") for i in ids]


def wires(soak: Session) -> list[Wire]:
    """Every connection of the session."""
    return [w for c in [*soak.players, *soak.spectators] for w in c.wires]


async def test_the_session_played_every_kind_of_game_and_recovery(soak: Session) -> None:
    reasons = collections.Counter(g["reason"] for g in soak.games)
    against = collections.Counter("computer" in g["players"] for g in soak.games)
    tally = soak.world.tally
    print(dict(reasons), dict(against), dict(tally))
    assert against[True] and against[False], against
    assert reasons["won"] and reasons["timeout"], reasons
    assert tally["recovered"] and tally["spectator recovered"] and tally["away"], tally


async def test_the_hub_logs_no_error(soak: Session) -> None:
    assert [r.getMessage() for r in soak.errors] == []


async def test_no_connection_failed_or_read_an_event_out_of_seq_order(soak: Session) -> None:
    assert [w.failure for w in wires(soak) if w.failure is not None] == []


async def test_every_spectator_saw_each_topic_with_seq_rising_by_one_across_reconnects(
    soak: Session,
) -> None:
    for spectator in soak.spectators:
        assert len(spectator.wires) > 1, "every spectator reconnected at least once"
        for topic, log in spectator.logs.items():
            seqs = [f["seq"] for f in log]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (topic, seqs)
            if spectator.from_zero and topic.startswith("game:"):
                assert seqs[0] == 1, (topic, seqs)


async def test_every_stored_game_is_finished_with_a_reason_a_winner_and_a_score_that_agree(
    soak: Session,
) -> None:
    assert soak.games
    for game in soak.games:
        a, b = game["players"]
        rounds = game["rounds"]
        assert [r["round"] for r in rounds] == list(range(1, len(rounds) + 1)), game
        assert game["score"] == {p: sum(r["winner"] == p for r in rounds) for p in (a, b)}, game
        assert game["status"] == "finished" and game["finished"] is not None, game
        reason, winner, needed = game["reason"], game["winner"], (game["best_of"] + 1) // 2
        if reason in ("won", "timeout"):
            assert winner in (a, b) and game["score"][winner] == needed, game
            assert rounds[-1]["winner"] == winner, game
            # timeout: the deciding round was lost on the deadline; won: it was played out.
            assert (None in rounds[-1]["moves"].values()) == (reason == "timeout"), game
        elif reason == "resigned":
            assert winner in (a, b) and game["round"] == len(rounds) + 1, game
        else:
            assert reason in ("drawn", "abandoned") and winner is None, game
        if reason == "abandoned":
            assert set(rounds[-1]["moves"].values()) == {None}, game
        if reason != "resigned":
            assert game["round"] == len(rounds), game
        if "computer" in game["players"]:
            for r in rounds:
                opened = f"{r['moves']['computer']}:{r['nonce']}".encode()
                assert hashlib.sha256(opened).hexdigest() == r["commitment"], r


async def replay(url: str, game: dict[str, Any]) -> list[Frame]:
    """Every event of ``game``'s topic, from seq 0, as a new subscriber recovers them."""
    topic = f"game:{game['id']}"
    got: list[Frame] = []
    arrived = asyncio.Event()

    def on_event(frame: Frame) -> None:
        got.append(frame)
        arrived.set()

    wire = await Wire.open(url, on_event, logs={}, logged=lambda t: False)
    try:
        data = await wire.ok("subscribe", topic=topic, since=0, epoch=game["epoch"])
        assert data["recovered"] and data["snapshot"] is None, data
        async with asyncio.timeout(TIMEOUT):
            while len(got) < data["seq"]:
                arrived.clear()
                await arrived.wait()
    finally:
        await wire.close()
    assert [f["seq"] for f in got] == list(range(1, data["seq"] + 1)), got
    assert wire.failure is None
    return got


def essentials(r: dict[str, Any]) -> dict[str, Any]:
    """What a round event and a stored round must agree on."""
    return {k: r.get(k) for k in ("round", "moves", "winner", "nonce")}


async def test_replaying_each_game_topic_from_zero_gives_its_stored_rounds_and_end(
    soak: Session,
) -> None:
    for game in soak.games:
        events = soak.replays[f"game:{game['id']}"]
        names = [e["event"] for e in events]
        assert names[0] == "round_open" and names[-1] in ("game_over", "round_open"), names
        played = [e["data"] for e in events if e["event"] == "round"]
        assert [essentials(r) for r in played] == [essentials(r) for r in game["rounds"]], game
        if played:
            assert played[-1]["score"] == game["score"], game
        over = [e["data"] for e in events if e["event"] == "game_over"]
        ends = ("winner", "reason", "score", "rating_change")
        assert over == [{k: game[k] for k in ends if k in game}], (game["id"], over)


async def test_every_event_seen_live_is_the_event_replayed_at_its_seq(soak: Session) -> None:
    replays = soak.replays
    lobby: dict[int, Frame] = {}  # every spectator read the same lobby events
    for client in [*soak.players, *soak.spectators]:
        for topic, log in client.logs.items():
            for frame in log:
                if topic == "lobby":
                    assert lobby.setdefault(frame["seq"], frame) == frame, frame
                else:
                    assert frame == replays[topic][frame["seq"] - 1], (topic, frame)


async def test_no_lobby_snapshot_lists_a_live_game_whose_players_are_not_playing(
    soak: Session,
) -> None:
    snapshots = [soak.barrier, *soak.world.snapshots]
    for snapshot in snapshots:
        statuses = {p["name"]: p["status"] for p in snapshot["players"]}
        for game in snapshot["games"]:
            assert game["status"] == "playing", game
            for seat in game["players"]:
                assert statuses.get(seat, "playing") == "playing", (seat, snapshot)
    # When every player had done its steps no game was starting: seats and statuses agree both
    # ways, for the players listed.
    seated = {p for g in soak.barrier["games"] for p in g["players"]}
    for p in soak.barrier["players"]:
        assert (p["status"] == "playing") == (p["name"] in seated), (p, soak.barrier)


async def test_the_lobby_events_rebuild_every_later_lobby_snapshot(soak: Session) -> None:
    for spectator in soak.spectators:
        assert spectator.mismatches == []


async def test_player_records_add_up_to_their_stored_games(soak: Session) -> None:
    for player in soak.players:
        record = await soak.rest.ok("GET", f"/api/players/{player.name}")
        mine = [g for g in soak.games if player.name in g["players"]]
        assert record["games"] == record["wins"] + record["losses"] + record["draws"], record
        assert record["games"] == len(mine), record
        assert record["wins"] == sum(g["winner"] == player.name for g in mine), record
        assert record["draws"] == sum(g["winner"] is None for g in mine), record
        rounds = [r for g in mine for r in g["rounds"]]
        assert record["rounds_won"] == sum(r["winner"] == player.name for r in rounds), record
        lost = sum(r["winner"] not in (None, player.name) for r in rounds)
        assert record["rounds_lost"] == lost, record
