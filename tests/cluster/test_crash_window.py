"""Issue 10: a node SIGKILLed between its PostgreSQL commit and its Redis publish.

``test_publish_gap.py`` shows the gap by cutting a live node's Redis link; here the node really
dies inside it.  Node 0's Redis link passes through a proxy of its own that stalls at the moment
node 0 sends a chosen event to Redis (``TcpProxy.pause_on``): whatever node 0 stored in
PostgreSQL by then is stored, and nothing of it has reached Redis.  The test reads the stored
events from its schema until they are there, SIGKILLs node 0, then drops the proxy's links and
what it held with them, so the publish never reaches Redis (healing first would hand it on after
the death), and heals.
A subscriber of our own on the game's Redis channel checks afterwards that those events were
never published.

- A round in the middle of a game: Ann's move on node 0 resolves it.  Her reply does not wait for
  the publish (a node publishes game events after the reply; the others read PostgreSQL's heads
  every second), so it is answered and stored.  The spectators on nodes 1 and 2 get the round's
  events once, in order, the same bytes; Ann reconnects to node 1, recovers with ``since``, sees
  the round, and the game is played to its end.  The lobby hears the end on every node, Carl
  (connected to node 0 only) leaves after ``--grace``, nobody has two live games.
- The round that ends the game: Ann's move is stored as finished, and its reply waits for the
  lobby (``game_finished``, a change under the lobby lock in Redis), which never comes: she has
  no reply when node 0 dies.  The game's end reaches every spectator; the lobby must hear of it
  too, and Ann and Bob must be able to play again.
- A game's start (Ann accepts Bob's challenge on node 0): the game is stored, the lobby's change
  (challenge taken, seats, ``game_started``) is held on its way to Redis when node 0 dies.  Either
  all of it shows everywhere or none of it, and Ann and Bob can play.

Needs three nodes and the broker: with one hub (``RPS_HUB_TEST_CLUSTER=single``) there is no
Redis publish to die before, so the file is skipped then.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from attrs import define, field
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from tests.cluster.harness import Cluster, cluster, shape
from tests.cluster.harness_clients import TIMEOUT, Clients, Conn, Seen, connected
from tests.cluster.harness_games import Acks, challenge_and_accept, check_game, check_lobby, joined
from tests.cluster.harness_pairs import live_game
from tests.cluster.harness_players import Lost, Player
from tests.postgres import SERVER, schema_of

pytestmark = pytest.mark.skipif(
    not shape()[1], reason="a crash between the commit and the Redis publish needs the broker"
)

GRACE = 1.0
ARGS = ("--round-deadline", "0", "--grace", str(GRACE))
KILLED = 0  # Ann's node, whose Redis link stalls and which dies
ALIVE = (1, 2)
NOTICE = 6.0  # seconds for the survivors to set right what a dead node left (liveness: 2 s)


class Unheard(AssertionError):
    """The lobby did not hear of a game's end."""


class HalfApplied(AssertionError):
    """The lobby and PostgreSQL disagree about a game's start."""


@define
class Channel:
    """Every seq Redis carried on one topic's channel, read by a plain subscriber of ours."""

    pubsub: PubSub
    seqs: list[int] = field(factory=list)

    async def read(self) -> None:
        async for message in self.pubsub.listen():
            if message["type"] == "message":
                _, _, frame = message["data"].partition(b" ")
                self.seqs.append(json.loads(frame)["seq"])


@contextlib.asynccontextmanager
async def channel_of(c: Cluster, topic: str) -> AsyncIterator[Channel]:
    """A ``Channel`` listening to ``topic``'s pub/sub channel on the cluster's Redis."""
    assert c.redis is not None
    redis = Redis.from_url(c.redis.url)
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(f"{c.prefix}:chan:{topic}")
        confirmed = await pubsub.get_message(timeout=TIMEOUT)
        assert confirmed is not None and confirmed["type"] == "subscribe", confirmed
        seen = Channel(pubsub)
        reader = asyncio.create_task(seen.read())
        try:
            yield seen
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    finally:
        await pubsub.aclose()
        await redis.aclose()


