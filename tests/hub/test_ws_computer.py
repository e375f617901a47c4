"""Playing the computer over WebSocket: commit/reveal, event order, replies."""

from __future__ import annotations

import hashlib

import aiohttp

from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, player


async def test_a_game_against_the_computer_reveals_rolls_that_match_their_commitments(
    start_hub: HubFactory,
) -> None:
    server = await start_hub()
    ann = await player(server, "ann")
    try:
        reply, events = await ann.request("play", opponent="Computer", best_of=3, rules="rps3")
        assert reply["ok"], reply
        game_id = reply["data"]["game"]
        names = [(e["topic"], e["event"]) for e in events]
        assert names == [
            ("player:ann", "game_started"),
            (f"game:{game_id}", "round_open"),
        ]
        commitment = events[1]["data"]["commitment"]
        over = False
        expected_seq = 1
        while not over:
            reply, events = await ann.request("move", game=game_id, roll="rock")
            assert reply["ok"], reply
            game_events = [e for e in events if e["topic"] == f"game:{game_id}"]
            for e in game_events:
                expected_seq += 1
                assert e["seq"] == expected_seq
                if e["event"] == "round":
                    roll = e["data"]["moves"]["computer"]
                    nonce = e["data"]["nonce"]
                    digest = hashlib.sha256(f"{roll}:{nonce}".encode()).hexdigest()
                    assert digest == commitment
                elif e["event"] == "round_open":
                    commitment = e["data"]["commitment"]
                elif e["event"] == "game_over":
                    over = True
    finally:
        await ann.close()


async def test_a_spectator_can_verify_every_commitment_and_the_stored_rounds_keep_them(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer", best_of=3, rules="rpsls"))["game"]
    topic = f"game:{game_id}"
    spectator = await clients.spectator(server)
    snapshot = (await spectator.ok("subscribe", topic=topic))["snapshot"]
    commitment = snapshot["commitment"]
    assert len(commitment) == 64
    revealed = []
    while True:
        _, frames = await ann.request("move", game=game_id, roll="Spock")
        watched = await spectator.events(*[(f["topic"], f["event"]) for f in frames])
        assert watched == frames
        assert [f["event"] for f in frames[:2]] == ["moved", "round"]
        assert frames[0]["data"] == {"round": len(revealed) + 1, "player": "ann"}
        result = frames[1]["data"]
        roll, nonce = result["moves"]["computer"], result["nonce"]
        assert hashlib.sha256(f"{roll}:{nonce}".encode()).hexdigest() == commitment
        revealed.append((commitment, nonce))
        if frames[2]["event"] == "game_over":
            break
        commitment = frames[2]["data"]["commitment"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.make_url(f"/api/games/{game_id}")) as resp,
    ):
        game = await resp.json()
    assert [(r["commitment"], r["nonce"]) for r in game["rounds"]] == revealed
    assert game["commitment"] is None
