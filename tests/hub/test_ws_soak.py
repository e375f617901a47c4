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
not the same twice; every invariant must hold whatever the interleaving.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import itertools
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from attrs import define, field
from websockets.asyncio.client import ClientConnection, connect

from hub.app import create_app
from hub.config import Config
from tests.hub.restclient import Rest, session
from tests.hub.wsclient import Frame, ws_url

pytestmark = pytest.mark.asyncio(loop_scope="module")

SEED = 20_240_617
PLAYERS = 12
STEPS = 18  # per player
SPECTATORS = 3
DEADLINE = 0.3
GRACE = 0.15
TIMEOUT = 5.0  # for any one reply or event; rounds resolve within DEADLINE
SESSION_TIMEOUT = 60.0
ALLOWED = {  # the refusals a scripted request may meet in a busy lobby
    "play": {"conflict", "not_found"},
    "accept": {"conflict", "not_found"},
    "decline": {"not_found"},
    "move": {"conflict"},
    "resign": {"conflict"},
}


class Refused(Exception):
    """A scripted request was refused with one of the codes it may meet."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Wire:
    """One connection and its reader task: replies resolve requests; events are checked, logged.

    The reader applies what a reply announces (the seq a topic continues from) before it reads
    the next frame, so a recovery's catch-up is checked against the right base.
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        ws: ClientConnection,
        on_event: Callable[[Frame], None],
        logs: dict[str, list[Frame]],
        *,
        logged: Callable[[str], bool],
        on_reply: Callable[[str, dict[str, Any], Frame], None] | None = None,
    ) -> None:
        self.ws = ws
        self.on_event = on_event
        self.on_reply = on_reply
        self.logs = logs  # kept across reconnects by the owner
        self.logged = logged
        self.seqs: dict[str, int] = {}  # the last seq of each topic on this connection
        self.epochs: dict[str, str] = {}
        self.pending: dict[int, tuple[str, dict[str, Any], asyncio.Future[Frame]]] = {}
        self.failure: BaseException | None = None
        self.reader = asyncio.create_task(self._read(), name="soak-reader")

    @classmethod
    async def open(cls, url: str, on_event: Callable[[Frame], None], **kwargs: Any) -> Wire:
        """Connect and read the welcome frame."""
        ws = await asyncio.wait_for(connect(url, max_queue=None), TIMEOUT)
        welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert welcome["type"] == "welcome", welcome
        return cls(ws, on_event, **kwargs)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:  # ends when the connection closes normally
                frame = json.loads(raw)
                if frame["type"] == "reply":
                    self._reply(frame)
                else:
                    self._event(frame)
        except Exception as exc:
            self.failure = exc
        for _, _, future in self.pending.values():
            if not future.done():
                future.set_exception(self.failure or ConnectionError("connection closed"))

    def _reply(self, frame: Frame) -> None:
        op, fields, future = self.pending.pop(frame["id"])
        if frame["ok"]:
            data = frame["data"]
            if op == "auth":
                for sub in data["subscribed"]:
                    self._base(sub["topic"], sub["seq"], sub["epoch"], recovered=False)
            elif op == "subscribe":
                since = fields["since"] if data["recovered"] else data["seq"]
                self._base(data["topic"], since, data["epoch"], recovered=data["recovered"])
        if self.on_reply is not None:
            self.on_reply(op, fields, frame)
        future.set_result(frame)

    def _base(self, topic: str, seq: int, epoch: str, *, recovered: bool) -> None:
        """The topic goes on after ``seq``: a recovery rewinds the log, a snapshot never skips."""
        self.seqs[topic], self.epochs[topic] = seq, epoch
        log = self.logs.get(topic)
        if not log or not self.logged(topic):
            return
        if recovered:
            log[:] = [f for f in log if f["seq"] <= seq]
        if log:
            assert log[-1]["seq"] == seq, f"{topic}: continues after {seq}, not {log[-1]['seq']}"

    def _event(self, frame: Frame) -> None:
        topic = frame["topic"]
        last = self.seqs.get(topic, 0)
        assert frame["seq"] == last + 1, f"{topic}: seq {frame['seq']} after {last}"
        self.seqs[topic] = frame["seq"]
        if self.logged(topic):
            self.logs.setdefault(topic, []).append(frame)
        self.on_event(frame)

    async def request(self, op: str, **fields: Any) -> Frame:
        """Send a request and wait for its reply."""
        if self.failure is not None:
            raise self.failure
        rid = next(self._ids)
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self.pending[rid] = (op, fields, future)
        await self.ws.send(json.dumps({"type": op, "id": rid, **fields}))
        async with asyncio.timeout(TIMEOUT):
            return await future

    async def ok(self, op: str, **fields: Any) -> Any:
        """A request that succeeds or meets a refusal allowed for ``op`` (raised as ``Refused``)."""
        reply = await self.request(op, **fields)
        if reply["ok"]:
            return reply["data"]
        code = reply["error"]["code"]
        assert code in ALLOWED.get(op, set()), (op, fields, reply)
        raise Refused(code)

    async def close(self) -> None:
        """Close and wait for the reader to finish."""
        await self.ws.close()
        await asyncio.wait_for(self.reader, TIMEOUT)