@define
class Scene:
    """Ann (node 0) and Bob (node 1) in a game; Carl idle on node 0; lobbies and spectators of
    the game on nodes 1 and 2."""

    ann: Player
    bob: Player
    carl: Conn
    lobbies: list[Conn]
    acks: Acks

    @property
    def players(self) -> tuple[Player, Player]:
        return self.ann, self.bob


async def scene(c: Cluster, clients: Clients) -> Scene:
    """The players and the lobbies, everyone seen joined on nodes 1 and 2."""
    assert c.brokered and c.node(KILLED).proxies, "these tests need proxied nodes and Redis"
    acks, rng = Acks(), random.Random(5)
    lobbies = [await clients.watcher(s, "lobby") for s in ALIVE]
    ann = await Player.join(clients, "ann", KILLED, acks, rng)
    bob = await Player.join(clients, "bob", 1, acks, rng)
    carl = await clients.player("carl", KILLED)
    for lobby in lobbies:
        await joined(lobby, "ann", "bob", "carl")
    return Scene(ann, bob, carl, lobbies, acks)


async def start(clients: Clients, s: Scene, best_of: int) -> tuple[str, list[Conn]]:
    """Ann challenges Bob, he accepts; spectators of the game on nodes 1 and 2."""
    game = await challenge_and_accept(s.ann.conn, s.bob.conn, best_of=best_of, rules="rps3")
    topic = f"game:{game}"
    for p in s.players:
        p.live.add(topic)
    spectators = []
    for slot in ALIVE:
        spectator = await clients.connect(slot, f"spectator[{topic}]")
        await spectator.subscribe(topic, 0, s.ann.conn.subs[topic].epoch)
        spectators.append(spectator)
    return game, spectators


async def both_move(s: Scene, game: str, n: int) -> None:
    """Round ``n``: Bob plays Scissors, then Ann's Rock resolves it; both see the result."""
    for player, roll in ((s.bob, "Scissors"), (s.ann, "Rock")):
        reply = await player.move(game, n, roll)
        assert reply.frame["ok"], reply.raw
    for player in s.players:
        await player.wait_seen(f"game:{game}", "round", {"round": n})


async def stored_events(c: Cluster, game: str, after: int) -> list[tuple[int, str]]:
    """The events of ``game`` past seq ``after`` in PostgreSQL, read from the test's schema (a
    row holds the events of one time, from its seq, their names joined by commas)."""
    schema = schema_of(c.db)
    conn = await asyncpg.connect(SERVER, timeout=TIMEOUT)
    try:
        rows = await conn.fetch(
            f'SELECT seq, event FROM "{schema}".game_events WHERE game_id = $1 ORDER BY seq', game
        )
    finally:
        await conn.close()
    events = [
        (row["seq"] + i, name) for row in rows for i, name in enumerate(row["event"].split(","))
    ]
    return [(seq, name) for seq, name in events if seq > after]


async def tripped(c: Cluster, patterns: tuple[bytes, ...]) -> None:
    """Wait until node 0 sent one of ``patterns`` to Redis: its link stalled right then."""
    try:
        async with asyncio.timeout(TIMEOUT):
            await c.node(KILLED).proxies[1].tripped.wait()
    except TimeoutError:
        raise AssertionError(
            f"node 0 never sent any of {patterns} to Redis\n{c.describe()}"
        ) from None


async def die(c: Cluster, sent: asyncio.Task[Seen]) -> tuple[Seen | None, bool]:
    """SIGKILL node 0, drop its Redis link with what the proxy held of it (healed first, the
    proxy would hand it on after the death), heal; the reply ``sent`` got (None: it never had
    one) and whether it had come before the kill."""
    early = sent.done()
    await c.kill(KILLED)
    c.cut(KILLED, drop=True, db=False)
    c.heal(KILLED)
    try:
        return await sent, early
    except Lost:
        return None, early


@define
class Crash:
    """What a crash in the window left: the mover's reply (None: never had one), whether it had
    come before the kill, the game's events node 0 stored in the window, and when it died."""

    reply: Seen | None
    early: bool
    window: list[tuple[int, str]]
    killed: float = field(factory=time.monotonic)


