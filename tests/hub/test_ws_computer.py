"""Playing the computer over WebSocket: commit/reveal, event order, replies."""

from __future__ import annotations

import hashlib

from tests.conftest import HubFactory
from tests.hub.wsclient import player


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
