"""Per-address limits (docs/protocol.md) on a real hub: REST requests, registrations and
WebSockets per address, and the memory they take.

The hub under test listens on 127.0.0.1, so every request comes from a loopback peer: tests that
need a counted client configure 127.0.0.1 as a trusted proxy and name the client in
``X-Forwarded-For``, as a reverse proxy in front of the hub would.  The Host check, the security
headers and which address a request counts under are in test_guard_host.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from hub.limits import AddressLimits
from tests.conftest import HubFactory, eventually
from tests.hub.restclient import Rest
from tests.hub.wsclient import ws_url

PROXY = ("127.0.0.1",)
CLIENT = "203.0.113.7"
OTHER = "203.0.113.8"
# One token back every 100 s: a burst in a test never sees a refill.
SLOW = 0.01


def forwarded(address: str) -> dict[str, str]:
    """The header a proxy adds for a client at ``address``."""
    return {"X-Forwarded-For": address}


async def burst(rest: Rest, n: int, headers: dict[str, str] | None = None) -> list[int]:
    """``n`` sequential ``GET /api/rules``; their statuses."""
    return [(await rest.call("GET", "/api/rules", headers=headers))[0] for _ in range(n)]


async def metric(rest: Rest, sample: str) -> float:
    """The value of one sample of ``/metrics``; 0 when absent."""
    _, text = await rest.call("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# -- REST requests per address ------------------------------------------------------------


async def test_the_41st_request_of_a_burst_from_one_address_is_rate_limited(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub(trusted_proxy=PROXY, rest_rate=SLOW))
    assert await burst(rest, 40, forwarded(CLIENT)) == [200] * 40
    answer = await rest.error("GET", "/api/rules", headers=forwarded(CLIENT))
    assert answer == (429, "rate_limited")


async def test_a_rate_limited_request_says_when_to_retry(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    server = await start_hub(trusted_proxy=PROXY, rest_rate=SLOW)
    await burst(Rest(http, server), 40, forwarded(CLIENT))
    async with http.get(server.make_url("/api/rules"), headers=forwarded(CLIENT)) as response:
        assert response.status == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 100


async def test_another_address_is_not_slowed_by_a_limited_one(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub(trusted_proxy=PROXY, rest_rate=SLOW))
    await burst(rest, 41, forwarded(CLIENT))
    status, _ = await rest.call("GET", "/api/rules", headers=forwarded(OTHER))
    assert status == 200


async def test_a_loopback_peer_that_is_no_trusted_proxy_is_exempt(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub(rest_rate=SLOW))
    assert await burst(rest, 60) == [200] * 60


async def test_x_forwarded_for_from_a_peer_that_is_no_trusted_proxy_is_ignored(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub(trusted_proxy=("192.0.2.1",), rest_rate=SLOW))
    assert await burst(rest, 60, forwarded(CLIENT)) == [200] * 60


async def test_the_proxys_own_hop_counts_not_what_the_client_wrote_before_it(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub(trusted_proxy=PROXY, rest_rate=SLOW))
    await burst(rest, 40, forwarded(f"198.51.100.{1}, {CLIENT}"))
    spoofed = forwarded(f"198.51.100.99, {CLIENT}")
    assert await rest.error("GET", "/api/rules", headers=spoofed) == (429, "rate_limited")


async def test_the_page_and_static_files_do_not_use_the_budget(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub(trusted_proxy=PROXY, rest_rate=SLOW))
    for _ in range(30):
        for path in ("/", "/static/app.js"):
            status, _ = await rest.call("GET", path, headers=forwarded(CLIENT))
            assert status == 200
    assert await burst(rest, 40, forwarded(CLIENT)) == [200] * 40


async def test_refusals_are_counted_in_the_metrics(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub(trusted_proxy=PROXY, rest_rate=SLOW))
    await burst(rest, 43, forwarded(CLIENT))
    assert await metric(rest, 'rps_hub_errors_total{code="rate_limited"}') == 3


# -- registrations per address ------------------------------------------------------------


async def test_the_11th_registration_within_an_hour_from_one_address_is_rate_limited(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub(trusted_proxy=PROXY))
    for n in range(10):
        await rest.ok("POST", "/api/players", {"name": f"p{n}"}, headers=forwarded(CLIENT))
    answer = await rest.error("POST", "/api/players", {"name": "p10"}, headers=forwarded(CLIENT))
    assert answer == (429, "rate_limited")
    assert await rest.error("GET", "/api/players/p10") == (404, "not_found")


async def test_a_registration_over_the_allowance_says_to_retry_within_the_hour(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    server = await start_hub(trusted_proxy=PROXY)
    rest = Rest(http, server)
    for n in range(10):
        await rest.ok("POST", "/api/players", {"name": f"p{n}"}, headers=forwarded(CLIENT))
    headers = {**forwarded(CLIENT), "Content-Type": "application/json"}
    url = server.make_url("/api/players")
    async with http.post(url, data='{"name": "p10"}', headers=headers) as response:
        assert response.status == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 3600


async def test_a_refused_registration_does_not_use_the_hourly_allowance(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub(trusted_proxy=PROXY))
    for _ in range(5):
        bad = await rest.error(
            "POST", "/api/players", {"name": "no spaces"}, headers=forwarded(CLIENT)
        )
        assert bad == (400, "bad_request")
    for n in range(10):
        await rest.ok("POST", "/api/players", {"name": f"p{n}"}, headers=forwarded(CLIENT))


async def test_another_address_may_register_when_one_has_used_its_allowance(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub(trusted_proxy=PROXY))
    for n in range(10):
        await rest.ok("POST", "/api/players", {"name": f"p{n}"}, headers=forwarded(CLIENT))
    await rest.ok("POST", "/api/players", {"name": "other"}, headers=forwarded(OTHER))


async def test_legacy_registrations_share_the_hourly_allowance(
    start_hub: HubFactory, http: aiohttp.ClientSession
) -> None:
    rest = Rest(http, await start_hub(trusted_proxy=PROXY, legacy_api=True))
    for n in range(10):
        await rest.ok("PUT", "/api/game/users", {"user": f"p{n}"}, headers=forwarded(CLIENT))
    answer = await rest.error("PUT", "/api/game/users", {"user": "p10"}, headers=forwarded(CLIENT))
    assert answer == (429, "rate_limited")


# -- WebSocket connections per address ----------------------------------------------------


async def open_socket(server: TestServer, address: str) -> ClientConnection:
    """A WebSocket whose proxy names ``address``; its welcome frame read."""
    ws = await asyncio.wait_for(
        connect(ws_url(server), additional_headers=forwarded(address), max_queue=None), 5
    )
    await asyncio.wait_for(ws.recv(), 5)
    return ws


async def refused_upgrade(server: TestServer, address: str) -> tuple[int, bytes]:
    """Try an upgrade that must be refused; its HTTP status and body."""
    with pytest.raises(InvalidStatus) as refused:
        async with asyncio.timeout(5):
            await connect(ws_url(server), additional_headers=forwarded(address))
    return refused.value.response.status_code, refused.value.response.body or b""


@pytest.fixture
async def sockets() -> AsyncIterator[list[ClientConnection]]:
    """WebSockets closed at the end of the test."""
    opened: list[ClientConnection] = []
    yield opened
    await asyncio.gather(*(ws.close() for ws in opened))


async def test_the_51st_websocket_from_one_address_is_refused_while_50_are_open(
    start_hub: HubFactory, sockets: list[ClientConnection]
) -> None:
    server = await start_hub(trusted_proxy=PROXY)
    sockets.extend(await asyncio.gather(*(open_socket(server, CLIENT) for _ in range(50))))
    status, body = await refused_upgrade(server, CLIENT)
    assert status == 429
    assert b'"code": "rate_limited"' in body


async def test_a_websocket_is_allowed_again_once_one_of_50_closes(
    start_hub: HubFactory, sockets: list[ClientConnection]
) -> None:
    server = await start_hub(trusted_proxy=PROXY)
    sockets.extend(await asyncio.gather(*(open_socket(server, CLIENT) for _ in range(50))))
    await sockets.pop().close()

    async def reopened() -> bool:
        try:
            sockets.append(await open_socket(server, CLIENT))
        except InvalidStatus:
            return False
        return True

    await eventually(reopened)


async def test_50_websockets_from_one_address_leave_another_address_its_own(
    start_hub: HubFactory, sockets: list[ClientConnection]
) -> None:
    server = await start_hub(trusted_proxy=PROXY)
    sockets.extend(await asyncio.gather(*(open_socket(server, CLIENT) for _ in range(50))))
    sockets.append(await open_socket(server, OTHER))


async def test_a_loopback_peer_may_open_more_than_50_websockets(
    start_hub: HubFactory, sockets: list[ClientConnection]
) -> None:
    server = await start_hub()
    sockets.extend(await asyncio.gather(*(open_socket(server, CLIENT) for _ in range(51))))


# -- bounded memory -----------------------------------------------------------------------


def test_idle_addresses_are_forgotten() -> None:
    limits = AddressLimits(rate=20, burst=40, registrations=10, sockets=50)
    for n in range(10_000):
        assert limits.take(f"a{n}", now=0.0) == 0.0
    assert limits.tracked == 10_000
    limits.take("late", now=2.0)
    assert limits.tracked == 1


def test_registrations_are_forgotten_after_an_hour() -> None:
    limits = AddressLimits(rate=20, burst=40, registrations=10, sockets=50)
    for n in range(1000):
        limits.reserve(f"a{n}", now=0.0)
    limits.reserve("late", now=3600.0)
    assert limits.tracked == 1


def test_a_flood_of_distinct_addresses_is_capped() -> None:
    limits = AddressLimits(rate=20, burst=40, registrations=10, sockets=50, max_addresses=100)
    for n in range(1000):
        limits.take(f"a{n}", now=0.0)
        limits.reserve(f"a{n}", now=0.0)
    assert limits.tracked <= 200


def test_an_address_with_no_open_websocket_is_forgotten() -> None:
    limits = AddressLimits(rate=20, burst=40, registrations=10, sockets=50)
    assert limits.open_socket("a")
    limits.close_socket("a")
    assert limits.tracked == 0
