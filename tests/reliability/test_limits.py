"""Per-address limits behind a trusted proxy: the flooder is held, others are served.

Each flood runs once for the module on one hub started with ``--trusted-proxy 127.0.0.1``, each
from an address of its own; every test checks one thing the flood must leave true.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from attrs import define

from tests.reliability.harness import Hub, Hubs, call, http
from tests.reliability.limits import (
    REGISTRATIONS,
    WS_PER_ADDRESS,
    RestFloodResult,
    WsFloodResult,
    registrations_run,
    rest_flood_run,
    via,
    ws_flood_run,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

BYSTANDER_MOVES = 15
EXTRA_SOCKETS = 5
FRAMES = 20_000  # at most, from all attacking WebSockets (each closed 1008 after 140)
REQUESTS = 5_000  # at most, in the REST flood


@define
class Floods:
    """What the module's floods left."""

    hub: Hub
    rest: RestFloodResult
    registrations: tuple[list[int], int]
    ws: WsFloodResult


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def floods(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Floods]:
    """Run the three floods on one hub, each from its own attacking address."""
    workdir = tmp_path_factory.mktemp("limits")
    started = Hubs(workdir)
    try:
        hub = await started.start(str(workdir / "hub.db"), "--trusted-proxy", "127.0.0.1")
        rest = await rest_flood_run(
            hub, requests=REQUESTS, concurrency=8, bystander_moves=BYSTANDER_MOVES,
            attacker_address="203.0.113.7",
        )  # fmt: skip
        registrations = await registrations_run(hub, REGISTRATIONS + 5, "203.0.113.8")
        ws = await ws_flood_run(
            hub, connections=WS_PER_ADDRESS + EXTRA_SOCKETS, frames=FRAMES,
            bystander_moves=BYSTANDER_MOVES, attacker_address="203.0.113.9",
        )  # fmt: skip
        yield Floods(hub, rest, registrations, ws)
    finally:
        await started.close()


async def test_a_rest_flood_from_one_address_is_answered_200_or_429_rate_limited_only(
    floods: Floods,
) -> None:
    assert floods.rest.other == []
    assert floods.rest.ok + floods.rest.limited == floods.rest.sent > 0


async def test_a_rest_flood_from_one_address_gets_no_more_200s_than_its_burst_and_rate(
    floods: Floods,
) -> None:
    rest = floods.rest
    assert rest.limited > 0, rest
    assert rest.ok <= rest.ok_bound, rest


async def test_another_address_is_served_every_move_during_a_rest_flood(floods: Floods) -> None:
    assert floods.rest.flooded.failures == 0, floods.rest
    assert len(floods.rest.flooded.samples) == BYSTANDER_MOVES


async def test_only_ten_registrations_an_hour_are_taken_from_one_address(floods: Floods) -> None:
    statuses, bystander = floods.registrations
    assert statuses == [201] * REGISTRATIONS + [429] * 5
    assert bystander == 201


async def test_a_51st_open_websocket_from_one_address_is_refused_with_429(
    floods: Floods,
) -> None:
    assert floods.ws.opened == WS_PER_ADDRESS
    assert floods.ws.refused == {429: EXTRA_SOCKETS}


async def test_every_flooding_websocket_is_rate_limited_then_closed_with_1008(
    floods: Floods,
) -> None:
    ws = floods.ws
    assert ws.closed_1008 >= ws.opened, ws
    assert ws.other_closes == {}, ws
    assert ws.rate_limited > 0, ws


async def test_another_address_is_served_every_move_during_a_websocket_flood(
    floods: Floods,
) -> None:
    assert floods.ws.flooded.failures == 0, floods.ws
    assert len(floods.ws.flooded.samples) == BYSTANDER_MOVES


async def test_without_a_trusted_proxy_a_loopback_client_is_exempt_whatever_it_forwards(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    workdir = tmp_path_factory.mktemp("exempt")
    started = Hubs(workdir)
    try:
        hub = await started.start(str(workdir / "hub.db"))
        async with http() as session:
            statuses = [
                (await call(session, "GET", hub.url + "/api/leaderboard", headers=via("1.2.3.4")))[
                    0
                ]
                for _ in range(100)
            ]
    finally:
        await started.close()
    assert statuses == [200] * 100
