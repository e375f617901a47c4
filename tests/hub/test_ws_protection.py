"""Protection of docs/protocol.md: bad frames, rate limits, Origin, heartbeat and slow consumers.

Each misbehaving connection runs beside a live game between two players watched by a spectator;
the game's every event must still arrive, in order, to all three.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from websockets.exceptions import InvalidStatus

from tests.conftest import HubFactory, eventually
from tests.hub.wsclient import Clients, Peer, start_pvp, ws_url

MAX_FRAME = 65_536
REPLAYS = 80  # x 990 lobby events of ~130 bytes: far more than the kernel's socket buffers hold


class Match:
    """A game between ann and bob that a spectator watches; every round is a tie, so it goes on."""

    def __init__(self, ann: Peer, bob: Peer, spectator: Peer, game_id: str) -> None:
        self.ann, self.bob, self.spectator = ann, bob, spectator
        self.game_id = game_id
        self.round = 1

    @classmethod
    async def start(cls, server: Any, clients: Clients) -> Match:
        """Start the game (best of 15, rps15) and the spectator's subscription."""
        ann = await clients.player(server, "ann")
        bob = await clients.player(server, "bob")
        game_id = await start_pvp(ann, bob, best_of=15)
        spectator = await clients.spectator(server)
        await spectator.ok("subscribe", topic=f"game:{game_id}")
        return cls(ann, bob, spectator, game_id)

    async def tie(self) -> None:
        """Play one tied round and check what each of the three connections reads."""
        topic, n = f"game:{self.game_id}", self.round
        reply, frames = await self.ann.request("move", game=self.game_id, roll="Rock", round=n)
        assert reply["data"] == {"round": n}
        assert [(f["topic"], f["event"]) for f in frames] == [(topic, "moved")]
        reply, frames = await self.bob.request("move", game=self.game_id, roll="rock", round=n)
        assert reply["data"] == {"round": n}
        after = [(topic, "moved"), (topic, "moved"), (topic, "round"), (topic, "round_open")]
        assert [(f["topic"], f["event"]) for f in frames] == after
        assert frames[2]["data"]["moves"] == {"ann": "Rock", "bob": "Rock"}
        await self.ann.events(*after[1:])
        await self.spectator.events(*after)
        self.round += 1

    async def ties(self, count: int) -> None:
        """Play ``count`` tied rounds."""
        for _ in range(count):
            await self.tie()


@pytest.fixture
async def match(start_hub: HubFactory, clients: Clients) -> Match:
    """A live game on a default hub."""
    return await Match.start(await start_hub(), clients)


async def misbehave(url: str, frame: str | bytes, *, text: bool | None = None) -> int | None:
    """Open a connection, send one frame, return the close code the hub answers with."""
    peer = await Peer.open(url)
    try:
        await peer.ws.send(frame, text=text)
        code, frames = await peer.closed()
        assert frames == []
        return code
    finally:
        await peer.close()


@pytest.fixture
def url(match: Match) -> str:
    """The ``/ws`` URL of the match's hub."""
    host, port = match.ann.ws.remote_address[:2]
    return f"ws://{host}:{port}/ws"


async def test_a_frame_over_65536_bytes_is_closed_with_1009(match: Match, url: str) -> None:
    frame = json.dumps({"type": "subscribe", "id": 1, "topic": "lobby", "pad": ""})
    frame = frame[:-2] + "x" * (MAX_FRAME + 1 - len(frame)) + '"}'
    assert len(frame.encode()) == MAX_FRAME + 1
    code, _ = await asyncio.gather(misbehave(url, frame), match.ties(3))
    assert code == 1009
    await match.tie()


async def test_a_frame_of_exactly_65536_bytes_is_read(match: Match, url: str) -> None:
    frame = json.dumps({"type": "subscribe", "id": 1, "topic": "lobby", "pad": ""})
    frame = frame[:-2] + "x" * (MAX_FRAME - len(frame)) + '"}'
    assert len(frame.encode()) == MAX_FRAME
    peer = await Peer.open(url)
    try:
        await peer.ws.send(frame)
        reply = await peer.recv()
        assert reply["id"] == 1
        assert reply["ok"], reply
    finally:
        await peer.close()
    await match.tie()


