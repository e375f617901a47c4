"""docs/haproxy-cluster.cfg in front of three nodes of one hub (``--broker``), as the guide says.

``test_cluster_proxy.py`` proves the proxy's config with three unrelated hubs; this runs the
documented setup whole: three ``serve`` nodes on one PostgreSQL schema and one Redis (a private
``redis-server``), HAProxy from the same file in front.  Two players who only know the proxy's
address play each other wherever their sockets land; one node is killed; they reconnect through
the proxy, recover their game's topic with ``since`` and play again.  Skipped without HAProxy or
openssl, like the proxy's own tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection

from tests.cluster.redisserver import RedisServer
from tests.conftest import eventually
from tests.docs.haproxy import NAME, TIMEOUT, Cluster, proxying, until
from tests.docs.test_cluster_proxy import certificate, pytestmark
from tests.postgres import fresh_schema, schema_url
from tests.reliability.harness import Hub, start_hub

__all__ = ["certificate", "pytestmark"]  # the fixture and the skip mark of the proxy's tests


@contextlib.asynccontextmanager
async def one_hub(workdir: Path, certificate: tuple[Path, Path]) -> AsyncIterator[Cluster]:
    """Three nodes of one hub and the documented HAProxy in front, all stopped on exit."""
    redis = RedisServer()
    redis.start()
    hubs: list[Hub] = []
    try:
        async with fresh_schema() as schema:
            db, broker = schema_url(schema), f"{redis.url}?prefix=lb"
            hubs.extend(await asyncio.gather(*(
                start_hub(workdir, db, "--broker", broker, "--trusted-proxy", "127.0.0.1",
                          "--allow-host", NAME, "--round-deadline", "0", name=f"node{i}")
                for i in (1, 2, 3)
            )))  # fmt: skip
            nodes = [f"127.0.0.1:{hub.port}" for hub in hubs]
            async with proxying(workdir, hubs, nodes, certificate) as cluster:
                up = ("node1", "node2", "node3")
                await until(cluster, lambda s: all(s[n][0] == "UP" for n in up))
                yield cluster
    finally:
        for hub in hubs:
            await hub.kill()
        redis.stop()


class Seat:
    """A player's socket through HAProxy: requests by id, events kept per topic."""

    def __init__(self, ws: ClientConnection, token: str) -> None:
        self.ws, self.token, self.next_id = ws, token, 0
        self.events: list[dict[str, Any]] = []

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request; its reply (events that come first are kept)."""
        self.next_id += 1
        await self.ws.send(json.dumps({"type": op, "id": self.next_id, **fields}))
        async with asyncio.timeout(TIMEOUT):
            while True:
                frame = json.loads(await self.ws.recv())
                if frame.get("type") == "event":
                    self.events.append(frame)
                elif frame.get("id") == self.next_id:
                    assert frame["ok"], frame
                    data: dict[str, Any] = frame["data"]
                    return data

    async def event(self, topic: str, name: str, **match: Any) -> dict[str, Any]:
        """The first ``name`` event of ``topic`` whose data has ``match``."""

        def found() -> dict[str, Any] | None:
            for e in self.events:
                data = e["data"]
                if (e["topic"], e["event"]) == (topic, name) and all(
                    data.get(k) == v for k, v in match.items()
                ):
                    return e
            return None

        async with asyncio.timeout(TIMEOUT):
            while (hit := found()) is None:
                frame = json.loads(await self.ws.recv())
                if frame.get("type") == "event":
                    self.events.append(frame)
            return hit


async def seat(cluster: Cluster, token: str) -> Seat:
    """A WebSocket through HAProxy, authenticated."""
    ws = await cluster.websocket()
    assert json.loads(await ws.recv())["type"] == "welcome"
    player = Seat(ws, token)
    await player.request("auth", token=token)
    return player


async def play(ann: Seat, bob: Seat, game: str, *, since: int = 0) -> dict[str, Any]:
    """One round of a best-of-1 game: Ann Rock, Bob Scissors; the game_over both see."""
    topic = f"game:{game}"
    await ann.event(topic, "round_open", round=1)
    await bob.event(topic, "round_open", round=1)
    await ann.request("move", game=game, roll="Rock", round=1)
    await bob.request("move", game=game, roll="Scissors", round=1)
    overs = [await p.event(topic, "game_over") for p in (ann, bob)]
    assert overs[0]["data"] == overs[1]["data"] and overs[0]["data"]["winner"] == "ann", overs
    assert overs[0]["seq"] > since
    return overs[0]


async def test_two_players_behind_the_proxy_play_one_hub_and_again_after_a_node_dies(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    async with one_hub(tmp_path, certificate) as cluster:
        tokens = {}
        for name in ("ann", "bob"):
            status, body = await cluster.call("POST", "/api/players", {"name": name})
            assert status == 201, (status, body)
            tokens[name] = body["token"]
        ann, bob = await seat(cluster, tokens["ann"]), await seat(cluster, tokens["bob"])
        made = await ann.request("play", opponent="bob", best_of=1, rules="rps3")
        challenge = await bob.event("player:bob", "challenge", id=made["challenge"])
        game = (await bob.request("accept", challenge=challenge["data"]["id"]))["game"]
        over = await play(ann, bob, game)

        await cluster.nodes[0].kill()  # whoever was on it reconnects through the proxy
        await until(cluster, lambda s: s["node1"][0] == "DOWN")
        for p in (ann, bob):
            await p.ws.close()
        ann, bob = await seat(cluster, tokens["ann"]), await seat(cluster, tokens["bob"])
        topic = f"game:{game}"
        # The game's epoch from a snapshot, then the last event again by recovery: the
        # history is the hub's, whichever node answers.
        epoch = (await ann.request("subscribe", topic=topic))["epoch"]
        recovered = await ann.request("subscribe", topic=topic, since=over["seq"] - 1, epoch=epoch)
        assert recovered["recovered"] is True, recovered
        assert await ann.event(topic, "game_over") == over

        async def both_idle() -> bool:
            status, players = await cluster.call("GET", "/api/players?active=1")
            return status == 200 and {p["status"] for p in players["players"]} == {"idle"}

        await eventually(both_idle)
        made = await ann.request("play", opponent="bob", best_of=1, rules="rps3")
        challenge = await bob.event("player:bob", "challenge", id=made["challenge"])
        again = (await bob.request("accept", challenge=challenge["data"]["id"]))["game"]
        await play(ann, bob, again)
        status, stored = await cluster.call("GET", f"/api/games/{again}")
        assert status == 200 and stored["winner"] == "ann", stored