@define
class World:
    """What every scripted client shares: the hub's URL, REST, rolls and the tallies."""

    url: str
    rest: Rest
    rolls: dict[str, list[str]]
    tally: collections.Counter[str] = field(factory=collections.Counter)
    snapshots: list[dict[str, Any]] = field(factory=list)  # every lobby snapshot seen


class Player:
    """A scripted player: one step at a time, each decided by its own random generator."""

    def __init__(self, world: World, name: str, token: str, rng: random.Random) -> None:
        self.world, self.name, self.token, self.rng = world, name, token, rng
        self.topic = f"player:{name}"
        self.lazy = (
            0.45 if rng.random() < 0.3 else 0.1
        )  # how often it leaves a round to the deadline
        self.others: list[str] = []
        self.game: dict[str, Any] | None = None  # the live game: id, epoch, rules
        self.round: int | None = None  # its open round
        self.moved: set[tuple[str, int]] = set()
        self.over: set[str] = set()  # games seen to end
        self.challenges: dict[str, str] = {}  # open challenges to this player: id -> from
        self.left = False  # the lobby said this player left (while it was away)
        self.changed = asyncio.Event()
        self.logs: dict[str, list[Frame]] = {}
        self.wires: list[Wire] = []

    @property
    def wire(self) -> Wire:
        """The current connection."""
        return self.wires[-1]

    async def open(self) -> Wire:
        """A new connection (not yet authenticated)."""
        wire = await Wire.open(
            self.world.url,
            self.on_event,
            logs=self.logs,
            logged=lambda topic: topic.startswith("game:"),
        )
        self.wires.append(wire)
        return wire

    async def connect(self) -> None:
        """The first connection."""
        await (await self.open()).ok("auth", token=self.token)

    def on_event(self, frame: Frame) -> None:
        """Follow the player's own topic, its game's topic, and (while away) the lobby."""
        topic, event, data = frame["topic"], frame["event"], frame["data"]
        if topic == self.topic:
            if event == "challenge":
                self.challenges[data["id"]] = data["from"]
            elif event == "challenge_withdrawn":
                self.challenges.pop(data["id"], None)
            elif event == "game_started" and data["id"] not in self.over:
                self.adopt(data)
        elif self.game is not None and topic == f"game:{self.game['id']}":
            if event == "round_open":
                self.round = data["round"]
            elif event == "game_over":
                self.over.add(self.game["id"])
                self.game, self.round = None, None
        elif topic == "lobby" and event == "player_left" and data["name"] == self.name:
            self.left = True
        self.changed.set()

    def adopt(self, game: dict[str, Any]) -> None:
        """Take ``game`` (as the hub shows it) as the live one, unless it is already known."""
        if self.game is not None and self.game["id"] == game["id"]:
            return
        self.game = {k: game[k] for k in ("id", "epoch", "rules")}
        self.round = game["round"]

    async def wait(self, predicate: Callable[[], bool], within: float = TIMEOUT) -> bool:
        """Wait until ``predicate`` holds; False when ``within`` seconds pass first."""
        try:
            async with asyncio.timeout(within):
                while not predicate():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """The player's steps."""
        for _ in range(STEPS):
            try:
                if self.game is not None:
                    await self.play_round()
                else:
                    await self.idle_step()
            except Refused as refused:
                self.world.tally[f"refused {refused.code}"] += 1

    async def idle_step(self) -> None:
        """One action between games."""
        rng = self.rng
        actions = ["computer", "challenge", "queue", "rest", "reconnect"]
        weights = [3, 3, 2, 1, 1]
        if self.challenges:
            actions.append("answer")
            weights.append(6)
        action = rng.choices(actions, weights)[0]
        self.world.tally[action] += 1
        wire = self.wire
        if action == "computer":
            rules = rng.choice(list(self.world.rolls))
            await wire.ok("play", opponent="computer", best_of=rng.choice([1, 3]), rules=rules)
        elif action == "challenge":
            await wire.ok("play", opponent=rng.choice(self.others), best_of=rng.choice([1, 3]))
            # Give the other side a moment to answer; an unanswered challenge is withdrawn.
            if not await self.wait(lambda: self.game is not None, 1.0):
                await wire.ok("cancel")
        elif action == "queue":
            await wire.ok("play", opponent="*", best_of=1, rules="rps3")
            if not await self.wait(lambda: self.game is not None, 0.5):
                await wire.ok("cancel")
        elif action == "rest":
            status, game = await self.world.rest.call(
                "POST", "/api/games", {"best_of": rng.choice([1, 3])}, token=self.token
            )
            assert status in (201, 409), (status, game)
            if status == 201:  # the seat's connections hear of it on the player's topic
                assert await self.wait(lambda: game["id"] in self.over or self.game is not None)
        elif action == "reconnect":
            await self.reconnect(away=rng.random() < 0.5)
        else:
            challenge = rng.choice(sorted(self.challenges))
            del self.challenges[challenge]
            if rng.random() < 0.7:
                await wire.ok("accept", challenge=challenge)
            else:
                await wire.ok("decline", challenge=challenge)

    async def play_round(self) -> None:
        """One step in the live game: move, move late, move over REST, reconnect or resign."""
        assert self.game is not None
        game_id, n = self.game["id"], self.round
        assert n is not None

        def moved_on() -> bool:
            return self.game is None or self.game["id"] != game_id or self.round != n

        if (game_id, n) in self.moved:
            assert await self.wait(moved_on), f"{self.name}: round {n} of {game_id} never ended"
            return
        roll = self.rng.choice(self.world.rolls[self.game["rules"]])
        r = self.rng.random()
        if r < self.lazy:
            self.world.tally["late"] += 1
            self.moved.add((game_id, n))  # it will not move in this round
        elif r < self.lazy + 0.1:
            await self.reconnect(away=self.rng.random() < 0.4)
        elif r < self.lazy + 0.2:
            self.world.tally["rest move"] += 1
            await self.rest_move(game_id, n, roll)
        elif r < self.lazy + 0.23:
            self.world.tally["resign"] += 1
            await self.refresh_after(self.wire.ok("resign", game=game_id), game_id)
        else:
            self.moved.add((game_id, n))
            await self.refresh_after(
                self.wire.ok("move", game=game_id, roll=roll, round=n), game_id
            )

    async def rest_move(self, game_id: str, n: int, roll: str) -> None:
        """Move over REST; the result comes to the seat's connection as events all the same."""
        self.moved.add((game_id, n))
        status, answer = await self.world.rest.call(
            "POST", f"/api/games/{game_id}/moves", {"roll": roll, "round": n}, token=self.token
        )
        assert status in (200, 409), (status, answer)
        if status == 409:
            self.world.tally["refused conflict"] += 1
            await self.refresh(game_id)

    async def refresh_after(self, request: Any, game_id: str) -> None:
        """Send ``request``; after a conflict, learn the game's state from REST."""
        try:
            await request
        except Refused:
            self.world.tally["refused conflict"] += 1
            await self.refresh(game_id)

    async def refresh(self, game_id: str) -> None:
        """The round moved on, or the game ended, before the request arrived."""
        game = await self.world.rest.ok("GET", f"/api/games/{game_id}")
        if self.game is None or self.game["id"] != game_id:
            return
        if game["status"] == "finished":
            self.over.add(game_id)
            self.game, self.round = None, None
        else:
            self.round = max(self.round or 0, game["round"])

    async def reconnect(self, *, away: bool) -> None:
        """Drop the connection and come back, recovering the live game's topic.

        Away, the player first waits (on a fresh connection, as a spectator of the lobby) until
        the lobby says it left, moving over REST meanwhile; otherwise it is back within the grace.
        """
        self.world.tally["away" if away else "reconnect"] += 1
        old = self.wire
        await old.close()
        wire = await self.open()
        if away:
            self.left = False
            data = await wire.ok("subscribe", topic="lobby")
            self.world.snapshots.append(data["snapshot"])
            if self.name in {p["name"] for p in data["snapshot"]["players"]}:
                game, n = self.game, self.round
                if game is not None and n is not None and (game["id"], n) not in self.moved:
                    roll = self.rng.choice(self.world.rolls[game["rules"]])
                    await self.rest_move(game["id"], n, roll)
                assert await self.wait(lambda: self.left), f"{self.name} never left"
        if self.game is not None:
            # Before auth, so every event of the game comes exactly once: the missed ones now,
            # then the live ones.
            topic = f"game:{self.game['id']}"
            since = old.seqs.get(topic, 0)
            data = await wire.ok("subscribe", topic=topic, since=since, epoch=self.game["epoch"])
            assert data["recovered"], data
            self.world.tally["recovered"] += 1
        data = await wire.ok("auth", token=self.token)
        for sub in data["subscribed"]:
            live = sub["topic"].removeprefix("game:")
            if sub["topic"].startswith("game:") and live not in self.over:
                self.adopt(await self.world.rest.ok("GET", f"/api/games/{live}"))
        if self.topic in old.seqs:
            data = await wire.ok(
                "subscribe",
                topic=self.topic,
                since=old.seqs[self.topic],
                epoch=old.epochs[self.topic],
            )
            # Back within the grace the topic's history is still there; after leaving it is not.
            self.world.tally[f"player topic recovered {data['recovered']}"] += 1

    async def finish(self) -> None:
        """Resign what is live, withdraw what is open, close."""
        if self.game is not None:
            await self.refresh_after(self.wire.ok("resign", game=self.game["id"]), self.game["id"])
        await self.wire.ok("cancel")
        await self.wire.close()