async def test_a_binary_frame_is_closed_with_1003(match: Match, url: str) -> None:
    frame = b'{"type": "subscribe", "id": 1, "topic": "lobby"}'
    code, _ = await asyncio.gather(misbehave(url, frame), match.ties(3))
    assert code == 1003
    await match.tie()


async def test_invalid_utf8_in_a_text_frame_is_closed_with_1007(match: Match, url: str) -> None:
    frame = b'{"type": "auth", "id": 1, "token": "\xff\xfe"}'
    code, _ = await asyncio.gather(misbehave(url, frame, text=True), match.ties(3))
    assert code == 1007
    await match.tie()


async def test_invalid_json_is_a_bad_request_with_id_null_and_the_connection_stays_open(
    match: Match, url: str
) -> None:
    peer = await Peer.open(url)
    try:

        async def garble() -> dict[str, Any]:
            await peer.ws.send('{"type": "subscribe", "id": 1,')
            return await peer.recv()

        reply, _ = await asyncio.gather(garble(), match.ties(2))
        assert reply["type"] == "reply"
        assert reply["id"] is None
        assert reply["ok"] is False
        assert reply["error"]["code"] == "bad_request"
        assert (await peer.ok("subscribe", topic="lobby"))["topic"] == "lobby"
    finally:
        await peer.close()
    await match.tie()


async def test_an_unknown_op_is_a_bad_request_naming_it_with_the_request_id(
    match: Match, url: str
) -> None:
    peer = await Peer.open(url)
    try:
        (reply, frames), _ = await asyncio.gather(peer.request("dance"), match.ties(2))
        assert frames == []
        assert reply["ok"] is False
        assert reply["error"]["code"] == "bad_request"
        assert "'dance'" in reply["error"]["message"]
        assert (await peer.ok("subscribe", topic="lobby"))["topic"] == "lobby"
    finally:
        await peer.close()
    await match.tie()


async def test_a_field_of_the_wrong_type_is_a_bad_request_naming_the_field(
    match: Match, url: str
) -> None:
    peer = await Peer.open(url)
    try:
        error, _ = await asyncio.gather(peer.error("subscribe", topic=7), match.ties(2))
        assert error["code"] == "bad_request"
        assert "'topic'" in error["message"]
        error = await peer.error("subscribe", topic="lobby", since="1", epoch="e")
        assert error["code"] == "bad_request"
        assert "'since'" in error["message"]
        assert (await peer.ok("subscribe", topic="lobby"))["topic"] == "lobby"
    finally:
        await peer.close()
    await match.tie()


