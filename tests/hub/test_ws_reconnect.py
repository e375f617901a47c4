"""Reconnecting over WebSocket (docs/protocol.md): a seat gets its live game back, a topic recovers
the events it missed with ``since`` and ``epoch``, or gets a snapshot when it cannot."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hub import keys
from tests.conftest import HubFactory, eventually
from tests.hub.wsclient import Clients, Frame, Peer, names, start_pvp


async def tie(a: Peer, b: Peer, game_id: str, n: int) -> list[Frame]:
    """Both seats play Rock in round ``n``; returns the four events ``b`` read."""
    await a.ok("move", game=game_id, roll="Rock", round=n)
    _, frames = await b.request("move", game=game_id, roll="Rock", round=n)
    await a.events(*names(frames)[1:])
    return frames


async def test_a_seat_that_reconnects_is_subscribed_to_its_live_game(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(grace=5)
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    await ann.ok("move", game=game_id, roll="Rock")
    await bob.events((f"game:{game_id}", "moved"))
    await ann.close()
    again = await clients.spectator(server)
    data = await again.ok("auth", token=ann.token)
    assert [(s["topic"], s["seq"]) for s in data["subscribed"]] == [
        ("player:ann", 1),
        (f"game:{game_id}", 2),
    ]
    _, frames = await bob.request("move", game=game_id, roll="Paper")
    assert names(frames) == [(f"game:{game_id}", e) for e in ("moved", "round", "round_open")]
    assert await again.events(*names(frames)) == frames


async def test_a_spectator_that_reconnects_recovers_every_missed_game_event(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob, best_of=3, rules="rps3")
    topic = f"game:{game_id}"
    spectator = await clients.spectator(server)
    data = await spectator.ok("subscribe", topic=topic)
    epoch = data["epoch"]
    await tie(ann, bob, game_id, 1)
    await spectator.events(
        (topic, "moved"), (topic, "moved"), (topic, "round"), (topic, "round_open")
    )
    seen = spectator.seqs[topic]
    assert seen == 5
    await spectator.close()

    missed = await tie(ann, bob, game_id, 2)
    await ann.ok("move", game=game_id, roll="paper", round=3)
    _, frames = await bob.request("move", game=game_id, roll="rock", round=3)
    missed += frames
    await ann.ok("move", game=game_id, roll="paper", round=4)
    _, frames = await bob.request("move", game=game_id, roll="rock", round=4)
    missed += frames
    assert names(missed)[-1] == (topic, "game_over")

    again = await clients.spectator(server)
    data = await again.ok("subscribe", topic=topic, since=seen, epoch=epoch)
    assert data == {"topic": topic, "epoch": epoch, "seq": 17, "recovered": True, "snapshot": None}
    recovered = [await again.recv() for _ in missed]
    assert recovered == missed
    # Exactly those: the next frame is the reply to the next request.
    await again.assert_quiet()


async def test_recovery_continues_with_live_events_without_a_gap(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    topic = f"game:{game_id}"
    epoch = (await ann.ok("subscribe", topic=topic))["epoch"]
    await tie(ann, bob, game_id, 1)
    spectator = await clients.spectator(server)
    await spectator.ok("subscribe", topic=topic, since=0, epoch=epoch)
    live = await tie(ann, bob, game_id, 2)
    frames = [await spectator.recv() for _ in range(5 + 4)]
    assert [f["seq"] for f in frames] == list(range(1, 10))
    assert frames[5:] == live


async def test_a_stale_epoch_gets_a_snapshot_instead_of_recovery(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    topic = f"game:{game_id}"
    await tie(ann, bob, game_id, 1)
    spectator = await clients.spectator(server)
    data = await spectator.ok("subscribe", topic=topic, since=1, epoch="stale")
    assert (data["recovered"], data["seq"], data["epoch"] != "stale") == (False, 5, True)
    snapshot = data["snapshot"]
    assert (snapshot["id"], snapshot["round"], len(snapshot["rounds"])) == (game_id, 2, 1)
    await spectator.assert_quiet()


async def test_a_since_beyond_the_latest_seq_gets_a_snapshot(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    topic = f"game:{game_id}"
    spectator = await clients.spectator(server)
    epoch = (await spectator.ok("subscribe", topic=topic))["epoch"]
    data = await spectator.ok("subscribe", topic=topic, since=9, epoch=epoch)
    assert (data["recovered"], data["seq"]) == (False, 1)
    assert data["snapshot"]["id"] == game_id
    epoch = (await spectator.ok("subscribe", topic="lobby"))["epoch"]
    data = await spectator.ok("subscribe", topic="lobby", since=9, epoch=epoch)
    # The game's start, two statuses each, and a summary counting the spectator.
    assert (data["recovered"], data["seq"]) == (False, 6)
    assert len(data["snapshot"]["players"]) == 2


async def test_the_lobby_recovers_missed_events_from_its_ring(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    watcher = await clients.spectator(server)
    data = await watcher.ok("subscribe", topic="lobby")
    epoch = data["epoch"]
    ann = await clients.player(server, "ann")
    await watcher.events(("lobby", "player_joined"))
    await watcher.close()

    bob = await clients.player(server, "bob")
    await ann.ok("play", opponent="*")
    _, frames = await bob.request("play", opponent="*")
    game_id = frames[0]["data"]["id"]
    await ann.events(("player:ann", "game_started"), (f"game:{game_id}", "round_open"))
    await ann.ok("resign", game=game_id)

    again = await clients.spectator(server)
    data = await again.ok("subscribe", topic="lobby", since=1, epoch=epoch)
    assert data == {
        "topic": "lobby",
        "epoch": epoch,
        "seq": 11,
        "recovered": True,
        "snapshot": None,
    }
    recovered = [await again.recv() for _ in range(10)]
    assert [(f["seq"], f["event"]) for f in recovered] == [
        (2, "player_joined"),
        (3, "player_status"),
        (4, "queue"),
        (5, "game_started"),
        (6, "player_status"),
        (7, "player_status"),
        (8, "queue"),
        (9, "game_finished"),
        (10, "player_status"),
        (11, "player_status"),
    ]
    assert recovered[0]["data"] == {"name": "bob", "status": "idle"}
    assert recovered[1]["data"] == {"name": "ann", "status": "queued"}
    assert recovered[2]["data"] == {"rules": "rps15", "best_of": 5, "waiting": 1}
    assert recovered[4]["data"] == {"name": "ann", "status": "playing"}
    assert recovered[5]["data"] == {"name": "bob", "status": "playing"}
    assert recovered[6]["data"] == {"rules": "rps15", "best_of": 5, "waiting": 0}
    assert recovered[7]["data"]["reason"] == "resigned"
    await again.assert_quiet()


async def test_lobby_events_older_than_the_ring_are_not_recovered(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(history=3)
    watcher = await clients.spectator(server)
    epoch = (await watcher.ok("subscribe", topic="lobby"))["epoch"]
    for name in ("ann", "bob", "cid", "dan"):
        await clients.player(server, name)
    again = await clients.spectator(server)
    data = await again.ok("subscribe", topic="lobby", since=0, epoch=epoch)
    assert (data["recovered"], data["seq"]) == (False, 4)
    assert [p["name"] for p in data["snapshot"]["players"]] == ["ann", "bob", "cid", "dan"]
    data = await again.ok("subscribe", topic="lobby", since=1, epoch=epoch)
    assert data["recovered"] is True
    frames = [await again.recv() for _ in range(3)]
    assert [f["data"]["name"] for f in frames] == ["bob", "cid", "dan"]


async def test_a_players_own_topic_recovers_missed_challenges(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(grace=5)
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    data = await bob.ok("subscribe", topic="player:BOB")
    assert data["topic"] == "player:bob"
    epoch, seq = data["epoch"], data["seq"]
    await bob.close()
    challenge = (await ann.ok("play", opponent="bob"))["challenge"]
    again = await clients.player(server, "bob", token=bob.token)
    data = await again.ok("subscribe", topic="player:bob", since=seq, epoch=epoch)
    assert data["recovered"] is True
    (event,) = await again.events(("player:bob", "challenge"))
    assert event["data"]["id"] == challenge


async def test_recovering_at_the_latest_seq_sends_nothing_more(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    topic = f"game:{game_id}"
    spectator = await clients.spectator(server)
    data = await spectator.ok("subscribe", topic=topic)
    again = await spectator.ok("subscribe", topic=topic, since=data["seq"], epoch=data["epoch"])
    assert (again["recovered"], again["seq"], again["snapshot"]) == (True, 1, None)
    await spectator.assert_quiet()


async def test_a_lobby_snapshot_never_runs_ahead_of_the_lobby_events(
    start_hub: HubFactory, clients: Clients, db_path: Path
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer"))["game"]
    # Another writer holds SQLite's write lock, so the hub waits to store ann's resignation.
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        resigned = await ann.send("resign", game=game_id)
        hub = server.app[keys.HUB]

        async def over() -> bool:  # the hub holds the outcome it cannot store yet
            return (await hub.game(game_id)).is_over

        await eventually(over)
        spectator = await clients.spectator(server)
        data = await spectator.ok("subscribe", topic="lobby")
    finally:
        blocker.rollback()
        blocker.close()
    snapshot = data["snapshot"]
    assert [(g["id"], g["status"]) for g in snapshot["games"]] == [(game_id, "playing")]
    assert snapshot["players"] == [{"name": "ann", "status": "playing"}]
    finished, status_changed = await spectator.events(
        ("lobby", "game_finished"), ("lobby", "player_status")
    )
    assert (finished["seq"], finished["data"]["reason"]) == (data["seq"] + 1, "resigned")
    assert status_changed["data"] == {"name": "ann", "status": "idle"}
    frame = await ann.recv()
    while frame["type"] != "reply":  # the resignation's events come first
        frame = await ann.recv()
    assert (frame["id"], frame["ok"]) == (resigned, True)
