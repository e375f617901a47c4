"""RedisState.snapshot on a real Redis: the document, hashes and (epoch, seq) of one moment."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest

from hub.cluster.changes import Append, HSet
from hub.cluster.redis_state import RedisState
from protocol.messages import encode_data
from tests.cluster.redisserver import RedisServer


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as running:
        yield running


@pytest.fixture
async def nodes(server: RedisServer) -> AsyncIterator[list[RedisState]]:
    """Two RedisStates on one prefix: two nodes of one hub."""
    prefix = f"t{secrets.token_hex(6)}"
    connected = [await RedisState.connect(server.url, prefix) for _ in range(2)]
    yield connected
    for state in connected:
        await state.close()


async def test_every_snapshot_holds_exactly_the_commits_up_to_its_seq(
    nodes: list[RedisState],
) -> None:
    """Two nodes commit lobby changes (document, a hash field, an event) under the lock while a
    third task snapshots: a snapshot read in several steps would see a commit in one part and not
    in another."""
    commits_each = 60

    async def writer(state: RedisState, name: str) -> None:
        for _ in range(commits_each):
            token = await state.acquire()
            stored = await state.load()
            n = json.loads(stored)["n"] + 1 if stored else 1
            await state.commit(
                token,
                json.dumps({"n": n}).encode(),
                [HSet("games", f"g{n}", name)],
                [Append("lobby", "game_started", n, encode_data({"n": n}))],
            )
            assert await state.release(token)

    writers = asyncio.gather(writer(nodes[0], "a"), writer(nodes[1], "b"))
    snapshots = []
    while not writers.done():
        snapshots.append(await nodes[0].snapshot("lobby", ["games", "absent"]))
    await writers
    snapshots.append(await nodes[1].snapshot("lobby", ["games", "absent"]))
    for snapshot in snapshots:
        n = json.loads(snapshot.document)["n"] if snapshot.document else 0
        assert (n, sorted(snapshot.hashes["games"])) == (
            snapshot.seq,
            sorted(f"g{i}" for i in range(1, snapshot.seq + 1)),
        )
        assert snapshot.hashes["absent"] == {}
    assert len({snapshot.epoch for snapshot in snapshots}) == 1
    assert snapshots[-1].seq == 2 * commits_each
    assert any(0 < snapshot.seq < 2 * commits_each for snapshot in snapshots), "no overlap"


async def test_a_snapshot_matches_the_frames_the_log_holds_up_to_its_seq(
    nodes: list[RedisState],
) -> None:
    published = await nodes[0].commit(
        None, b"doc", [HSet("h", "f", b"v")], [Append("lobby", "e", n, "{}") for n in range(3)]
    )
    snapshot = await nodes[1].snapshot("lobby", ["h"])
    assert snapshot.document == b"doc"
    assert snapshot.hashes == {"h": {"f": b"v"}}
    assert (snapshot.epoch, snapshot.seq) == (published[0].epoch, 3)
    assert await nodes[1].since("lobby", snapshot.epoch, 0) == [p.frame for p in published]


async def test_a_snapshot_of_a_topic_never_appended_to_starts_its_epoch_at_seq_zero(
    nodes: list[RedisState],
) -> None:
    snapshot = await nodes[0].snapshot("player:ann", [])
    assert (snapshot.document, snapshot.hashes, snapshot.seq) == (None, {}, 0)
    assert await nodes[1].head("player:ann") == (snapshot.epoch, 0)
    (published,) = await nodes[1].commit(None, None, [], [Append("player:ann", "e", 1, "{}")])
    assert (published.epoch, published.seq) == (snapshot.epoch, 1)
