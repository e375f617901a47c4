"""Hypothesis against a real hub: the decode -> dispatch path of ``/ws`` never loses a request.

Frames are mostly requests of docs/protocol.md ops with fields that are right, wrong, ill-typed or
missing, ids of every JSON type, nested junk, huge numbers, unicode (lone surrogates as JSON
escapes too) and some text that is no JSON at all.  They go to one authenticated connection and one
spectator.  Every frame must get exactly one well-formed reply (its id echoed when it is an integer
or a string, null otherwise) with one of the protocol's codes, every event must follow its topic's
seq, the connections stay open, and afterwards the same connection still plays a whole game
against the computer.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from attrs import define, field, frozen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from tests.conftest import HubFactory
from tests.hub.restclient import Rest, session
from tests.hub.wsclient import Clients, Frame, Peer, ws_url

CODES = {
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "rate_limited",
    "too_large",
    "unavailable",
    "internal",
}
OPS = ("auth", "subscribe", "unsubscribe", "play", "accept", "decline", "cancel", "move", "resign")
REPLY_DATA = {  # the keys an ok reply's data may have, per op
    "auth": [{"player", "subscribed"}],
    "subscribe": [{"topic", "epoch", "seq", "recovered", "snapshot"}],
    "unsubscribe": [set()],
    "play": [{"game"}, {"challenge"}, {"queued"}, {"queued", "game"}],
    "accept": [{"game"}],
    "decline": [set()],
    "cancel": [set()],
    "move": [{"round"}],
    "resign": [set()],
}
MAX_FRAME = 65_536
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    # One hub serves every example: starting one per example would test aiohttp's startup.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@frozen
class Raw:
    """JSON text as is: numbers ``json.dumps`` never writes (4,400 digits, ``-0``, ``1e999``)."""

    text: str


@frozen
class Pick:
    """An id learnt while the example runs, chosen by ``slot`` when the frame is written.

    Strategies draw the slot, not the id, so what Hypothesis draws never depends on the hub.
    """

    bucket: str  # an attribute of ``Known``
    slot: int
    fallback: str  # used while the bucket is empty
    prefix: str = ""
    part: int | None = None  # of a tuple in the bucket


@frozen
class Spec:
    """A frame to write: a JSON value (with ``Raw`` and ``Pick`` pieces), or raw text."""

    value: Any
    ascii_only: bool = True


MISSING = object()  # a field left out of the frame


@define
class Known:
    """What the test has learnt so far: ids worth reusing in later frames."""

    player: str
    token: str
    other: str
    other_token: str
    games: list[str] = field(factory=list)
    challenges: list[str] = field(factory=list)
    epochs: list[str] = field(factory=list)
    streams: list[tuple[str, str]] = field(factory=list)  # (topic, epoch)
    live: str | None = None  # the player's live game

    def learn(self, frame: Frame) -> None:
        """Remember the ids, epochs and the live game that ``frame`` names."""
        data = frame.get("data")
        if not isinstance(data, dict):
            return
        event, topic = frame.get("event"), frame.get("topic")
        if isinstance(data.get("game"), str):  # a play or accept reply
            self.live = self._add(self.games, data["game"])
        if isinstance(data.get("challenge"), str):
            self._add(self.challenges, data["challenge"])
        if event == "challenge":
            self._add(self.challenges, data["id"])
        elif event == "game_started":
            self._add(self.games, data["id"])
            if topic == f"player:{self.player}":
                self.live = data["id"]
                self._add(self.streams, (f"game:{data['id']}", data["epoch"]))
        elif event == "game_over" and topic == f"game:{self.live}":
            self.live = None
        for sub in data.get("subscribed", []) if frame.get("type") == "reply" else []:
            self._add(self.streams, (sub["topic"], sub["epoch"]))
        if frame.get("type") == "reply" and {"topic", "epoch", "recovered"} <= set(data):
            self._add(self.streams, (data["topic"], data["epoch"]))
            self._add(self.epochs, data["epoch"])

    @staticmethod
    def _add(bucket: list[Any], item: Any) -> Any:
        if item not in bucket:
            bucket.append(item)
        return item

    def resolve(self, pick: Pick) -> str:
        """The id ``pick`` stands for: one of the latest learnt, or its fallback."""
        bucket = getattr(self, pick.bucket)
        if pick.bucket == "live":
            bucket = [bucket] if bucket is not None else self.games[-1:]
        elif isinstance(bucket, str):
            bucket = [bucket]
        if not bucket:
            return pick.prefix + pick.fallback
        item = bucket[-1 - pick.slot % min(len(bucket), 8)]
        return pick.prefix + (item if pick.part is None else item[pick.part])

    def render(self, spec: Spec) -> str:
        """The text of ``spec``'s frame."""
        if isinstance(spec.value, str):
            return spec.value
        text = self._dump(spec.value, spec.ascii_only)
        return text if encodable(text) else self._dump(spec.value, True)

    def _dump(self, value: Any, ascii_only: bool) -> str:
        if isinstance(value, Raw):
            return value.text
        if isinstance(value, Pick):
            value = self.resolve(value)
        if isinstance(value, dict):
            items = (
                f"{json.dumps(k, ensure_ascii=ascii_only)}:{self._dump(v, ascii_only)}"
                for k, v in value.items()
            )
            return "{" + ",".join(items) + "}"
        if isinstance(value, list):
            return "[" + ",".join(self._dump(v, ascii_only) for v in value) + "]"
        return json.dumps(value, ensure_ascii=ascii_only)


