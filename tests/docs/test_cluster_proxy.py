"""docs/haproxy-cluster.cfg, the HAProxy config of docs/cluster.md, run in front of three real hubs.

Only what a test machine needs changes (``proxy_config``). The nodes are ``python -m hub serve``
processes, each a single hub with a SQLite file of its own: this proves the proxy config, not the
cluster; as the nodes share nothing, a player registered on one is unknown to the others, which
tells the nodes apart. Skipped without HAProxy or openssl."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from hub.config import Config
from tests.docs.haproxy import (
    CONFIG,
    GUIDE,
    HAPROXY,
    NAME,
    NODES,
    OPENSSL,
    TIMEOUT,
    Cluster,
    direct,
    free_port,
    proxying,
    until,
)
from tests.reliability.harness import Hub, start_hub

DRAIN = 5  # seconds; the config takes a draining node out within about 2.5 s

pytestmark = pytest.mark.skipif(
    HAPROXY is None or OPENSSL is None, reason="needs haproxy and openssl (apt-get install haproxy)"
)
SHARED = pytest.mark.asyncio(loop_scope="module")  # the loop of the shared ``cluster``


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for ``NAME``, and the chain + key file HAProxy reads."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key, pem = folder / "cert.pem", folder / "key.pem", folder / f"{NAME}.pem"
    subprocess.run(
        [str(OPENSSL), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={NAME}",
         "-addext", f"subjectAltName=DNS:{NAME}"],
        check=True, capture_output=True,
    )  # fmt: skip
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    return cert, pem


@contextlib.asynccontextmanager
async def running(
    workdir: Path, certificate: tuple[Path, Path], *, trusted: str = "127.0.0.1", nodes: bool = True
) -> AsyncIterator[Cluster]:
    """Three nodes (``trusted``: their ``--trusted-proxy``; none when not ``nodes``, and HAProxy
    points at ports nobody listens on) and the documented HAProxy in front, all stopped on exit."""
    hubs: list[Hub] = []
    addresses = [f"127.0.0.1:{free_port()}" for _ in NODES]
    try:
        if nodes:
            dirs = [workdir / f"node{i}" for i in (1, 2, 3)]
            for d in dirs:
                d.mkdir()
            hubs.extend(await asyncio.gather(
                *(start_hub(d, str(d / "hub.db"), "--trusted-proxy", trusted, "--allow-host",
                            NAME, "--drain", str(DRAIN)) for d in dirs)
            ))  # fmt: skip
            addresses = [f"127.0.0.1:{hub.port}" for hub in hubs]
        async with proxying(workdir, hubs, addresses, certificate) as cluster:
            yield cluster
    finally:
        for hub in hubs:
            await hub.kill()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(
    tmp_path_factory: pytest.TempPathFactory, certificate: tuple[Path, Path]
) -> AsyncIterator[Cluster]:
    """One cluster for the tests that leave it as they found it. Its nodes trust all of 127/8 as
    proxies, so that a loopback client named by X-Forwarded-For counts, instead of being exempt."""
    async with running(tmp_path_factory.mktemp("shared"), certificate, trusted="127.0.0.0/8") as c:
        yield c


@pytest.fixture
async def own(tmp_path: Path, certificate: tuple[Path, Path]) -> AsyncIterator[Cluster]:
    """A cluster of the test's own, for a test that stops nodes."""
    async with running(tmp_path, certificate) as cluster:
        yield cluster


async def authenticate(ws: ClientConnection, tokens: list[str]) -> int:
    """Authenticate with whichever node's token the node behind ``ws`` knows; that node's index."""
    assert json.loads(await ws.recv())["type"] == "welcome"
    for i, token in enumerate(tokens):
        await ws.send(json.dumps({"type": "auth", "id": f"auth{i}", "token": token}))
        reply = json.loads(await ws.recv())
        if reply["ok"]:
            return i
        assert reply["error"]["code"] == "unauthorized", reply
    raise AssertionError("no node's token was accepted")


async def play_against_the_computer(ws: ClientConnection, first_id: int) -> str:
    """Play a one-round rps3 game against the computer on ``ws``; the game's id."""
    await ws.send(json.dumps({"type": "play", "id": first_id, "opponent": "computer",
                              "best_of": 1, "rules": "rps3"}))  # fmt: skip
    game = ""
    while True:
        frame = json.loads(await ws.recv())
        if frame.get("id") == first_id:
            assert frame["ok"], frame
            game = frame["data"]["game"]
        elif frame.get("event") == "round_open":
            await ws.send(json.dumps({"type": "move", "id": first_id + 1, "roll": "Rock",
                                      "game": frame["topic"][5:],
                                      "round": frame["data"]["round"]}))  # fmt: skip
        elif frame.get("event") == "game_over":
            assert game, frame
            return game


def test_the_guide_shows_the_config_file_as_it_is() -> None:
    blocks = re.findall(r"```haproxy\n(.*?)```", GUIDE.read_text("utf-8"), re.DOTALL)
    assert "\n".join(blocks) == CONFIG.read_text("utf-8")


