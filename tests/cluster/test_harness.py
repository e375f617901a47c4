"""The cluster harness itself, on today's hub: real processes, real PostgreSQL, real Redis.

These run without ``--broker``: one ``serve`` node on a fresh schema, behind one or three slots.
The scenarios of issue 10 (``test_*.py`` beside it) use the same pieces against three nodes.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

import aiohttp
import pytest

from tests.client.proxy import Proxy
from tests.cluster.harness import cluster
from tests.cluster.harness_clients import Conn, connected
from tests.cluster.harness_games import Acks, before, check_game, game_over, move
from tests.cluster.redisserver import RedisServer
from tests.cluster.tcpproxy import TcpProxy
from tests.cluster.test_chaos import ARGS as CHAOS_ARGS
from tests.cluster.test_chaos import chaos_run, seed, with_seed
from tests.cluster.test_cross_node import cross_node_game, simultaneous_moves
from tests.cluster.test_deadline import ARGS as DEADLINE_ARGS
from tests.cluster.test_deadline import a_dead_nodes_deadline_fires
from tests.cluster.test_node_kill import ARGS as KILL_ARGS
from tests.cluster.test_node_kill import kill_the_last_writer
from tests.cluster.test_presence import ARGS as PRESENCE_ARGS
from tests.cluster.test_presence import presence_survives_a_dead_node
from tests.cluster.test_queue import queue_rush
from tests.reliability.harness import call, http


async def test_a_player_plays_the_computer_to_the_end_on_one_node_on_postgresql(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, slots=1, nodes=1, broker=False) as c, connected(c) as clients:
        ann = await clients.player("ann", 0)
        watcher = await clients.watcher(0, "lobby")
        reply = await ann.request("play", opponent="computer", best_of=3, rules="rps3")
        game = reply.data["game"]
        before(ann, reply, "player:ann", "game_started", {"id": game})
        acks = Acks()
        for round_ in range(1, 51):
            await ann.until(partial(opened, game=game, round_=round_), f"round {round_}")
            assert (await move(ann, game, round_, "Rock", acks)).frame["ok"]
            if ann.events(f"game:{game}", "game_over"):
                break
        await game_over(ann, game)
        assert await acks.lost(clients) == []
        await watcher.wait_event("lobby", "game_finished", lambda d: d["id"] == game)
        stored = await check_game(clients, game, [], range(1))
        assert len(stored["rounds"]) == len(acks.moves) >= 2
        clients.assert_sound()


async def test_a_tcp_proxy_forwards_stalls_while_paused_refuses_new_links_and_resumes(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, slots=1, nodes=1, broker=False) as c:
        proxy = await TcpProxy("127.0.0.1", c.node(0).port).start()
        url = f"http://127.0.0.1:{proxy.port}/healthz"
        try:
            async with http() as session:
                assert await call(session, "GET", url) == (200, {"status": "ok"})
                proxy.pause()
                stalled = asyncio.create_task(call(session, "GET", url))
                done, _ = await asyncio.wait([stalled], timeout=0.5)
                assert done == set(), "a request through a paused proxy completed"
                async with http() as other:
                    with pytest.raises(aiohttp.ClientError):
                        await call(other, "GET", url)
                assert proxy.refused >= 1
                proxy.resume()
                assert await asyncio.wait_for(stalled, 10) == (200, {"status": "ok"})
                proxy.cut()
                assert proxy.links == 0
                assert await call(session, "GET", url) == (200, {"status": "ok"})
        finally:
            await proxy.close()


async def test_a_private_redis_behind_a_proxy_answers_is_killed_and_restarts_empty() -> None:
    with RedisServer() as server:
        proxy = await TcpProxy("127.0.0.1", server.port).start()
        try:
            assert await redis_says(proxy.port, b"SET k v") == b"+OK"
            assert await redis_says(proxy.port, b"GET k") == b"$1"
            server.kill()
            assert await redis_says(proxy.port, b"PING") is None
            server.start()
            assert await redis_says(proxy.port, b"GET k") == b"$-1"
        finally:
            await proxy.close()


async def redis_says(port: int, command: bytes) -> bytes | None:
    """The first line of Redis's answer to an inline ``command`` on ``port``; None when closed."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        writer.write(command + b"\r\n")
        async with asyncio.timeout(5):
            line = await reader.readline()
        return line.rstrip(b"\r\n") or None
    except OSError:
        return None
    finally:
        writer.close()