def encodable(text: str) -> bool:
    """True when ``text`` has no lone surrogate, so it can travel as UTF-8."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def expected_id(text: str) -> Any:
    """The id a reply to ``text`` must carry: the request's when readable, else None."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    rid = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(rid, bool) or not isinstance(rid, int | str):
        return None
    # A lone surrogate cannot be sent back in a UTF-8 frame: that id is unreadable.
    return rid if not isinstance(rid, str) or encodable(rid) else None


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten, else ``bad``: most requests must get past decoding."""
    # Hypothesis favours small integers, and the first of sampled_from: good comes first.
    return st.sampled_from([good] * 9 + [bad]).flatmap(lambda chosen: chosen)


HUGE = st.one_of(
    st.integers(min_value=2**63, max_value=10**300),
    st.integers(min_value=-(10**300), max_value=-(2**63)),
    st.sampled_from([Raw("1e999"), Raw("-0"), Raw("1E2"), Raw("NaN"), Raw("-Infinity")]),
)
# Over Python's 4,300 digits: the whole frame is unreadable, so kept out of the junk in fields.
TOO_LONG = st.integers(min_value=4301, max_value=4400).map(lambda n: Raw("9" * n))
LEAF = st.one_of(st.none(), st.booleans(), st.integers(), HUGE, st.floats(), st.text(max_size=12))
JUNK = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
NO_SURROGATES = st.characters(exclude_categories=("Cs",))
RAW_TEXT = st.one_of(
    st.text(alphabet=NO_SURROGATES, max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "{",
            "}",
            "[]",
            "null",
            "true",
            "0",
            '"auth"',
            "{}",
            '{"id":1',
            '{"id":1,"type":"auth"',
            '{"type":"cancel","id":1}}',
            "\ufeff{}",
            '{"type":"cancel","id":1}\n',
            '{"type":"cancel","id":1} x',
            '{"type":"cancel","id":"\\ud800"}',
            '{"type":"cancel","id":"\\udc00x","id":2}',
        ]
    ),
    # Nesting deeper than the decoder's recursion limit, as a whole frame and inside a field.
    st.integers(min_value=500, max_value=30_000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=500, max_value=20_000).map(
        lambda n: '{"type":"play","id":7,"opponent":' + '{"a":' * n + "1" + "}" * n + "}"
    ),
)


def pick(bucket: str, *, prefix: str = "", part: int | None = None) -> st.SearchStrategy[Pick]:
    """A learnt id from ``bucket`` (or a made-up one while there is none)."""
    slots = st.integers(min_value=0, max_value=7)
    return st.builds(Pick, st.just(bucket), slots, st.just("nope"), st.just(prefix), st.just(part))


NAME, OTHER = "fuzz", "bob"
CASINGS = st.sampled_from([NAME, NAME.upper(), NAME.capitalize(), f" {NAME} "])
TOPICS = st.one_of(
    st.just("lobby"),
    pick("games", prefix="game:"),
    CASINGS.map(lambda n: f"player:{n}"),
    st.just(f"player:{OTHER}"),
)
ODD_TOPICS = st.one_of(
    st.text(min_size=1, max_size=14).map(lambda g: f"game:{g}"),
    st.sampled_from(["game:", "player:", "Lobby", "lobby:", ":", "game", "game:a:b", "player:x"]),
    st.text(max_size=20),
)
ROLLS = st.sampled_from(["Rock", "paper", " SCISSORS ", "Lizard", "spock"])
ODD_ROLLS = st.sampled_from(["Sponge", "Air", "Rok", ""]) | st.text(max_size=12)
OPPONENTS = st.sampled_from(
    ["computer", "COMPUTER", " Computer ", "*", " * ", OTHER, OTHER.upper()]
)
ODD_OPPONENTS = CASINGS | st.sampled_from(["nobody-here", "", " ", "**"]) | st.text(max_size=12)
RULES = st.sampled_from(["rps3", "rpsls", "rps15"])
GAMES = pick("live") | pick("games")
# A recovery names a topic with an epoch learnt for it and some seq of it.
RECOVERIES = st.tuples(st.integers(min_value=0, max_value=7), st.integers(0, 12)).map(
    lambda t: {
        "topic": Pick("streams", t[0], "lobby", part=0),
        "since": t[1],
        "epoch": Pick("streams", t[0], "nope", part=1),
    }
)


def fields(required: dict[str, Any], optional: dict[str, Any] | None = None) -> Any:
    """The fields of a careful request."""
    return st.fixed_dictionaries(required, optional=optional or {})


# What a careful client sends: right types, values that may still be refused in the hub's state.
CAREFUL: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "auth": fields({"token": pick("token") | pick("other_token") | st.text(min_size=1)}),
    "subscribe": fields({"topic": TOPICS}) | RECOVERIES,
    "unsubscribe": fields({"topic": TOPICS}),
    "play": fields(
        {"opponent": OPPONENTS}, {"best_of": st.sampled_from([1, 3, 15]), "rules": RULES}
    ),
    "accept": fields({"challenge": pick("challenges")}),
    "decline": fields({"challenge": pick("challenges")}),
    "cancel": fields({}),
    "move": fields(
        {"game": GAMES, "roll": ROLLS}, {"round": st.integers(min_value=1, max_value=6)}
    ),
    "resign": fields({"game": GAMES}),
}
# What a careless client or an attacker sends in each field, besides junk and nothing at all.
CARELESS: dict[str, st.SearchStrategy[Any]] = {
    "token": pick("token") | st.text(max_size=50),
    "topic": TOPICS | ODD_TOPICS,
    "since": st.integers(min_value=-2, max_value=40) | HUGE,
    "epoch": pick("epochs") | st.text(max_size=12),
    "opponent": OPPONENTS | ODD_OPPONENTS,
    "best_of": st.integers(min_value=-1, max_value=17) | HUGE,
    "rules": RULES | st.sampled_from(["RPS3", "rps", "", " rps3"]),
    "challenge": pick("challenges") | st.text(max_size=14),
    "game": GAMES | st.text(max_size=14),
    "roll": ROLLS | ODD_ROLLS,
    "round": st.integers(min_value=-1, max_value=8) | HUGE,
}
CARELESS_FIELDS = {
    "auth": ["token"],
    "subscribe": ["topic", "since", "epoch"],
    "unsubscribe": ["topic"],
    "play": ["opponent", "best_of", "rules"],
    "accept": ["challenge"],
    "decline": ["challenge"],
    "cancel": [],
    "move": ["game", "roll", "round"],
    "resign": ["game"],
}
GOOD_IDS = st.one_of(
    st.integers(min_value=-5, max_value=10**6),
    st.integers(),
    st.text(max_size=10),
    # Lone surrogates, which JSON escapes can carry but no UTF-8 reply can, and a proper pair.
    st.sampled_from(["\ud800", "a\udfff", "\ud83d\ude00"]),
)
BAD = st.one_of(JUNK, TOO_LONG, st.just(MISSING))


@st.composite
def requests(draw: st.DrawFn, spectator: bool) -> Spec:
    """A request of some op, made carefully or carelessly, with extra keys of junk."""
    op = draw(st.sampled_from(OPS))
    careful = draw(st.booleans())
    obj: dict[str, Any] = draw(st.dictionaries(st.text(max_size=6), JUNK, max_size=2))
    if careful:
        obj["type"], obj["id"] = op, draw(GOOD_IDS)
        extra = draw(CAREFUL[op])
        if spectator and op == "auth":  # a spectator stays one: never a valid token
            extra = {"token": draw(st.text(min_size=1, max_size=50))}
        obj.update(extra)
    else:
        obj["type"] = draw(mostly(st.just(op), BAD))
        obj["id"] = draw(mostly(GOOD_IDS, HUGE | BAD))
        for key in CARELESS_FIELDS[op]:
            strategy = st.text(max_size=50) if spectator and key == "token" else CARELESS[key]
            obj[key] = draw(strategy | BAD)
    obj = {k: v for k, v in obj.items() if v is not MISSING}
    if draw(st.booleans()):  # key order must not matter
        obj = dict(reversed(obj.items()))
    return Spec(obj, ascii_only=draw(st.booleans()))


def frames(spectator: bool) -> st.SearchStrategy[Spec]:
    """One text frame: mostly a request, sometimes any object, sometimes no JSON at all."""
    anything = st.dictionaries(st.sampled_from(["type", "id", "topic", "x"]) | st.text(), JUNK)
    return mostly(requests(spectator), anything.map(Spec) | RAW_TEXT.map(Spec))


class Conn:
    """A fuzzed connection: every reply is checked, every event's seq follows its topic."""

    _sentinels = itertools.count(1)

    def __init__(self, peer: Peer, known: Known, *, spectator: bool, limited: bool = False) -> None:
        self.peer = peer
        self.known = known
        self.spectator = spectator
        self.limited = limited  # every frame is refused unread

    async def recv(self) -> Frame:
        """The next frame; a closed connection fails the test with its close code."""
        try:
            frame = await self.peer.recv()
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            pytest.fail(f"the hub closed the connection with {code}")
        self.known.learn(frame)
        return frame

    async def send(self, text: str) -> Frame:
        """Send ``text``; returns its reply, the next reply frame, which must carry its id."""
        await self.peer.ws.send(text)
        while True:
            frame = await self.recv()
            if frame["type"] == "reply":
                break
            assert frame["type"] == "event", frame
        rid = expected_id(text)
        assert frame["id"] == rid and type(frame["id"]) is type(rid), (text[:200], frame)
        self.check(text, frame)
        return frame

    def check(self, text: str, reply: Frame) -> None:
        """``reply`` is well formed for the request ``text``; take the seq bases it announces."""
        if not reply["ok"]:
            assert set(reply) == {"type", "id", "ok", "error"}, reply
            assert set(reply["error"]) == {"code", "message"}, reply
            assert reply["error"]["code"] in CODES, reply
            assert isinstance(reply["error"]["message"], str), reply
            assert reply["error"]["code"] not in ("internal", "unavailable"), (text[:200], reply)
            if self.limited:
                assert reply["error"]["code"] == "rate_limited", reply
            elif self.spectator and _op(text) not in ("auth", "subscribe", "unsubscribe"):
                assert reply["error"]["code"] in ("bad_request", "unauthorized"), reply
            return
        assert set(reply) == {"type", "id", "ok", "data"}, reply
        obj = json.loads(text)  # only a readable request is answered ok
        op, data = obj["type"], reply["data"]
        assert set(data) in REPLY_DATA[op], (text[:200], reply)
        if self.spectator:
            assert op in ("subscribe", "unsubscribe"), (text[:200], reply)
        seqs = self.peer.seqs
        if op == "auth":
            for sub in data["subscribed"]:
                seqs[sub["topic"]] = sub["seq"]
        elif op == "subscribe":
            seqs[data["topic"]] = obj["since"] if data["recovered"] else data["seq"]
        elif op == "unsubscribe":
            topic = obj["topic"]
            kind, _, key = topic.partition(":")
            if kind == "player" and self.peer.name and key.casefold() == self.peer.name.casefold():
                topic = f"player:{self.peer.name}"
            seqs.pop(topic, None)

    async def settle(self) -> None:
        """Every frame sent so far has had its one reply: the next reply is a fresh request's."""
        rid = f"sentinel-{next(self._sentinels)}"
        reply = await self.send(json.dumps({"type": "unsubscribe", "id": rid, "topic": "game:-"}))
        assert reply["ok"] or self.limited, reply


