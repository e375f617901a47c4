"""Connections that hold a slot and do nothing: others are served, they are closed.

Each flood runs once for the module, on a hub of its own with short timeouts (``--header-timeout``,
``--keepalive-timeout``, ``--heartbeat``; the defaults are 10, 75 and 20 s); every test
checks one thing the flood must leave true.  The header and keep-alive timeouts are 4 s, long enough
that the bystander is served while the whole flood still stands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from attrs import define

from tests.reliability.conns import (
    FloodResult,
    half_open_run,
    idle_run,
    second_request_run,
    silent_peer_run,
)
from tests.reliability.harness import Hubs

pytestmark = pytest.mark.asyncio(loop_scope="module")

FLOOD = 200
CAP = 50
SILENT = 20
TIMEOUT = 4  # header and keep-alive timeouts of the flooded hubs
BOUND = 30.0  # no wait is longer
SECOND = 20
SECOND_BOUND = 20.0  # 20 times the header timeout, a 180th of the keep-alive timeout


@define
class Floods:
    """What each flood left."""

    half_open: FloodResult
    idle: FloodResult
    over_cap: FloodResult
    silent: FloodResult
    second: FloodResult


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def floods(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Floods]:
    """Each flood on a hub of its own."""
    workdir = tmp_path_factory.mktemp("conns")
    started = Hubs(workdir)
    try:
        db = str(workdir / "hub.db")
        hub = await started.start(db, "--header-timeout", str(TIMEOUT))
        half_open = await half_open_run(hub, FLOOD, bound=BOUND)
        await hub.terminate()
        hub = await started.start(db, "--keepalive-timeout", str(TIMEOUT))
        idle = await idle_run(hub, FLOOD, bound=BOUND)
        await hub.terminate()
        hub = await started.start(db, "--max-connections", str(CAP), "--header-timeout", "2")
        over_cap = await half_open_run(hub, CAP, bound=BOUND, bystanders=2, ws=False)
        await hub.terminate()
        hub = await started.start(db, "--heartbeat", "1")
        silent = await silent_peer_run(hub, SILENT, bound=BOUND)
        await hub.terminate()
        # A keep-alive timeout far beyond the wait: only the header timeout can close them.
        hub = await started.start(db, "--header-timeout", "1", "--keepalive-timeout", "3600")
        second = await second_request_run(hub, SECOND, bound=SECOND_BOUND)
        yield Floods(half_open, idle, over_cap, silent, second)
    finally:
        await started.close()


async def test_connections_that_never_finish_their_headers_are_all_closed(floods: Floods) -> None:
    assert floods.half_open.closed == floods.half_open.opened == FLOOD


async def test_a_bystander_is_served_over_http_and_websocket_beside_half_open_connections(
    floods: Floods,
) -> None:
    assert floods.half_open.held_meanwhile == FLOOD
    assert floods.half_open.bystander_http == [200] * 3
    assert floods.half_open.bystander_ws == [True] * 3


async def test_idle_keep_alive_connections_are_all_closed(floods: Floods) -> None:
    assert floods.idle.closed == floods.idle.opened == FLOOD


async def test_a_bystander_is_served_over_http_and_websocket_beside_idle_connections(
    floods: Floods,
) -> None:
    assert floods.idle.held_meanwhile == FLOOD
    assert floods.idle.bystander_http == [200] * 3
    assert floods.idle.bystander_ws == [True] * 3


async def test_beyond_max_connections_a_request_is_answered_503(floods: Floods) -> None:
    assert floods.over_cap.bystander_http == [503] * 2


async def test_once_half_open_connections_time_out_a_capped_hub_serves_again(
    floods: Floods,
) -> None:
    assert floods.over_cap.closed == CAP
    assert floods.over_cap.after_http == 200


async def test_websockets_that_never_answer_a_ping_are_all_closed(floods: Floods) -> None:
    assert floods.silent.closed == floods.silent.opened == SILENT
    assert floods.silent.bystander_ws == [True]


async def test_a_keep_alive_connection_whose_next_request_stops_halfway_is_closed(
    floods: Floods,
) -> None:
    # docs/protocol.md: request headers must arrive within the header timeout, every request's.
    assert floods.second.closed == floods.second.opened == SECOND, floods.second