async def test_the_cross_node_scenario_passes_against_one_hub_behind_three_slots(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, slots=3, nodes=1, broker=False) as c, connected(c) as clients:
        await cross_node_game(c, clients)


async def test_the_queue_scenario_passes_against_one_hub_behind_three_slots(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, slots=3, nodes=1, broker=False) as c, connected(c) as clients:
        await queue_rush(c, clients)


def opened(conn: Conn, game: str, round_: int) -> bool:
    """True once ``conn`` has had the ``round_open`` of ``round_`` in ``game``."""
    return any(s.data["round"] == round_ for s in conn.events(f"game:{game}", "round_open"))


async def test_the_node_kill_scenario_passes_against_one_hub_restarted_after_the_kill(
    tmp_path: Path,
) -> None:
    async with (
        cluster(tmp_path, slots=3, nodes=1, broker=False, args=KILL_ARGS) as c,
        connected(c) as clients,
    ):
        await kill_the_last_writer(c, clients)


async def test_the_deadline_scenario_passes_against_one_hub_restarted_after_the_kill(
    tmp_path: Path,
) -> None:
    async with (
        cluster(tmp_path, slots=3, nodes=1, broker=False, args=DEADLINE_ARGS) as c,
        connected(c) as clients,
    ):
        await a_dead_nodes_deadline_fires(c, clients)


async def test_the_presence_scenario_passes_against_one_hub_when_clients_close_instead(
    tmp_path: Path,
) -> None:
    async with (
        cluster(tmp_path, slots=3, nodes=1, broker=False, args=PRESENCE_ARGS) as c,
        connected(c) as clients,
    ):
        await presence_survives_a_dead_node(c, clients)


async def test_a_short_chaos_run_keeps_every_invariant_against_one_hub_killed_and_restarted(
    tmp_path: Path,
) -> None:
    run_seed = seed()
    try:
        async with (
            cluster(tmp_path, slots=3, nodes=1, broker=False, args=CHAOS_ARGS) as c,
            connected(c) as clients,
        ):
            await chaos_run(c, clients, run_seed, 6.0)
    except (AssertionError, TimeoutError) as exc:
        raise with_seed(run_seed, exc) from exc


async def test_a_frame_lost_on_the_way_is_reported_as_a_hole_in_the_topics_seqs(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, slots=1, nodes=1, broker=False) as c, connected(c) as clients:
        proxy = Proxy("127.0.0.1", c.node(0).port)
        await proxy.start()
        try:
            token = await clients.register("ann")
            ann = await clients.connect(0, "ann", url=f"ws://127.0.0.1:{proxy.port}/ws")
            await ann.auth(token)
            game = (await ann.ok("play", opponent="computer", best_of=3, rules="rps3"))["game"]
            proxy.drop_once(b'"event":"moved"')
            assert (await ann.request("move", game=game, roll="Rock", round=1)).frame["ok"]
            assert proxy.dropped == 1
            assert [p for p in clients.problems() if f"game:{game} seq 3 after 1" in p]
            with pytest.raises(AssertionError, match="seq 3 after 1"):
                clients.assert_sound()
            clients.ledger.record("lobby", "e", 1, "one", "x")
            clients.ledger.record("lobby", "e", 1, "two", "y")
            assert clients.ledger.problems == ["y: lobby epoch e seq 1: two != one"]
        finally:
            await proxy.close()


async def test_the_simultaneous_moves_scenario_passes_against_one_hub_behind_three_slots(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, slots=3, nodes=1, broker=False) as c, connected(c) as clients:
        await simultaneous_moves(c, clients)


async def test_a_node_cut_off_from_its_database_stalls_until_healed(tmp_path: Path) -> None:
    async with (
        cluster(tmp_path, slots=1, nodes=1, broker=False, proxied=True) as c,
        connected(c) as clients,
    ):
        await clients.register("ann")
        (db,) = c.node(0).proxies
        assert db.accepted >= 1, "the node's database links do not go through its proxy"
        c.cut(0)
        stalled = asyncio.create_task(clients.rest(0, "GET", "/api/players/ann"))
        done, _ = await asyncio.wait([stalled], timeout=0.5)
        assert done == set(), f"a read of the database answered while cut off: {stalled.result()}"
        c.heal(0)
        status, body = await stalled
        assert (status, body["name"]) == (200, "ann"), body
