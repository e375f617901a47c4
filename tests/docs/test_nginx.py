"""The nginx config of docs/deploy.md, run as written in front of a real hub.

The site file is taken from the document itself; only what must differ on a test machine changes:
ports, the certificate (a throwaway one for hub.example.org), and IPv6 listeners. Skipped when
nginx or openssl is not installed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from attrs import frozen
from websockets.asyncio.client import connect

from tests.conftest import HubFactory, eventually
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy.md"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
OPENSSL = shutil.which("openssl")
NAME = "hub.example.org"
TIMEOUT = 30

pytestmark = pytest.mark.skipif(
    NGINX is None or OPENSSL is None, reason="needs nginx and openssl (apt-get install nginx)"
)


def documented_site() -> str:
    """The nginx site file that docs/deploy.md shows."""
    found = re.search(r"```nginx\n(.*?)```", DEPLOY.read_text("utf-8"), re.DOTALL)
    assert found, "docs/deploy.md shows no nginx config"
    return found.group(1)


def substitute(text: str, old: str, new: str) -> str:
    """Replace what the document must still contain (a changed document fails loudly here)."""
    assert old in text, f"docs/deploy.md's nginx config no longer has {old!r}"
    return text.replace(old, new)


@frozen
class Front:
    """nginx in front of a hub: its ports and a client TLS context that trusts its certificate."""

    http_port: int
    https_port: int
    tls: ssl.SSLContext

    @property
    def base(self) -> str:
        """The HTTPS base URL (connect to 127.0.0.1, present ``NAME``)."""
        return f"https://{NAME}:{self.https_port}"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for ``NAME`` and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [str(OPENSSL), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={NAME}",
         "-addext", f"subjectAltName=DNS:{NAME}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
async def front(
    tmp_path: Path, start_hub: HubFactory, certificate: tuple[Path, Path]
) -> AsyncIterator[Front]:
    """The documented nginx config on free ports, in front of a hub configured as documented."""
    hub = await start_hub(trusted_proxy=("127.0.0.1",), allow_host=(NAME,))
    cert, key = certificate
    http_port, https_port = free_port(), free_port()
    site = "\n".join(line for line in documented_site().splitlines() if "[::]" not in line)
    site = substitute(site, "server 127.0.0.1:8080;", f"server 127.0.0.1:{hub.port};")
    site = substitute(site, "listen 80;", f"listen 127.0.0.1:{http_port};")
    site = substitute(site, "listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    site = substitute(site, f"/etc/letsencrypt/live/{NAME}/fullchain.pem", str(cert))
    site = substitute(site, f"/etc/letsencrypt/live/{NAME}/privkey.pem", str(key))
    temp = {k: tmp_path / k for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes 1;\npid {tmp_path / 'nginx.pid'};\n"
        + f"error_log {tmp_path / 'error.log'};\nevents {{ worker_connections 64; }}\n"
        + f"http {{\naccess_log {tmp_path / 'access.log'};\n"
        + "".join(f"{k}_temp_path {v};\n" for k, v in temp.items())
        + site
        + "\n}\n"
    )
    proc = await asyncio.create_subprocess_exec(
        str(NGINX), "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip

    async def listening() -> bool:
        assert proc.returncode is None, (tmp_path / "error.log").read_text()
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", https_port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    try:
        await eventually(listening)
        yield Front(http_port, https_port, ssl.create_default_context(cafile=str(cert)))
    finally:
        if proc.returncode is None:
            proc.terminate()
        async with asyncio.timeout(TIMEOUT):
            await proc.communicate()


async def call(
    front: Front, method: str, path: str, body: object = None, *, source: str = "127.0.0.1"
) -> tuple[int, Any]:
    """One REST call through nginx over TLS from address ``source``; the status and JSON body."""
    async with (
        aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            connector=aiohttp.TCPConnector(local_addr=(source, 0)),
        ) as session,
        session.request(
            method,
            f"https://127.0.0.1:{front.https_port}{path}",
            json=body,
            ssl=front.tls,
            server_hostname=NAME,
            headers={"Host": NAME},
            allow_redirects=False,
        ) as answer,
    ):
        return answer.status, await answer.json(content_type=None)


async def test_a_browser_like_websocket_plays_a_game_through_the_documented_nginx(
    front: Front,
) -> None:
    status, player = await call(front, "POST", "/api/players", {"name": "ann"})
    assert status == 201
    async with (
        asyncio.timeout(TIMEOUT),
        connect(
            f"wss://{NAME}:{front.https_port}/ws",
            host="127.0.0.1",
            ssl=front.tls,
            origin=f"https://{NAME}",  # what the lobby page served through nginx sends
            proxy=None,
        ) as ws,
    ):
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "auth", "id": 1, "token": player["token"]}))
        await ws.send(json.dumps({"type": "play", "id": 2, "opponent": "computer",
                                  "best_of": 1, "rules": "rps3"}))  # fmt: skip
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("id") == 2:
                game = frame["data"]["game"]
            elif frame.get("event") == "round_open":
                move = {"type": "move", "id": 3, "game": frame["topic"][5:], "roll": "Rock"}
                await ws.send(json.dumps({**move, "round": frame["data"]["round"]}))
            elif frame.get("event") == "game_over":
                break
    status, stored = await call(front, "GET", f"/api/games/{game}")
    assert (status, stored["status"]) == (200, "finished")


async def test_plain_http_is_redirected_to_https_by_the_documented_nginx(front: Front) -> None:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
        session.get(
            f"http://127.0.0.1:{front.http_port}/api/rules",
            headers={"Host": NAME},
            allow_redirects=False,
        ) as answer,
    ):
        assert (answer.status, answer.headers["Location"]) == (301, f"https://{NAME}/api/rules")


def outside_address() -> str | None:
    """This machine's address on its default route, when it has one that is not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


async def test_each_client_behind_the_documented_nginx_has_its_own_registration_allowance(
    front: Front,
) -> None:
    # nginx names each client in X-Forwarded-For, and the hub reads it because --trusted-proxy
    # names nginx; without that, every client would count as nginx's own loopback address.
    outside = outside_address()
    if outside is None:
        pytest.skip("this machine has no address besides loopback")
    for i in range(10):
        status, _ = await call(front, "POST", "/api/players", {"name": f"a{i}"}, source=outside)
        assert status == 201
    refused, _ = await call(front, "POST", "/api/players", {"name": "a10"}, source=outside)
    other, _ = await call(front, "POST", "/api/players", {"name": "b0"})
    assert (refused, other) == (429, 201)
