"""Round deadlines: a missed move loses the round; both missing abandons the game.

The hubs here give each round 0.3 s; the tests wait for the events the deadline causes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub import keys
from protocol.ratings import NEW, change, rate_game
from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, Frame, start_pvp

DEADLINE = 0.3


def when(iso: str) -> datetime:
    """An ISO-8601 UTC time with ``Z``."""
    assert iso.endswith("Z")
    return datetime.fromisoformat(iso[:-1] + "+00:00")


async def test_round_open_announces_the_deadline(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub(round_deadline=30)
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    before = datetime.now(UTC)
    challenge = (await ann.ok("play", opponent="bob"))["challenge"]
    _, frames = await bob.request("accept", challenge=challenge)
    opened: Frame = frames[-1]
    assert opened["event"] == "round_open"
    seconds = (when(opened["data"]["deadline"]) - before).total_seconds()
    assert 29 < seconds < 31
    assert frames[-2]["data"]["deadline"] == opened["data"]["deadline"]


async def test_a_seat_that_misses_the_deadline_loses_the_round_with_a_null_move(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(round_deadline=DEADLINE)
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob, best_of=3)
    topic = f"game:{game_id}"
    await ann.ok("move", game=game_id, roll="Rock")
    _, played, opened = await bob.events((topic, "moved"), (topic, "round"), (topic, "round_open"))
    assert played["data"] == {
        "round": 1,
        "moves": {"ann": "Rock", "bob": None},
        "winner": "ann",
        "score": {"ann": 1, "bob": 0},
    }
    assert opened["data"]["round"] == 2
    assert opened["data"]["deadline"] is not None
    assert await ann.events((topic, "round"), (topic, "round_open")) == [played, opened]
    # The round closed without bob's move: sending one now is too late.
    assert (await bob.error("move", game=game_id, roll="Paper", round=1))["code"] == "conflict"


async def test_a_game_decided_by_a_missed_deadline_ends_in_timeout(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(round_deadline=DEADLINE)
    watcher = await clients.lobby(server)
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob, best_of=1)
    topic = f"game:{game_id}"
    await bob.ok("move", game=game_id, roll="Paper")
    played, over = await bob.events((topic, "round"), (topic, "game_over"))
    assert played["data"]["moves"] == {"ann": None, "bob": "Paper"}
    lost, won = rate_game(NEW, NEW, 0.0)
    assert over["data"] == {
        "winner": "bob",
        "reason": "timeout",
        "score": {"ann": 0, "bob": 1},
        "rating_change": {"ann": change(NEW, lost), "bob": change(NEW, won)},
    }
    finished = await watcher.event("lobby", "game_finished")
    assert (finished["data"]["reason"], finished["data"]["winner"]) == ("timeout", "bob")


async def test_a_round_both_seats_miss_ends_the_game_abandoned(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(round_deadline=DEADLINE)
    watcher = await clients.lobby(server)
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    topic = f"game:{game_id}"
    for seat in (ann, bob):
        played, over = await seat.events((topic, "round"), (topic, "game_over"))
        assert played["data"] == {
            "round": 1,
            "moves": {"ann": None, "bob": None},
            "winner": None,
            "score": {"ann": 0, "bob": 0},
        }
        assert over["data"] == {
            "winner": None,
            "reason": "abandoned",
            "score": {"ann": 0, "bob": 0},
        }
    finished = await watcher.event("lobby", "game_finished")
    assert (finished["data"]["reason"], finished["data"]["winner"]) == ("abandoned", None)
    # Both are free again.
    assert "game" in await ann.ok("play", opponent="computer")


async def test_missing_the_deadline_against_the_computer_gives_it_the_round(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(round_deadline=DEADLINE)
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer", best_of=1))["game"]
    topic = f"game:{game_id}"
    played, over = await ann.events((topic, "round"), (topic, "game_over"))
    assert played["data"]["moves"]["ann"] is None
    assert played["data"]["winner"] == "computer"
    assert over["data"]["reason"] == "timeout"


async def test_moves_keep_a_games_one_deadline_timer_and_the_round_still_ends_on_time(
    start_hub: HubFactory, clients: Clients
) -> None:
    """A move pushes the deadline on; the game's timer is not replaced for it (a timer made and
    one cancelled on every move, at 1,000 players thousands a second): it fires at the earlier
    time, finds the round not due yet and waits for the rest, so the round still ends on time."""
    server = await start_hub(round_deadline=DEADLINE)
    table = server.app[keys.HUB].table
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer", best_of=15, rules="rps3"))["game"]
    topic = f"game:{game_id}"
    timer = table.deadlines[game_id]
    frames: list[Frame] = []
    for n in (1, 2):
        reply, frames = await ann.request("move", game=game_id, roll="Rock", round=n)
        assert reply["ok"], reply
        assert table.deadlines[game_id] is timer
    [opened] = [f for f in frames if f.get("event") == "round_open"]  # round 3's
    assert opened["data"]["round"] == 3
    missed = await ann.event(topic, "round")
    assert missed["data"]["round"] == 3
    assert missed["data"]["moves"]["ann"] is None
    late = (datetime.now(UTC) - when(opened["data"]["deadline"])).total_seconds()
    assert -0.05 < late < 1.0  # not before its deadline (ms rounding), and not a timer late
