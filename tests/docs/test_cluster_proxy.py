"""The HAProxy config of docs/cluster.md, run as written in front of three real hubs.

The config is docs/haproxy-cluster.cfg itself; only what must differ on a test machine changes:
the nodes' addresses, the listening ports, the certificate (a throwaway one for hub.example.org),
logging to stderr instead of syslog, an admin socket in the test's directory, a small ``maxconn``,
and no chroot or user switch. The nodes are three ``python -m hub serve`` processes, each a
single hub with a SQLite file of its own: this proves the proxy config (TLS, WebSocket upgrade,
spreading, health checks, X-Forwarded-For), not the cluster. Since the nodes share nothing, a
player registered on one is unknown to the others, which is how a test tells the nodes apart.
Skipped when HAProxy or openssl is not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import re
import shutil
import signal
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from attrs import frozen
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from hub.config import Config
from tests.conftest import eventually
from tests.reliability.harness import Hub, start_hub

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "docs" / "haproxy-cluster.cfg"
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
OPENSSL = shutil.which("openssl")
NAME = "hub.example.org"
NODES = ("10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080")
DRAIN = 5  # seconds; the config takes a draining node out within about 2.5 s
TIMEOUT = 30

pytestmark = pytest.mark.skipif(
    HAPROXY is None or OPENSSL is None, reason="needs haproxy and openssl (apt-get install haproxy)"
)


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def proxy_config(nodes: list[str], http_port: int, https_port: int, pem: Path, admin: Path) -> str:
    """docs/haproxy-cluster.cfg with this machine's nodes, ports, certificate and files."""
    text = CONFIG.read_text("utf-8")
    for old, new in [
        ("    log /dev/log local0\n", "    log stderr format raw local0\n"),
        ("    chroot /var/lib/haproxy\n", ""),
        ("/run/haproxy/admin.sock mode 660", f"{admin} mode 600"),
        ("    user haproxy\n    group haproxy\n", ""),
        ("maxconn 40000", "maxconn 200"),  # HAProxy raises its open-files limit to fit maxconn
        ("bind :80\n", f"bind 127.0.0.1:{http_port}\n"),
        ("bind :443 ", f"bind 127.0.0.1:{https_port} "),
        (f"/etc/haproxy/certs/{NAME}.pem", str(pem)),
        *zip(NODES, nodes, strict=True),
    ]:
        assert old in text, f"docs/haproxy-cluster.cfg no longer has {old!r}"
        text = text.replace(old, new)
    return text


async def direct(node: Hub, method: str, path: str, body: object = None) -> tuple[int, Any]:
    """One REST call straight to a node, not through the proxy; the status and JSON body."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
        session.request(method, f"{node.url}{path}", json=body) as answer,
    ):
        return answer.status, await answer.json(content_type=None)


@frozen
class Cluster:
    """HAProxy in front of hub nodes: its ports, its files, and a TLS context that trusts it."""

    nodes: tuple[Hub, ...]
    http_port: int
    https_port: int
    tls: ssl.SSLContext
    admin: Path
    log: Path

    def logs(self) -> str:
        """What HAProxy and the nodes wrote so far, for a failure message."""
        return "\n".join(
            [f"--- haproxy\n{self.log.read_text(errors='replace')}"]
            + [f"--- node{i + 1}\n{node.log()}" for i, node in enumerate(self.nodes)]
        )

    async def servers(self) -> dict[str, tuple[str, str, str]]:
        """Each node's state in HAProxy: status, last check's status and its HTTP code."""
        reader, writer = await asyncio.open_unix_connection(str(self.admin))
        writer.write(b"show stat\n")
        text = (await reader.read()).decode()
        writer.close()
        await writer.wait_closed()
        return {
            row["svname"]: (row["status"], row["check_status"], row["check_code"])
            for row in csv.DictReader(text.removeprefix("# ").splitlines())
            if row["pxname"] == "rps_hub_nodes" and row["svname"] != "BACKEND"
        }

    def session(self, source: str = "127.0.0.1") -> aiohttp.ClientSession:
        """A client session whose connections come from address ``source``."""
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            connector=aiohttp.TCPConnector(local_addr=(source, 0)),
        )

    async def call(
        self, session: aiohttp.ClientSession, method: str, path: str, body: object = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:  # fmt: skip
        """One REST call through HAProxy over TLS; the status and the JSON body."""
        async with session.request(
            method, f"https://127.0.0.1:{self.https_port}{path}", json=body, ssl=self.tls,
            server_hostname=NAME, headers={"Host": NAME, **(headers or {})},
            allow_redirects=False,
        ) as answer:  # fmt: skip
            return answer.status, await answer.json(content_type=None)

    async def holders(self, name: str, among: tuple[int, ...] = (0, 1, 2)) -> list[int]:
        """The nodes (by index, of ``among``) whose own database knows player ``name``."""
        found = [(i, await direct(self.nodes[i], "GET", f"/api/players/{name}")) for i in among]
        return [i for i, (status, _) in found if status == 200]

    async def register_on_every_node(self, name: str) -> list[str]:
        """Register ``name`` on each node directly; each node's token, in node order."""
        tokens = []
        for node in self.nodes:
            status, body = await direct(node, "POST", "/api/players", {"name": name})
            assert status == 201, body
            tokens.append(body["token"])
        return tokens

    def websocket(self) -> connect:
        """A WebSocket over wss through HAProxy, opened as the lobby page would open it."""
        return connect(
            f"wss://{NAME}:{self.https_port}/ws", host="127.0.0.1", ssl=self.tls, proxy=None,
            # What the lobby page sends when served from https://NAME:PORT/ through the proxy
            # (HAProxy passes the Host header on as the client wrote it, port included).
            origin=Origin(f"https://{NAME}:{self.https_port}"),
        )  # fmt: skip


