"""HAProxy from docs/haproxy-cluster.cfg in front of hub nodes, for the tests of that config.

``proxy_config`` changes only what a test machine needs; ``proxying`` runs HAProxy from it in
front of some nodes; ``Cluster`` talks to the nodes through it (REST over TLS, WebSockets over
WSS, HAProxy's own view of the nodes on its admin socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import shutil
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
from attrs import frozen
from websockets.asyncio.client import connect
from websockets.typing import Origin

from tests.conftest import eventually
from tests.ports import free_port
from tests.reliability.harness import Hub

ROOT = Path(__file__).resolve().parents[2]
CONFIG, GUIDE = ROOT / "docs" / "haproxy-cluster.cfg", ROOT / "docs" / "cluster.md"
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
OPENSSL = shutil.which("openssl")
NAME = "hub.example.org"
NODES = ("10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080")
TIMEOUT = 30


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
        logs = [("haproxy", self.log.read_text(errors="replace"))]
        logs += [(f"node{i + 1}", node.log()) for i, node in enumerate(self.nodes)]
        return "".join(f"\n--- {name}\n{text}" for name, text in logs)

    async def servers(self) -> dict[str, tuple[str, ...]]:
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

    async def call(
        self, method: str, path: str, body: object = None, *, source: str = "127.0.0.1",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:  # fmt: skip
        """One REST call through HAProxy over TLS from address ``source``; status and JSON body."""
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT),
                connector=aiohttp.TCPConnector(local_addr=(source, 0)),
            ) as session,
            session.request(
                method, f"https://127.0.0.1:{self.https_port}{path}", json=body, ssl=self.tls,
                server_hostname=NAME, headers={"Host": NAME, **(headers or {})},
            ) as answer,
        ):  # fmt: skip
            return answer.status, await answer.json(content_type=None)

    async def register(self, name: str, source: str = "127.0.0.1", forged: str = "") -> int:
        """Register ``name`` through HAProxy (``forged``: an X-Forwarded-For sent); the status."""
        headers = {"X-Forwarded-For": forged} if forged else {}
        return (await self.call("POST", "/api/players", {"name": name}, source=source,
                                headers=headers))[0]  # fmt: skip

    async def holders(self, name: str, among: tuple[int, ...] = (0, 1, 2)) -> list[int]:
        """The nodes (by index, of ``among``) whose own database knows player ``name``."""
        found = [(i, await direct(self.nodes[i], "GET", f"/api/players/{name}")) for i in among]
        return [i for i, (status, _) in found if status == 200]

    async def register_on_every_node(self, name: str) -> list[str]:
        """Register ``name`` on each node directly; each node's token, in node order."""
        answers = [await direct(n, "POST", "/api/players", {"name": name}) for n in self.nodes]
        assert [status for status, _ in answers] == [201] * len(self.nodes), answers
        return [body["token"] for _, body in answers]

    def websocket(self) -> connect:
        """A WebSocket over wss through HAProxy, opened as the lobby page would open it."""
        return connect(
            f"wss://{NAME}:{self.https_port}/ws", host="127.0.0.1", ssl=self.tls, proxy=None,
            # As the page at https://NAME:PORT/ sends it (HAProxy passes Host on, port included).
            origin=Origin(f"https://{NAME}:{self.https_port}"),
        )  # fmt: skip


@contextlib.asynccontextmanager
async def proxying(
    workdir: Path, hubs: list[Hub], addresses: list[str], certificate: tuple[Path, Path]
) -> AsyncIterator[Cluster]:
    """The documented HAProxy in front of ``addresses`` (``hubs``' or others), once it serves;
    stopped on exit."""
    cert, pem = certificate
    http_port, https_port = free_port(), free_port()
    admin, log, conf = workdir / "admin.sock", workdir / "haproxy.log", workdir / "h.cfg"
    conf.write_text(proxy_config(addresses, http_port, https_port, pem, admin))
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            str(HAPROXY), "-db", "-f", str(conf),
            stdin=asyncio.subprocess.DEVNULL, stdout=err, stderr=err,
        )  # fmt: skip
    try:
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
        yield cluster
    finally:
        if proc.returncode is None:
            proc.terminate()
            async with asyncio.timeout(TIMEOUT):
                await proc.wait()


async def until(cluster: Cluster, wanted: Callable[[dict[str, tuple[str, ...]]], bool]) -> None:
    """Wait until HAProxy's view of the nodes is as ``wanted``; else fail with it and the logs."""

    async def check() -> bool:
        return wanted(await cluster.servers())

    try:
        await eventually(check)
    except TimeoutError:
        raise AssertionError(f"{await cluster.servers()}{cluster.logs()}") from None
