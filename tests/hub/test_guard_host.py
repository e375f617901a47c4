"""The Host check against DNS rebinding, which address a request counts under, and the security
headers (docs/protocol.md), on a real hub."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from hub import keys
from hub.addresses import client_address, host_allowed, loopback_bound
from hub.guard import CSP
from hub.limits import AddressLimits
from tests.conftest import HubFactory
from tests.hub.restclient import Rest

# -- the Host check against DNS rebinding -------------------------------------------------


async def test_a_websocket_with_a_foreign_host_is_forbidden_on_a_loopback_hub(
    start_hub: HubFactory,
) -> None:
    server = await start_hub()
    url = f"ws://evil.example:{server.port}/ws"
    with pytest.raises(InvalidStatus) as refused:
        async with asyncio.timeout(5):
            await connect(
                url, host="127.0.0.1", port=server.port, origin=f"http://evil.example:{server.port}"
            )
    assert refused.value.response.status_code == 403
    assert b'"code": "forbidden"' in (refused.value.response.body or b"")


async def test_a_rest_request_with_a_foreign_host_is_forbidden_on_a_loopback_hub(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    server = await start_hub()
    rest = Rest(http, server)
    evil = f"evil.example:{server.port}"
    headers = {"Host": evil, "Origin": f"http://{evil}"}
    assert await rest.error("GET", "/api/rules", headers=headers) == (403, "forbidden")


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]", "LocalHost", "127.1.2.3"])
async def test_a_loopback_host_is_served(
    start_hub: HubFactory, http: aiohttp.ClientSession, name: str
) -> None:
    server = await start_hub()
    status, _ = await Rest(http, server).call(
        "GET", "/api/rules", headers={"Host": f"{name}:{server.port}"}
    )
    assert status == 200


async def test_a_websocket_with_a_loopback_host_is_served(start_hub: HubFactory) -> None:
    server = await start_hub()
    url = f"ws://localhost:{server.port}/ws"
    origin = f"http://localhost:{server.port}"
    async with connect(url, host="127.0.0.1", port=server.port, origin=origin) as ws:
        assert '"welcome"' in str(await asyncio.wait_for(ws.recv(), 5))


async def test_a_host_named_by_allow_host_is_served(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    server = await start_hub(allow_host=("rps.example",))
    status, _ = await Rest(http, server).call(
        "GET", "/api/rules", headers={"Host": f"rps.example:{server.port}"}
    )
    assert status == 200


async def test_a_hub_bound_to_every_address_does_no_host_check(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    server = await start_hub(host="0.0.0.0")
    status, _ = await Rest(http, server).call(
        "GET", "/api/rules", headers={"Host": f"rps.example:{server.port}"}
    )
    assert status == 200


async def test_the_page_with_a_foreign_host_is_forbidden_on_a_loopback_hub(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub())
    assert await rest.error("GET", "/", headers={"Host": "evil.example"}) == (403, "forbidden")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.0.2.10", False),
        ("rps.example", False),
    ],
)
def test_a_hub_is_loopback_bound_only_on_a_loopback_address_or_name(
    host: str, loopback: bool
) -> None:
    assert loopback_bound(host) is loopback


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        ("localhost:8080", True),
        ("app.localhost:8080", True),
        ("127.0.0.1", True),
        ("[::1]:8080", True),
        ("rps.example:8080", True),
        ("RPS.Example.", True),
        (None, True),
        ("evil.example:8080", False),
        ("localhost.evil.example", False),
        ("[::2]:8080", False),
        ("127.0.0.1.evil.example", False),
        ("", False),
    ],
)
def test_the_host_check_accepts_loopback_names_and_allowed_hosts(
    header: str | None, allowed: bool
) -> None:
    assert host_allowed(header, frozenset({"rps.example"})) is allowed


# -- which address a request counts under -------------------------------------------------

NETS = ("10.0.0.0/8", "::1")


@pytest.mark.parametrize(
    ("peer", "xff", "counted"),
    [
        ("198.51.100.4", [], "198.51.100.4"),
        ("198.51.100.4", ["192.0.2.1"], "198.51.100.4"),
        ("127.0.0.1", [], None),
        ("127.0.0.1", ["192.0.2.1"], None),
        ("10.1.2.3", ["192.0.2.1"], "192.0.2.1"),
        ("10.1.2.3", ["198.51.100.9, 192.0.2.1"], "192.0.2.1"),
        ("10.1.2.3", ["198.51.100.9", "192.0.2.1"], "192.0.2.1"),
        ("10.1.2.3", [], "10.1.2.3"),
        ("10.1.2.3", ["127.0.0.1"], None),
        ("::1", ["2001:db8:1:2:3:4:5:6"], "2001:db8:1:2::/64"),
        ("2001:db8:1:2::9", [], "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.4", [], "198.51.100.4"),
        (None, [], None),
    ],
)
def test_a_request_counts_under_its_peer_or_its_trusted_proxys_last_hop(
    peer: str | None, xff: list[str], counted: str | None
) -> None:
    assert client_address(peer, xff, AddressLimits.networks(NETS)) == counted


# -- security headers ---------------------------------------------------------------------

SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CSP,
}


@pytest.mark.parametrize(
    "path", ["/", "/static/app.js", "/static/style.css", "/api/rules", "/api/nothing", "/healthz"]
)
async def test_every_response_carries_the_security_headers(
    start_hub: HubFactory, http: aiohttp.ClientSession, path: str
) -> None:
    server = await start_hub()
    async with http.get(server.make_url(path)) as response:
        assert {k: response.headers.get(k) for k in SECURITY} == SECURITY


async def test_a_refusal_by_the_guard_carries_the_security_headers(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    server = await start_hub()
    async with http.get(
        server.make_url("/api/rules"), headers={"Host": "evil.example"}
    ) as response:
        assert response.status == 403
        assert {k: response.headers.get(k) for k in SECURITY} == SECURITY


async def test_a_refused_websocket_upgrade_carries_the_security_headers(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    server = await start_hub()
    headers = {"Origin": "http://evil.example"}
    async with http.get(server.make_url("/ws"), headers=headers) as response:
        assert response.status == 403
        assert {k: response.headers.get(k) for k in SECURITY} == SECURITY


async def test_an_accepted_websocket_keeps_no_copy_of_its_101s_headers(
    start_hub: HubFactory,
) -> None:
    """The 101 is sent whole (websockets checks its accept key), then the server's response drops
    its headers: they would stay with every open connection for its whole life (~0.3 KB)."""
    server = await start_hub()
    async with connect(str(server.make_url("/ws")).replace("http://", "ws://", 1)) as ws:
        await ws.recv()  # the welcome: the server's side of the connection is set up
        assert ws.response is not None
        sent = ws.response.headers
        assert sent["Upgrade"].lower() == "websocket"
        assert "Sec-WebSocket-Accept" in sent
        (peer,) = server.app[keys.PEERS]
        assert dict(peer.ws.headers) == {}


# -- health -------------------------------------------------------------------------------


async def test_healthz_is_unavailable_while_the_hub_drains(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    server = await start_hub()
    server.app[keys.HUB].draining = True
    assert await Rest(http, server).error("GET", "/healthz") == (503, "unavailable")