async def test_requests_beyond_the_burst_are_answered_rate_limited_with_their_ids(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    peer = await clients.spectator(server)
    ids = [await peer.send("unsubscribe", topic="lobby") for _ in range(60)]
    replies = [await peer.recv() for _ in ids]
    assert [r["id"] for r in replies] == ids
    codes = [r["error"]["code"] if not r["ok"] else "ok" for r in replies]
    assert codes[:40] == ["ok"] * 40
    assert "rate_limited" in codes[40:]
    assert set(codes) == {"ok", "rate_limited"}


async def test_a_rate_of_0_answers_every_request(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub(rate=0, burst=0)
    peer = await clients.spectator(server)
    ids = [await peer.send("unsubscribe", topic="lobby") for _ in range(200)]
    replies = [await peer.recv() for _ in ids]
    assert [r["id"] for r in replies] == ids
    assert all(r["ok"] for r in replies)


async def test_sustained_abuse_is_closed_with_1008(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub(rate=0.01, burst=5, abuse_limit=10)
    peer = await clients.spectator(server)
    for _ in range(30):
        await peer.send("unsubscribe", topic="lobby")
    code, frames = await peer.closed()
    assert code == 1008
    codes = [f["error"]["code"] if not f["ok"] else "ok" for f in frames]
    # The tenth refusal closes the connection instead of being answered.
    assert codes == ["ok"] * 5 + ["rate_limited"] * 9


async def test_a_foreign_origin_is_refused_with_403_at_the_upgrade(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(allow_origin=("https://lobby.example",))
    with pytest.raises(InvalidStatus) as refused:
        await clients.spectator(server, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body)["error"]["code"] == "forbidden"


async def test_an_allowed_origin_is_accepted(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub(allow_origin=("https://lobby.example",))
    peer = await clients.spectator(server, origin="https://lobby.example")
    assert (await peer.ok("subscribe", topic="lobby"))["topic"] == "lobby"


async def test_the_hubs_own_origin_is_accepted(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub()
    own = str(server.make_url("/")).rstrip("/")
    peer = await clients.spectator(server, origin=own)
    assert (await peer.ok("subscribe", topic="lobby"))["topic"] == "lobby"


async def test_a_peer_that_never_answers_pings_is_dropped(
    start_hub: HubFactory, clients: Clients
) -> None:
    # websockets always answers pings, so the silent peer is aiohttp's client with autoping off.
    server = await start_hub(heartbeat=0.2)
    alive = await clients.spectator(server)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url(server), autoping=False) as silent,
    ):
        welcome = await silent.receive(timeout=5)
        assert json.loads(welcome.data)["heartbeat"] == 0.2
        pings = 0
        async with asyncio.timeout(5):
            while (msg := await silent.receive()).type is WSMsgType.PING:
                pings += 1
        assert pings >= 1
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    # The peer that answers outlived the silent one by at least one ping.
    assert (await alive.ok("subscribe", topic="lobby"))["topic"] == "lobby"


async def test_a_slow_reader_is_closed_with_1013_while_others_get_every_event(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(outbound_frames=100, outbound_bytes=64 * 1024, rate=1e6, burst=10**6)
    watcher = await clients.spectator(server)
    lobby = await watcher.ok("subscribe", topic="lobby")
    ann = await clients.player(server, "ann")

    async def watch(last: int) -> None:
        while watcher.seqs["lobby"] < last:
            await watcher.recv()

    async def churn(times: int) -> None:  # four lobby events each: two statuses, two queues
        for _ in range(times):
            await ann.ok("play", opponent="*")
            await ann.ok("cancel")

    await asyncio.gather(churn(250), watch(1001))
    # A reader whose client stops reading after one message: every replay of the lobby's ring
    # (990 events) piles up in the hub until the outbound limit closes it.
    slow = await clients.spectator(server, max_queue=1)
    for _ in range(REPLAYS):
        await slow.send("unsubscribe", topic="lobby")  # subscribing again replays nothing
        await slow.send("subscribe", topic="lobby", since=11, epoch=lobby["epoch"])
    await asyncio.gather(churn(10), watch(1041))
    code, frames = await slow.closed()
    assert code == 1013
    assert 0 < len(frames) < REPLAYS * 992
    assert [f["type"] for f in frames[:2]] == ["reply", "reply"]
    assert frames[1]["data"]["recovered"] is True
    # The others never noticed: the player's requests and the watcher's events all went through.
    await churn(5)
    await watch(1061)
    assert watcher.seqs["lobby"] == 1061
    # The slow reader reconnects and recovers from the last event it read.
    last = max(f["seq"] for f in frames if f["type"] == "event")
    again = await clients.spectator(server)
    data = await again.ok("subscribe", topic="lobby", since=last, epoch=lobby["epoch"])
    assert data["recovered"] is True
    frames = [await again.recv() for _ in range(1061 - last)]
    assert [f["seq"] for f in frames] == list(range(last + 1, 1062))


async def test_closing_a_slow_consumer_is_counted_in_the_metrics(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(outbound_frames=100, outbound_bytes=64 * 1024, rate=1e6, burst=10**6)
    watcher = await clients.spectator(server)
    lobby = await watcher.ok("subscribe", topic="lobby")
    ann = await clients.player(server, "ann")
    for _ in range(150):  # four lobby events each: two statuses, two queues
        await ann.ok("play", opponent="*")
        await ann.ok("cancel")
    slow = await clients.spectator(server, max_queue=1)
    for _ in range(REPLAYS):
        await slow.send("unsubscribe", topic="lobby")  # subscribing again replays nothing
        await slow.send("subscribe", topic="lobby", since=0, epoch=lobby["epoch"])
    code, _ = await slow.closed()
    assert code == 1013

    async def counted() -> bool:
        async with aiohttp.ClientSession() as http, http.get(server.make_url("/metrics")) as resp:
            return "rps_hub_slow_consumers_closed_total 1.0" in await resp.text()

    await eventually(counted)