class Spectator:
    """Follows the lobby and (some) the games, reconnecting now and then with recovery."""

    def __init__(
        self, world: World, rng: random.Random, *, follow_games: bool, from_zero: bool
    ) -> None:
        self.world, self.rng = world, rng
        self.follow_games, self.from_zero = follow_games, from_zero
        self.logs: dict[str, list[Frame]] = {}
        self.wires: list[Wire] = []
        self.new_games: list[str] = []
        self.events = 0
        self.changed = asyncio.Event()
        self.stopping = False
        # The lobby as its events tell it, checked against every later lobby snapshot.
        self.players: dict[str, str] | None = None
        self.games: dict[str, Any] = {}
        self.mismatches: list[str] = []

    async def open(self) -> Wire:
        """A new connection."""
        wire = await Wire.open(
            self.world.url,
            self.on_event,
            logs=self.logs,
            logged=lambda topic: True,
            on_reply=self.on_reply,
        )
        self.wires.append(wire)
        return wire

    def on_event(self, frame: Frame) -> None:
        """Count, note new games, and keep the lobby model."""
        self.events += 1
        if frame["topic"] == "lobby":
            self.apply(frame["event"], frame["data"])
            if frame["event"] == "game_started" and self.follow_games:
                self.new_games.append(frame["data"]["id"])
        self.changed.set()

    def apply(self, event: str, data: dict[str, Any]) -> None:
        """One lobby event on the model."""
        if self.players is None:
            return
        if event in ("player_joined", "player_status"):
            self.players[data["name"]] = data["status"]
        elif event == "player_left":
            self.players.pop(data["name"], None)
        elif event in ("game_started", "game_updated"):
            self.games[data["id"]] = data
        elif event == "game_finished":
            self.games.pop(data["id"], None)

    def on_reply(self, op: str, fields: dict[str, Any], reply: Frame) -> None:
        """A lobby snapshot must match the model built from the events before it."""
        if op != "subscribe" or not reply["ok"] or reply["data"]["topic"] != "lobby":
            return
        snapshot = reply["data"]["snapshot"]
        if snapshot is None:
            return
        self.world.snapshots.append(snapshot)
        players = {p["name"]: p["status"] for p in snapshot["players"]}
        games = {g["id"]: g for g in snapshot["games"]}
        if self.players is not None and (players, games) != (self.players, self.games):
            self.mismatches.append(f"model {self.players} {self.games} != {players} {games}")
        self.players, self.games = players, games

    async def subscribe(self, topic: str) -> None:
        """Follow ``topic``: a game from its first event when ``from_zero``, else from now."""
        wire = self.wires[-1]
        if self.from_zero and topic.startswith("game:"):
            game = await self.world.rest.ok("GET", f"/api/games/{topic.removeprefix('game:')}")
            data = await wire.ok("subscribe", topic=topic, since=0, epoch=game["epoch"])
            assert data["recovered"], data
        else:
            await wire.ok("subscribe", topic=topic)

    async def run(self) -> None:
        """Follow until stopped; reconnect every few dozen events."""
        await self.open()
        await self.subscribe("lobby")
        budget = self.rng.randint(40, 120)
        while not self.stopping:
            while self.new_games:
                await self.subscribe(f"game:{self.new_games.pop(0)}")
            if self.events >= budget:
                await self.reconnect()
                budget = self.events + self.rng.randint(40, 120)
            self.changed.clear()
            if not (self.stopping or self.new_games or self.events >= budget):
                await self.changed.wait()
        await self.subscribe("lobby")  # a last snapshot against the model
        await self.wires[-1].close()

    async def reconnect(self) -> None:
        """Come back on a new connection and recover every topic from where it stopped."""
        old = self.wires[-1]
        await old.close()
        wire = await self.open()
        for topic, seq in old.seqs.items():
            data = await wire.ok("subscribe", topic=topic, since=seq, epoch=old.epochs[topic])
            assert data["recovered"], (topic, data)
            self.world.tally["spectator recovered"] += 1

    def stop(self) -> None:
        """Finish after the current step."""
        self.stopping = True
        self.changed.set()


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
        assert over == [{k: game[k] for k in ("winner", "reason", "score")}], (game["id"], over)


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
