"""Connections that do not keep up, and how every close and shutdown stays bounded (SPEC §3).

Also the WebSocket request metrics, which count these connections' requests by wire op.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.conftest import HubFactory
from tests.hub.wsclient import Clients


async def metrics_text(server: Any) -> str:
    """The hub's ``/metrics`` exposition."""
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/metrics")) as resp:
        assert resp.status == 200
        return await resp.text()


async def test_websocket_requests_are_counted_by_their_wire_op(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer"))["game"]
    await ann.ok("move", game=game_id, roll="Rock")
    await ann.ok("subscribe", topic="lobby")
    text = await metrics_text(server)
    for op, count in [("auth", 1), ("play", 1), ("move", 1), ("subscribe", 1)]:
        assert f'rps_hub_requests_total{{op="{op}",transport="ws"}} {count:.1f}' in text, op
    assert "moverequest" not in text