def _op(text: str) -> Any:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return obj.get("type") if isinstance(obj, dict) else None


@define
class Arena:
    """One hub for every example, the idle player ``bob`` on it, and what was learnt so far.

    Each example opens its own two connections, so a failure stays with the example that caused
    it and Hypothesis can replay it.
    """

    server: Any
    rest: Rest
    bob: Peer
    known: Known

    @asynccontextmanager
    async def connections(self, *, limited: bool = False) -> AsyncIterator[tuple[Conn, Conn]]:
        """The fuzzed player's connection and a spectator's, closed at the end."""
        url = ws_url(self.server)
        player, spectator = await Peer.open(url), await Peer.open(url)
        try:
            if not limited:
                await player.ok("auth", token=self.known.token)
                player.name = NAME
                await self.reset(player)
            yield (
                Conn(player, self.known, spectator=False, limited=limited),
                Conn(spectator, self.known, spectator=True, limited=limited),
            )
        finally:
            await asyncio.gather(player.close(), spectator.close())

    async def reset(self, player: Peer) -> None:
        """No live game, queue ticket or challenge is left from an earlier example."""
        live = await self.rest.ok("GET", f"/api/games?player={NAME}&status=playing")
        for game in live["games"]:
            await player.ok("resign", game=game["id"])
        await player.ok("cancel")
        await self.bob.ok("cancel")