def test_the_documented_tunnel_timeout_outlasts_the_hubs_heartbeat_twice() -> None:
    # An idle WebSocket carries a ping and its pong every heartbeat seconds, or is cut.
    found = re.search(r"^\s*timeout tunnel (\d+)s$", CONFIG.read_text("utf-8"), re.MULTILINE)
    assert found, "docs/haproxy-cluster.cfg sets no tunnel timeout in seconds"
    assert int(found.group(1)) >= 2 * Config().heartbeat


@SHARED
async def test_requests_through_the_documented_haproxy_reach_every_node_over_tls(
    cluster: Cluster,
) -> None:
    names = [f"p{i}" for i in range(6)]
    assert await cluster.call("GET", "/healthz") == (200, {"status": "ok"})
    for name in names:
        assert await cluster.register(name) == 201, cluster.logs()
    holders = {name: await cluster.holders(name) for name in names}
    assert all(len(nodes) == 1 for nodes in holders.values()), holders
    assert {nodes[0] for nodes in holders.values()} == {0, 1, 2}, holders


@SHARED
async def test_a_websocket_over_wss_through_the_documented_haproxy_plays_a_game(
    cluster: Cluster,
) -> None:
    tokens = await cluster.register_on_every_node("ann")
    async with asyncio.timeout(TIMEOUT), cluster.websocket() as ws:
        node = await authenticate(ws, tokens)
        game = await play_against_the_computer(ws, 10)
    status, stored = await direct(cluster.nodes[node], "GET", f"/api/games/{game}")
    assert (status, stored["status"]) == (200, "finished")


async def test_a_draining_node_leaves_the_rotation_while_its_open_websocket_plays_on(
    own: Cluster,
) -> None:
    cluster = own
    tokens = await cluster.register_on_every_node("ann")
    async with asyncio.timeout(TIMEOUT), contextlib.AsyncExitStack() as stack:
        # One socket per node (leastconn), so that the nodes are equally loaded: without the
        # health check, new requests would go to the drainer as often as to the others.
        sockets = [await stack.enter_async_context(cluster.websocket()) for _ in range(3)]
        nodes = [await authenticate(ws, tokens) for ws in sockets]
        assert sorted(nodes) == [0, 1, 2], cluster.logs()
        ws, node = sockets[0], nodes[0]
        cluster.nodes[node].proc.send_signal(signal.SIGTERM)  # drains for DRAIN seconds
        await until(cluster, lambda state: state[f"node{node + 1}"] == ("DOWN", "L7STS", "503"))
        await play_against_the_computer(ws, 20)  # the drainer still serves its open socket
        names = [f"q{i}" for i in range(6)]
        for name in names:
            assert await cluster.register(name) == 201, cluster.logs()
        others = tuple(sorted({0, 1, 2} - {node}))
        holders = {name: await cluster.holders(name, others) for name in names}
        assert all(len(found) == 1 for found in holders.values()), holders  # none on the drainer
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert await cluster.nodes[node].wait() == 0, cluster.logs()


async def test_when_every_node_answers_503_the_documented_haproxy_still_sends_clients_to_them(
    own: Cluster,
) -> None:
    # All nodes draining stands in for all of them losing the shared Redis: /healthz says 503
    # everywhere, but each node still serves what it can.
    cluster = own
    for node in cluster.nodes:
        node.proc.send_signal(signal.SIGTERM)
    await until(cluster, lambda state: all(state[f"node{i}"][0] == "DOWN" for i in (1, 2, 3)))
    status = await cluster.register("ann")
    assert (status, len(await cluster.holders("ann"))) == (201, 1), cluster.logs()


@SHARED
async def test_each_client_behind_the_documented_haproxy_is_counted_by_its_own_address(
    cluster: Cluster,  # its nodes trust 127/8, so loopback clients are counted, not exempt
) -> None:
    statuses = []
    for i in range(33):  # each node allows 10 registrations an hour per address
        # Each with a forged X-Forwarded-For of its own, which HAProxy's hop comes after.
        statuses.append(await cluster.register(f"a{i}", "127.0.0.2", f"198.51.100.{i}"))
    others = [await cluster.register(f"b{i}", "127.0.0.3") for i in range(3)]
    assert (set(statuses), statuses.count(201) <= 30) == ({201, 429}, True), cluster.logs()
    assert others == [201, 201, 201], cluster.logs()


@SHARED
async def test_the_documented_haproxy_redirects_plain_http_to_https(cluster: Cluster) -> None:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
        session.get(
            f"http://127.0.0.1:{cluster.http_port}/api/rules",
            headers={"Host": NAME},
            allow_redirects=False,
        ) as answer,
    ):
        assert (answer.status, answer.headers["Location"]) == (301, f"https://{NAME}/api/rules")


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [("/metrics", 404, "not_found"), ("/api/rules", 503, "unavailable")],
    ids=["metrics-stay-private", "no-node-serving"],
)
async def test_what_the_documented_haproxy_answers_itself_is_a_hub_error(
    tmp_path: Path, certificate: tuple[Path, Path], path: str, status: int, code: str
) -> None:
    async with running(tmp_path, certificate, nodes=False) as cluster:  # only HAProxy answers
        answer = await cluster.call("GET", path)
    assert (answer[0], answer[1]["error"]["code"]) == (status, code), cluster.logs()
