"""Accepting a challenge when the game cannot be stored: the accepter is told, nothing is lost.

The failure is a real one: the hub's own storage is closed under it (what a database that went
away looks like to the hub), so every save answers ``unavailable``.
"""

from __future__ import annotations

from aiohttp.test_utils import TestServer

from hub import keys
from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, Peer


async def challenged(server: TestServer, clients: Clients) -> tuple[Peer, Peer, str]:
    """ann challenges bob, who has read the challenge; then the hub loses its database."""
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    challenge: str = (await ann.ok("play", opponent="bob"))["challenge"]
    await bob.events(("player:bob", "challenge"))
    await server.app[keys.STORAGE].close()
    return ann, bob, challenge


async def test_an_accept_whose_game_cannot_be_stored_is_unavailable(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    _, bob, challenge = await challenged(server, clients)
    error = await bob.error("accept", challenge=challenge)
    assert error["code"] == "unavailable"


async def test_a_challenge_whose_accept_failed_to_store_is_still_open(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann, bob, challenge = await challenged(server, clients)
    await bob.error("accept", challenge=challenge)
    # Still ann's open challenge: asking again answers it, and bob may still decline it.
    assert (await ann.ok("play", opponent="bob"))["challenge"] == challenge
    await bob.ok("decline", challenge=challenge)
    (declined,) = await ann.events(("player:ann", "challenge_declined"))
    assert declined["data"] == {"id": challenge, "by": "bob"}
