"""Player against player over WebSocket: a whole game as seats, a spectator and the lobby see it."""

from __future__ import annotations

from typing import Any

import aiohttp

from protocol.ratings import NEW, change, rate_game
from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, names, start_pvp

SUMMARY_KEYS = {
    "id",
    "rules",
    "best_of",
    "players",
    "status",
    "reason",
    "winner",
    "score",
    "round",
    "started",
    "finished",
}
GAME_KEYS = SUMMARY_KEYS | {"deadline", "commitment", "epoch", "rounds"}


async def test_a_full_game_reaches_both_seats_a_spectator_and_the_lobby_in_order(
    start_hub: HubFactory, clients: Clients
) -> None:
    # Every round's lobby summary at once (by default quick rounds share one a second).
    server = await start_hub(summary_interval=0)
    lobby = await clients.spectator(server)
    data = await lobby.ok("subscribe", topic="lobby")
    assert data["seq"] == 0
    assert data["recovered"] is False
    assert data["snapshot"] == {"players": [], "games": [], "queue": []}

    ann = await clients.player(server, "ann")
    (joined,) = await lobby.events(("lobby", "player_joined"))
    assert joined["data"] == {"name": "ann", "status": "idle"}
    bob = await clients.player(server, "bob")
    (joined,) = await lobby.events(("lobby", "player_joined"))
    assert joined["data"] == {"name": "bob", "status": "idle"}
    # ann also watches the lobby, so one connection shows the order across topics.
    assert (await ann.ok("subscribe", topic="lobby"))["seq"] == 2

    challenge = (await ann.ok("play", opponent="BOB", best_of=3, rules="rps3"))["challenge"]
    reply, frames = await bob.request("accept", challenge=challenge)
    game_id = reply["data"]["game"]
    assert reply["data"] == {"game": game_id}
    topic = f"game:{game_id}"
    assert names(frames) == [
        ("player:bob", "challenge"),
        ("player:bob", "game_started"),
        (topic, "round_open"),
    ]
    assert frames[0]["data"] == {"id": challenge, "from": "ann", "best_of": 3, "rules": "rps3"}
    game = frames[1]["data"]
    assert set(game) == GAME_KEYS
    assert game["players"] == ["ann", "bob"]
    assert (game["status"], game["round"], game["rounds"], game["score"]) == (
        "playing",
        1,
        [],
        {"ann": 0, "bob": 0},
    )
    assert (game["rules"], game["best_of"], game["commitment"], game["deadline"]) == (
        "rps3",
        3,
        None,
        None,
    )
    assert frames[2]["data"] == {"round": 1, "deadline": None}

    started = await ann.events(
        ("player:ann", "game_started"),
        ("lobby", "game_started"),
        ("lobby", "player_status"),
        ("lobby", "player_status"),
        (topic, "round_open"),
    )
    assert started[0]["data"] == game
    summary = {k: v for k, v in game.items() if k in SUMMARY_KEYS}
    assert started[1]["data"] == {**summary, "spectators": 0}  # the lobby's adds who watches
    assert [e["data"] for e in started[2:4]] == [
        {"name": "ann", "status": "playing"},
        {"name": "bob", "status": "playing"},
    ]
    lobby_started = await lobby.events(
        ("lobby", "game_started"), ("lobby", "player_status"), ("lobby", "player_status")
    )
    assert [e["data"] for e in lobby_started] == [e["data"] for e in started[1:4]]

    spectator = await clients.spectator(server)
    data = await spectator.ok("subscribe", topic=topic)
    assert data == {
        "topic": topic,
        "epoch": game["epoch"],
        "seq": 1,
        "recovered": False,
        "snapshot": game,
    }
    # The lobby hears that the game has a spectator now (its seats' connections do not count).
    watched = await ann.events(("lobby", "game_updated"))
    assert watched[0]["data"]["spectators"] == 1
    assert (await lobby.events(("lobby", "game_updated")))[0]["data"] == watched[0]["data"]

    script = [  # first mover, first roll, second mover, second roll, round winner
        (ann, "rock", bob, "SCISSORS", "ann"),
        (bob, "paper", ann, "Rock", "bob"),
        (ann, "rock", bob, "rock", None),
        (ann, " Paper ", bob, "rock", "ann"),
    ]
    score = {"ann": 0, "bob": 0}
    for n, (first, roll1, second, roll2, winner) in enumerate(script, start=1):
        reply, frames = await first.request("move", game=game_id, roll=roll1)
        assert reply["data"] == {"round": n}
        assert names(frames) == [(topic, "moved")]
        assert frames[0]["data"] == {"round": n, "player": first.name}
        # Nobody learns anything more until the second move.
        reply, frames = await second.request("move", game=game_id, roll=roll2, round=n)
        assert reply["data"] == {"round": n}
        last = n == len(script)
        closing = (topic, "game_over") if last else (topic, "round_open")
        played = [(topic, "moved"), (topic, "moved"), (topic, "round"), closing]
        summary_after = [] if last else [("lobby", "game_updated")]
        assert names(frames) == played + (summary_after if second is ann else [])
        frames = frames[:4]
        moved = [f["data"] for f in frames[:2]]
        assert moved == [{"round": n, "player": first.name}, {"round": n, "player": second.name}]
        if winner is not None:
            score[winner] += 1
        rolls = {first.name: roll1.strip().capitalize(), second.name: roll2.capitalize()}
        assert frames[2]["data"] == {
            "round": n,
            "moves": {"ann": rolls["ann"], "bob": rolls["bob"]},
            "winner": winner,
            "score": score,
        }
        if last:
            won, lost = rate_game(NEW, NEW, 1.0)
            change_of = {"ann": change(NEW, won), "bob": change(NEW, lost)}
            assert frames[3]["data"] == {
                "winner": "ann",
                "reason": "won",
                "score": score,
                "rating_change": change_of,
            }
        else:
            assert frames[3]["data"] == {"round": n + 1, "deadline": None}
        assert await spectator.events(*played) == frames
        rest = await first.events(*played[1:], *(summary_after if first is ann else []))
        assert rest[:3] == frames[1:]
        if not last:
            (updated,) = await lobby.events(*summary_after)
            assert updated["data"] == {**summary, "score": score, "round": n + 1, "spectators": 1}

    finished = await lobby.events(
        ("lobby", "game_finished"), ("lobby", "player_status"), ("lobby", "player_status")
    )
    final = finished[0]["data"]
    assert set(final) == SUMMARY_KEYS | {"spectators"}
    assert (final["status"], final["reason"], final["winner"], final["score"], final["round"]) == (
        "finished",
        "won",
        "ann",
        {"ann": 2, "bob": 1},
        4,
    )
    assert final["finished"] is not None
    assert [e["data"] for e in finished[1:]] == [
        {"name": "ann", "status": "idle"},
        {"name": "bob", "status": "idle"},
    ]
    assert await ann.events(*names(finished)) == finished
    # Nothing else is pending anywhere: the next reply comes right after.
    for peer in (ann, bob, spectator, lobby):
        await peer.assert_quiet()
    assert spectator.seqs[topic] == 1 + 4 * 4
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.make_url(f"/api/games/{game_id}")) as resp,
    ):
        stored = await resp.json()
    assert [r["moves"] for r in stored["rounds"]] == [
        {"ann": "Rock", "bob": "Scissors"},
        {"ann": "Rock", "bob": "Paper"},
        {"ann": "Rock", "bob": "Rock"},
        {"ann": "Paper", "bob": "Rock"},
    ]