@pytest.fixture
async def arena(start_hub: HubFactory, clients: Clients) -> AsyncIterator[Arena]:
    """A hub whose rate limit is out of the way: the fuzzer sends faster than 20 requests/s."""
    server = await start_hub(rate=1e6, burst=10**6)
    async with session() as http:
        rest = Rest(http, server)
        bob_token = await rest.register(OTHER)
        bob = await clients.player(server, OTHER, bob_token)
        token = await rest.register(NAME)
        known = Known(player=NAME, token=token, other=OTHER, other_token=bob_token)
        yield Arena(server, rest, bob, known)


SETUPS = ["computer", "pvp", "challenged", "queued", "idle"]


async def set_up(arena: Arena, conn: Conn, setup: str) -> None:
    """Start the example in some state: a live game, a challenge or a queue ticket waiting."""
    bob = arena.bob
    if setup == "computer":
        play = {"type": "play", "id": "s", "opponent": "computer", "best_of": 15}
        assert (await conn.send(json.dumps(play)))["ok"]
    elif setup in ("pvp", "challenged"):
        reply, _ = await bob.request("play", opponent=NAME, best_of=3, rules="rpsls")
        assert reply["ok"], reply
        if setup == "pvp":
            accept = {"type": "accept", "id": "s", "challenge": reply["data"]["challenge"]}
            game = (await conn.send(json.dumps(accept)))["data"]["game"]
            # bob moves first, so the fuzzed player's move can resolve the round.
            await bob.ok("move", game=game, roll="Spock")
        else:
            arena.known.learn(reply)
    elif setup == "queued":
        reply, _ = await bob.request("play", opponent="*")
        assert reply["ok"], reply