async def crash(c: Cluster, s: Scene, game: str, n: int, last: str, *patterns: bytes) -> Crash:
    """Bob moves in round ``n``, then Ann's Rock on node 0 resolves it.  Node 0's Redis link
    stalls as it sends one of ``patterns``; once PostgreSQL holds the event ``last``, node 0
    dies."""
    topic = f"game:{game}"
    assert (await s.bob.move(game, n, "Scissors")).frame["ok"]
    await s.ann.wait_seen(topic, "moved", {"round": n, "player": "bob"})
    ann, seq = s.ann.conn, s.ann.conn.subs[topic].seq
    c.node(KILLED).proxies[1].pause_on(*patterns)
    sent = asyncio.create_task(ann.request("move", game=game, roll="Rock", round=n))
    await tripped(c, patterns)
    deadline = time.monotonic() + TIMEOUT
    window = await stored_events(c, game, seq)
    while last not in [event for _, event in window]:
        assert time.monotonic() < deadline, f"PostgreSQL never had {last}: {window}"
        await asyncio.sleep(0.02)
        window = await stored_events(c, game, seq)
    return Crash(*await die(c, sent), window)


async def converged(s: Scene, clients: Clients, game: str, killed: float) -> None:
    """The lobby after a game's end: Carl (node 0 only) gone after grace, the end heard on
    every node (within ``NOTICE`` of the kill at ``killed``), Ann and Bob idle, the same lobby
    everywhere, nobody in two live games."""
    for lobby in s.lobbies:
        await lobby.wait_event("lobby", "player_left", lambda d: d["name"] == "carl")
    for lobby in s.lobbies:
        left = max(0.1, killed + NOTICE - time.monotonic())
        try:
            await lobby.wait_event("lobby", "game_finished", lambda d: d["id"] == game, within=left)
        except AssertionError as exc:
            raise Unheard(str(exc)) from None
    for p in s.players:
        assert await live_game(p) is None, f"{p.name} still plays after the game's end"
    await check_lobby(clients, s.lobbies, ALIVE)
    snapshot = (await (await clients.connect(1, "last-look")).subscribe("lobby"))["snapshot"]
    assert snapshot["players"] == [
        {"name": "ann", "status": "idle"},
        {"name": "bob", "status": "idle"},
    ], snapshot
    assert snapshot["games"] == [], snapshot


async def play_again(s: Scene) -> str:
    """Bob challenges Ann, she accepts: a new game (each may act again)."""
    challenge = await s.bob.act("play", opponent="ann", best_of=1, rules="rps3")
    assert challenge.frame["ok"], challenge.raw
    accept = await s.ann.act("accept", challenge=challenge.data["challenge"])
    assert accept.frame["ok"], accept.raw
    game: str = accept.data["game"]
    for p in s.players:
        assert await live_game(p) == game
    return game


async def test_a_round_stored_and_never_published_reaches_every_node_once_after_the_node_died(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, proxied=True, args=ARGS) as c, connected(c) as clients:
        s = await scene(c, clients)
        game, spectators = await start(clients, s, best_of=3)
        topic = f"game:{game}"
        async with channel_of(c, topic) as published:
            cut = await crash(c, s, game, 1, "round", b'"event":"round"')
            # A move in the middle of a game is answered once stored, before the publish (the
            # others read PostgreSQL's heads every second): its reply may be out already.
            if cut.reply is not None:
                assert cut.reply.frame["ok"], cut
                s.acks.add("ann", game, 1, "Rock")
            await s.ann.reconnect(1)  # recovers the game's topic with since
            if cut.reply is None:  # sent again, as a client does; a repeat changes nothing
                assert (await s.ann.move(game, 1, "Rock")).frame["ok"]
            for p in s.players:
                await p.wait_seen(topic, "round", {"round": 1})
            await both_move(s, game, 2)  # Ann, now on node 1, wins 2-0
            for p in s.players:
                await p.wait_seen(topic, "game_over")
            await check_game(clients, game, [*spectators, *s.players], ALIVE)
            sent = {seq for seq, _ in cut.window} & set(published.seqs)
            assert not sent, f"node 0's events {sorted(sent)} reached Redis: no crash window"
        await converged(s, clients, game, cut.killed)
        await play_again(s)
        assert await s.acks.lost(clients, 1) == []
        clients.assert_sound()