async def rest_move(server: Any, token: str, game_id: str, **body: Any) -> tuple[int, Any]:
    """``POST /api/games/{id}/moves`` with a bearer token; returns status and body."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            server.make_url(f"/api/games/{game_id}/moves"),
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        return resp.status, await resp.json()


async def test_a_rest_move_is_broadcast_on_the_game_topic_like_a_websocket_move(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    topic = f"game:{game_id}"
    spectator = await clients.spectator(server)
    await spectator.ok("subscribe", topic=topic)
    assert bob.token is not None
    status, game = await rest_move(server, bob.token, game_id, roll="Fire", round=1)
    assert status == 200
    assert game["rounds"] == []
    for peer in (ann, bob, spectator):
        (moved,) = await peer.events((topic, "moved"))
        assert moved["data"] == {"round": 1, "player": "bob"}
    _, frames = await ann.request("move", game=game_id, roll="Rock", round=1)
    assert names(frames) == [(topic, "moved"), (topic, "round"), (topic, "round_open")]
    assert frames[1]["data"]["moves"] == {"ann": "Rock", "bob": "Fire"}
    await bob.events(*names(frames))
    await spectator.events(*names(frames))


async def test_repeating_a_move_with_its_round_gets_the_same_reply_and_no_event(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob, best_of=1, rules="rps3")
    assert await ann.ok("move", game=game_id, roll="rock", round=1) == {"round": 1}
    reply, frames = await ann.request("move", game=game_id, roll="Rock", round=1)
    assert reply["data"] == {"round": 1}
    assert frames == []
    await bob.ok("move", game=game_id, roll="scissors", round=1)
    await ann.events(
        (f"game:{game_id}", "moved"), (f"game:{game_id}", "round"), (f"game:{game_id}", "game_over")
    )
    # Even after the game ended, the same roll for the round answers as before.
    reply, frames = await ann.request("move", game=game_id, roll="rock", round=1)
    assert reply["data"] == {"round": 1}
    assert frames == []


async def test_a_different_roll_for_a_round_already_moved_in_is_a_conflict(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob, rules="rps3")
    await ann.ok("move", game=game_id, roll="rock", round=1)
    assert (await ann.error("move", game=game_id, roll="paper", round=1))["code"] == "conflict"
    _, frames = await bob.request("move", game=game_id, roll="paper", round=1)
    assert frames[2]["data"]["moves"] == {"ann": "Rock", "bob": "Paper"}
    error = await ann.error("move", game=game_id, roll="scissors", round=1)
    assert error["code"] == "conflict"


async def test_a_move_for_a_round_not_yet_open_is_a_conflict(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    assert (await ann.error("move", game=game_id, roll="Rock", round=2))["code"] == "conflict"


async def test_a_move_in_someone_elses_game_is_forbidden(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    cid = await clients.player(server, "cid")
    game_id = await start_pvp(ann, bob)
    assert (await cid.error("move", game=game_id, roll="Rock"))["code"] == "forbidden"


async def test_resigning_gives_the_game_to_the_other_seat(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    reply, frames = await bob.request("resign", game=game_id)
    assert reply["data"] == {}
    assert names(frames) == [(f"game:{game_id}", "game_over")]
    won, lost = rate_game(NEW, NEW, 1.0)
    assert frames[0]["data"] == {
        "winner": "ann",
        "reason": "resigned",
        "score": {"ann": 0, "bob": 0},
        "rating_change": {"ann": change(NEW, won), "bob": change(NEW, lost)},
    }
    assert await ann.events(*names(frames)) == frames


async def test_a_roll_not_in_the_rules_is_refused_and_changes_nothing(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob, rules="rps3")
    error = await ann.error("move", game=game_id, roll="Spock")
    assert error["code"] == "bad_request"
    await bob.assert_quiet()
    assert await ann.ok("move", game=game_id, roll="Rock") == {"round": 1}
