"""Hypothesis against a real hub: the decode -> dispatch path of ``/ws`` never loses a request.

Frames are mostly requests of docs/protocol.md ops with fields that are right, wrong, ill-typed or
missing, ids of every JSON type, nested junk, huge numbers, unicode (lone surrogates as JSON
escapes too) and some text that is no JSON at all.  They go to one authenticated connection and one
spectator.  Every frame must get exactly one well-formed reply (its id echoed when it is an integer
or a string, null otherwise) with one of the protocol's codes, every event must follow its topic's
seq, the connections stay open, and afterwards the same connection still plays a whole game
against the computer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import HubFactory
from tests.hub.fuzzarena import Arena, Conn
from tests.hub.fuzzframes import MAX_FRAME, Known
from tests.hub.fuzzstrategies import NAME, OTHER, frames
from tests.hub.restclient import Rest, session
from tests.hub.wsclient import Clients

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    # One hub serves every example: starting one per example would test aiohttp's startup.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
async def arena(start_hub: HubFactory, clients: Clients) -> AsyncIterator[Arena]:
    """A hub whose rate limit is out of the way: the fuzzer sends faster than 20 requests/s."""
    server = await start_hub(rate=1e6, burst=10**6)
    async with session() as http:
        rest = Rest(http, server)
        bob_token = await rest.register(OTHER)
        bob = await clients.player(server, OTHER, bob_token)
        token = await rest.register(NAME)
        known = Known(player=NAME, token=token, other=OTHER, other_token=bob_token)
        yield Arena(server, rest, bob, known)


SETUPS = ["computer", "pvp", "challenged", "queued", "idle"]


async def set_up(arena: Arena, conn: Conn, setup: str) -> None:
    """Start the example in some state: a live game, a challenge or a queue ticket waiting."""
    bob = arena.bob
    if setup == "computer":
        play = {"type": "play", "id": "s", "opponent": "computer", "best_of": 15}
        assert (await conn.send(json.dumps(play)))["ok"]
    elif setup in ("pvp", "challenged"):
        reply, _ = await bob.request("play", opponent=NAME, best_of=3, rules="rpsls")
        assert reply["ok"], reply
        if setup == "pvp":
            accept = {"type": "accept", "id": "s", "challenge": reply["data"]["challenge"]}
            game = (await conn.send(json.dumps(accept)))["data"]["game"]
            # bob moves first, so the fuzzed player's move can resolve the round.
            await bob.ok("move", game=game, roll="Spock")
        else:
            arena.known.learn(reply)
    elif setup == "queued":
        reply, _ = await bob.request("play", opponent="*")
        assert reply["ok"], reply


async def play_a_computer_game(rest: Rest, conn: Conn) -> None:
    """Resign what is live, then play a best-of-1 rps3 game against the computer to its end."""
    live = await rest.ok("GET", f"/api/games?player={NAME}&status=playing")
    for game in live["games"]:
        reply = await conn.send(json.dumps({"type": "resign", "id": "r", "game": game["id"]}))
        assert reply["ok"], reply
    play = {"type": "play", "id": "p", "opponent": "computer", "best_of": 1, "rules": "rps3"}
    reply = await conn.send(json.dumps(play))
    assert reply["ok"], reply
    game_id = reply["data"]["game"]
    for n in range(1, 51):
        text = json.dumps({"type": "move", "id": n, "game": game_id, "roll": "Rock", "round": n})
        reply = await conn.send(text)
        assert reply["data"] == {"round": n}, reply
        game = await rest.ok("GET", f"/api/games/{game_id}")
        if game["status"] == "finished":
            break
    assert game["status"] == "finished" and game["reason"] == "won", game
    assert game["winner"] in (NAME, "computer") and len(game["rounds"]) == n, game


def logged_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the hub logged at ERROR or above."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@SETTINGS
@given(data=st.data())
async def test_every_frame_gets_exactly_one_well_formed_reply_and_the_connection_still_plays(
    arena: Arena, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    caplog.clear()
    async with arena.connections() as (player, spectator):
        await set_up(arena, player, data.draw(st.sampled_from(SETUPS), label="setup"))
        for _ in range(data.draw(st.integers(min_value=1, max_value=30), label="frames")):
            on_spectator = data.draw(st.integers(0, 3), label="conn") == 0
            conn = spectator if on_spectator else player
            text = arena.known.render(data.draw(frames(on_spectator), label="frame"))
            if len(text.encode()) <= MAX_FRAME:  # larger ones are closed with 1009 (another test)
                await conn.send(text)
        await player.settle()
        await spectator.settle()
        await play_a_computer_game(arena.rest, player)
    assert await arena.rest.ok("GET", "/healthz") == {"status": "ok"}
    assert logged_errors(caplog) == []


@pytest.fixture
async def limited_arena(start_hub: HubFactory, clients: Clients) -> AsyncIterator[Arena]:
    """A hub whose bucket holds one request per connection and never refills (and whose abuse
    limit is out of reach): every frame after a connection's first is refused unread."""
    server = await start_hub(rate=1e-9, burst=1, abuse_limit=10**9)
    async with session() as http:
        rest = Rest(http, server)
        bob = await clients.player(server, OTHER, await rest.register(OTHER))
        yield Arena(server, rest, bob, Known(NAME, "-", OTHER, "-"))


@SETTINGS
@given(data=st.data())
async def test_a_rate_limited_frame_still_gets_exactly_one_reply_with_its_id(
    limited_arena: Arena, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    caplog.clear()
    async with limited_arena.connections(limited=True) as (_, conn):
        await conn.peer.ok("subscribe", topic="lobby")  # the one request let through
        for _ in range(data.draw(st.integers(min_value=1, max_value=10), label="frames")):
            text = limited_arena.known.render(data.draw(frames(spectator=True), label="frame"))
            if len(text.encode()) <= MAX_FRAME:
                await conn.send(text)
        await conn.settle()
    assert await limited_arena.rest.ok("GET", "/healthz") == {"status": "ok"}
    assert logged_errors(caplog) == []