async def test_a_game_ended_by_a_node_that_died_before_the_lobby_heard_ends_in_the_lobby(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, proxied=True, args=ARGS) as c, connected(c) as clients:
        s = await scene(c, clients)
        game, spectators = await start(clients, s, best_of=1)
        topic = f"game:{game}"
        async with channel_of(c, topic) as published:
            # Whichever goes first: the game's events, or the lobby's change (its lock is taken
            # first, in a round trip of its own).
            ends = (b'"event":"game_over"', b'"event":"game_finished"')
            cut = await crash(c, s, game, 1, "game_over", *ends)
            # The move that ends a game is answered once the lobby heard of it: not before.
            assert not cut.early and cut.reply is None, cut
            await s.ann.reconnect(1)
            for p in s.players:
                await p.wait_seen(topic, "game_over")
            s.acks.add("ann", game, 1, "Rock")  # stored, though never answered
            await check_game(clients, game, [*spectators, *s.players], ALIVE)
            sent = {seq for seq, _ in cut.window} & set(published.seqs)
            assert not sent, f"node 0's events {sorted(sent)} reached Redis: no crash window"
        await converged(s, clients, game, cut.killed)
        await play_again(s)
        assert await s.acks.lost(clients, 1) == []
        clients.assert_sound()


async def lobby_agrees(clients: Clients, s: Scene, killed: float) -> str | None:
    """Wait until every node's lobby tells Ann's and Bob's stored live game (PostgreSQL) as it
    is: shown with both playing, or none shown and both idle.  The game, or None."""
    while True:
        stored = {await live_game(p) for p in s.players}
        views = []
        for slot in ALIVE:
            conn = await clients.connect(slot, "lobby-look")
            snapshot = (await conn.subscribe("lobby"))["snapshot"]
            await conn.close()
            status = {p["name"]: p["status"] for p in snapshot["players"]}
            shown = {g["id"] for g in snapshot["games"]}
            views.append((sorted(shown), status.get("ann"), status.get("bob")))
        (game,) = stored if len(stored) == 1 else (None,)
        want = ([game], "playing", "playing") if game is not None else ([], "idle", "idle")
        if len(stored) == 1 and all(v == want for v in views):
            return game
        if time.monotonic() > killed + NOTICE:
            raise HalfApplied(
                f"half applied: stored live games {stored}, lobbies (games, ann, bob) {views}"
            )
        await asyncio.sleep(0.2)


async def test_a_game_start_whose_lobby_change_never_reached_redis_is_all_or_nothing(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, proxied=True, args=ARGS) as c, connected(c) as clients:
        s = await scene(c, clients)
        made = await s.bob.conn.ok("play", opponent="ann", best_of=1, rules="rps3")
        challenge = made["challenge"]
        await s.ann.conn.wait_event("player:ann", "challenge", lambda d: d["id"] == challenge)
        started = (b'"event":"game_started"',)
        c.node(KILLED).proxies[1].pause_on(*started)
        sent = asyncio.create_task(s.ann.conn.request("accept", challenge=challenge))
        await tripped(c, started)
        deadline = time.monotonic() + TIMEOUT
        while (game := await live_game(s.bob)) is None:  # the game is stored first
            assert time.monotonic() < deadline, "the accepted game was never stored"
            await asyncio.sleep(0.02)
        reply, early = await die(c, sent)
        killed = time.monotonic()
        # Accepting is answered once the lobby's change is stored in Redis: not before.
        assert not early and reply is None, reply

        await s.ann.reconnect(1)
        shown = await lobby_agrees(clients, s, killed)
        if shown is not None:  # all of it: the game is played to its end
            assert shown == game
            for p in s.players:
                await p.follow(game)
            for player, roll in ((s.bob, "Scissors"), (s.ann, "Rock")):
                assert (await player.move(game, 1, roll)).frame["ok"]
            for p in s.players:
                await p.wait_seen(f"game:{game}", "game_over")
            await converged(s, clients, game, time.monotonic())
        await play_again(s)
        assert await s.acks.lost(clients, 1) == []
        clients.assert_sound()