StartCluster = Callable[..., Awaitable[Cluster]]


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for ``NAME``, and the chain + key file HAProxy reads."""
    cert, key, pem = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / f"{NAME}.pem"
    subprocess.run(
        [str(OPENSSL), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={NAME}",
         "-addext", f"subjectAltName=DNS:{NAME}"],
        check=True, capture_output=True,
    )  # fmt: skip
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    return cert, pem


@pytest.fixture
async def start_cluster(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> AsyncIterator[StartCluster]:
    """Start three nodes and the documented HAProxy in front; all are stopped after the test.

    ``trusted`` is each node's ``--trusted-proxy``; with ``nodes=False`` no node is started and
    HAProxy points at ports nobody listens on.
    """
    hubs: list[Hub] = []
    procs: list[asyncio.subprocess.Process] = []

    async def start(*, trusted: str = "127.0.0.1", nodes: bool = True) -> Cluster:
        addresses = [f"127.0.0.1:{free_port()}" for _ in NODES]
        if nodes:
            dirs = [tmp_path / f"node{i}" for i in (1, 2, 3)]
            for d in dirs:
                d.mkdir()
            hubs.extend(await asyncio.gather(
                *(start_hub(d, str(d / "hub.db"), "--trusted-proxy", trusted, "--allow-host",
                            NAME, "--drain", str(DRAIN)) for d in dirs)
            ))  # fmt: skip
            addresses = [f"127.0.0.1:{hub.port}" for hub in hubs]
        cert, pem = certificate
        http_port, https_port = free_port(), free_port()
        admin, log, conf = tmp_path / "admin.sock", tmp_path / "haproxy.log", tmp_path / "h.cfg"
        conf.write_text(proxy_config(addresses, http_port, https_port, pem, admin))
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                str(HAPROXY), "-db", "-f", str(conf),
                stdin=asyncio.subprocess.DEVNULL, stdout=err, stderr=err,
            )  # fmt: skip
        procs.append(proc)
        tls = ssl.create_default_context(cafile=str(cert))
        cluster = Cluster(tuple(hubs), http_port, https_port, tls, admin, log)

        async def serving() -> bool:
            assert proc.returncode is None, cluster.logs()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", https_port)
            except OSError:
                return False
            writer.close()
            await writer.wait_closed()
            return admin.exists()

        await eventually(serving)
        return cluster

    try:
        yield start
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
            async with asyncio.timeout(TIMEOUT):
                await proc.wait()
        for hub in hubs:
            await hub.kill()


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


def test_the_documented_tunnel_timeout_outlasts_the_hubs_heartbeat_twice() -> None:
    # An idle WebSocket carries the hub's ping and the client's pong every heartbeat seconds;
    # HAProxy cuts a tunnel silent for its tunnel timeout.
    found = re.search(r"^\s*timeout tunnel (\d+)s$", CONFIG.read_text("utf-8"), re.MULTILINE)
    assert found, "docs/haproxy-cluster.cfg sets no tunnel timeout in seconds"
    assert int(found.group(1)) >= 2 * Config().heartbeat


async def test_requests_through_the_documented_haproxy_reach_every_node_over_tls(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    names = [f"p{i}" for i in range(6)]
    async with cluster.session() as session:
        assert await cluster.call(session, "GET", "/healthz") == (200, {"status": "ok"})
        for name in names:
            status, _ = await cluster.call(session, "POST", "/api/players", {"name": name})
            assert status == 201, cluster.logs()
    holders = {name: await cluster.holders(name) for name in names}
    assert all(len(nodes) == 1 for nodes in holders.values()), holders
    assert {nodes[0] for nodes in holders.values()} == {0, 1, 2}, holders


async def test_a_websocket_over_wss_through_the_documented_haproxy_plays_a_game(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    tokens = await cluster.register_on_every_node("ann")
    async with asyncio.timeout(TIMEOUT), cluster.websocket() as ws:
        node = await authenticate(ws, tokens)
        game = await play_against_the_computer(ws, 10)
    status, stored = await direct(cluster.nodes[node], "GET", f"/api/games/{game}")
    assert (status, stored["status"]) == (200, "finished")


async def test_a_draining_node_leaves_the_rotation_while_its_open_websocket_plays_on(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    tokens = await cluster.register_on_every_node("ann")
    async with asyncio.timeout(TIMEOUT), contextlib.AsyncExitStack() as stack:
        # One socket per node (leastconn), so that the nodes are equally loaded: without the
        # health check, new requests would go to the drainer as often as to the others.
        sockets = [await stack.enter_async_context(cluster.websocket()) for _ in range(3)]
        nodes = [await authenticate(ws, tokens) for ws in sockets]
        assert sorted(nodes) == [0, 1, 2], cluster.logs()
        ws, node = sockets[0], nodes[0]
        cluster.nodes[node].proc.send_signal(signal.SIGTERM)  # drains for DRAIN seconds

        async def out_of_rotation() -> bool:
            return (await cluster.servers())[f"node{node + 1}"] == ("DOWN", "L7STS", "503")

        try:
            await eventually(out_of_rotation)
        except TimeoutError:
            state = await cluster.servers()
            raise AssertionError(f"node{node + 1} in rotation: {state}\n{cluster.logs()}") from None
        await play_against_the_computer(ws, 20)  # the drainer still serves its open socket
        names = [f"q{i}" for i in range(6)]
        async with cluster.session() as session:
            for name in names:
                status, _ = await cluster.call(session, "POST", "/api/players", {"name": name})
                assert status == 201, cluster.logs()
        others = tuple(sorted({0, 1, 2} - {node}))
        holders = {name: await cluster.holders(name, others) for name in names}
        assert all(len(found) == 1 for found in holders.values()), holders  # none on the drainer
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert await cluster.nodes[node].wait() == 0, cluster.logs()


async def test_each_client_behind_the_documented_haproxy_is_counted_by_its_own_address(
    start_cluster: StartCluster,
) -> None:
    # The nodes trust all of 127/8 as proxies, so that a loopback client named in the last
    # X-Forwarded-For hop counts under its own address instead of being exempt as local.
    cluster = await start_cluster(trusted="127.0.0.0/8")
    statuses = []
    async with cluster.session("127.0.0.2") as session:
        for i in range(33):  # each node allows 10 registrations an hour per address
            forged = {"X-Forwarded-For": f"198.51.100.{i}"}  # HAProxy's hop comes after it
            body = {"name": f"a{i}"}
            statuses.append((await cluster.call(session, "POST", "/api/players", body, forged))[0])
    async with cluster.session("127.0.0.3") as session:
        others = [
            (await cluster.call(session, "POST", "/api/players", {"name": f"b{i}"}))[0]
            for i in range(3)
        ]
    assert (set(statuses), statuses.count(201) <= 30) == ({201, 429}, True), cluster.logs()
    assert others == [201, 201, 201], cluster.logs()


async def test_the_documented_haproxy_redirects_plain_http_to_https(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster(nodes=False)
    async with (
        cluster.session() as session,
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
    start_cluster: StartCluster, path: str, status: int, code: str
) -> None:
    cluster = await start_cluster(nodes=False)  # no node listens: only HAProxy can answer
    async with cluster.session() as session:
        answer = await cluster.call(session, "GET", path)
    assert (answer[0], answer[1]["error"]["code"]) == (status, code), cluster.logs()