async def play_a_computer_game(rest: Rest, conn: Conn) -> None:
    """Resign what is live, then play a best-of-1 rps3 game against the computer to its end."""
    live = await rest.ok("GET", f"/api/games?player={NAME}&status=playing")
    for game in live["games"]:
        reply = await conn.send(json.dumps({"type": "resign", "id": "r", "game": game["id"]}))
        assert reply["ok"], reply
    play = {"type": "play", "id": "p", "opponent": "computer", "best_of": 1, "rules": "rps3"}
    reply = await conn.send(json.dumps(play))
    assert reply["ok"], reply
    game_id = reply["data"]["game"]
    for n in range(1, 51):
        text = json.dumps({"type": "move", "id": n, "game": game_id, "roll": "Rock", "round": n})
        reply = await conn.send(text)
        assert reply["data"] == {"round": n}, reply
        game = await rest.ok("GET", f"/api/games/{game_id}")
        if game["status"] == "finished":
            break
    assert game["status"] == "finished" and game["reason"] == "won", game
    assert game["winner"] in (NAME, "computer") and len(game["rounds"]) == n, game


def logged_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the hub logged at ERROR or above."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@SETTINGS
@given(data=st.data())
async def test_every_frame_gets_exactly_one_well_formed_reply_and_the_connection_still_plays(
    arena: Arena, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    caplog.clear()
    async with arena.connections() as (player, spectator):
        await set_up(arena, player, data.draw(st.sampled_from(SETUPS), label="setup"))
        for _ in range(data.draw(st.integers(min_value=1, max_value=30), label="frames")):
            on_spectator = data.draw(st.integers(0, 3), label="conn") == 0
            conn = spectator if on_spectator else player
            text = arena.known.render(data.draw(frames(on_spectator), label="frame"))
            if len(text.encode()) <= MAX_FRAME:  # larger ones are closed with 1009 (another test)
                await conn.send(text)
        await player.settle()
        await spectator.settle()
        await play_a_computer_game(arena.rest, player)
    assert await arena.rest.ok("GET", "/healthz") == {"status": "ok"}
    assert logged_errors(caplog) == []


@pytest.fixture
async def limited_arena(start_hub: HubFactory, clients: Clients) -> AsyncIterator[Arena]:
    """A hub whose bucket holds one request per connection and never refills (and whose abuse
    limit is out of reach): every frame after a connection's first is refused unread."""
    server = await start_hub(rate=1e-9, burst=1, abuse_limit=10**9)
    async with session() as http:
        rest = Rest(http, server)
        bob = await clients.player(server, OTHER, await rest.register(OTHER))
        yield Arena(server, rest, bob, Known(NAME, "-", OTHER, "-"))


@SETTINGS
@given(data=st.data())
async def test_a_rate_limited_frame_still_gets_exactly_one_reply_with_its_id(
    limited_arena: Arena, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    caplog.clear()
    async with limited_arena.connections(limited=True) as (_, conn):
        await conn.peer.ok("subscribe", topic="lobby")  # the one request let through
        for _ in range(data.draw(st.integers(min_value=1, max_value=10), label="frames")):
            text = limited_arena.known.render(data.draw(frames(spectator=True), label="frame"))
            if len(text.encode()) <= MAX_FRAME:
                await conn.send(text)
        await conn.settle()
    assert await limited_arena.rest.ok("GET", "/healthz") == {"status": "ok"}
    assert logged_errors(caplog) == []
