"""Devices over REST: more tokens for one player, each revoked alone, on a real hub."""

from __future__ import annotations

from tests.hub.restclient import Rest
from tests.hub.wsclient import Clients


async def test_a_second_token_acts_for_the_same_player(rest: Rest, clients: Clients) -> None:
    first = await rest.register("Ann")
    status, answer = await rest.call("POST", "/api/tokens", token=first)
    assert status == 201 and set(answer) == {"token"}
    second = answer["token"]
    assert second != first and len(second) >= 43
    peer = await clients.player(rest.server, "Ann", token=second)
    assert peer.name == "Ann"


async def test_revoking_one_token_leaves_the_other_working(rest: Rest, clients: Clients) -> None:
    first = await rest.register("Ann")
    second = (await rest.ok("POST", "/api/tokens", token=first))["token"]
    status, body = await rest.call("DELETE", "/api/tokens", token=first)
    assert (status, body) == (204, "")
    assert await rest.error("POST", "/api/games", {}, token=first) == (401, "unauthorized")
    assert await rest.error("DELETE", "/api/tokens", token=first) == (401, "unauthorized")
    game = await rest.ok("POST", "/api/games", {}, token=second)
    assert game["players"] == ["Ann", "computer"]
    peer = await clients.spectator(rest.server)
    assert (await peer.error("auth", token=first))["code"] == "unauthorized"
    assert (await peer.ok("auth", token=second))["player"] == "Ann"


async def test_a_connection_keeps_its_session_after_its_token_is_revoked(
    rest: Rest, clients: Clients
) -> None:
    token = await rest.register("Ann")
    peer = await clients.player(rest.server, "Ann", token=token)
    assert (await rest.call("DELETE", "/api/tokens", token=token))[0] == 204
    assert "game" in await peer.ok("play", opponent="computer")


async def test_tokens_need_a_valid_bearer(rest: Rest) -> None:
    assert await rest.error("POST", "/api/tokens") == (401, "unauthorized")
    assert await rest.error("POST", "/api/tokens", token="nope") == (401, "unauthorized")
    assert await rest.error("DELETE", "/api/tokens") == (401, "unauthorized")
