"""What a connection holds of the games it followed to their end.

Nothing is published on a game's topic after ``game_over``. A connection keeps the subscriptions
of its last ``FINISHED_KEPT`` finished games and the oldest beyond them ends (docs/protocol.md):
a connection that plays game after game (a bot against the computer) held one subscription, and
the hub one more topic, for every game it ever played, until it disconnected.  Ending each at
once would forget what the connection was sent: a ``subscribe`` with ``since`` that crossed the
game's end on its way would get the last events a second time.
"""

from __future__ import annotations

from hub import keys
from hub.fanout import FINISHED_KEPT
from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, Peer


async def play_out(ann: Peer, game_id: str) -> list[dict[str, object]]:
    """Play rock until the game is over; the game topic's events seen on the way."""
    seen: list[dict[str, object]] = []
    while not seen or seen[-1]["event"] != "game_over":
        reply, events = await ann.request("move", game=game_id, roll="rock")
        assert reply["ok"], reply
        seen += [e for e in events if e["topic"] == f"game:{game_id}"]
    return seen


async def test_a_connection_keeps_only_its_last_finished_games_subscriptions(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    subscriptions = server.app[keys.HUB].subscriptions
    ann = await clients.player(server, "ann")
    spectator = await clients.spectator(server)
    held = subscriptions.count()  # ann's own topic
    topics = []
    for n in range(1, FINISHED_KEPT + 3):
        game_id = (await ann.ok("play", opponent="computer", best_of=1, rules="rps3"))["game"]
        topics.append(f"game:{game_id}")
        await spectator.ok("subscribe", topic=topics[-1])
        assert {p.player for p in subscriptions.peers(topics[-1])} == {"ann", None}
        await play_out(ann, game_id)
        assert (await spectator.event(topics[-1], "game_over"))["data"]["reason"] == "won"
        kept = topics[-FINISHED_KEPT:]
        assert [t for t in topics if subscriptions.peers(t)] == kept, n
        assert subscriptions.count() == held + 2 * len(kept)
    assert await ann.ok("unsubscribe", topic=topics[0]) == {}  # as when not subscribed
    # A finished game's topic may be subscribed to again (its snapshot), and then it is held.
    again = await spectator.ok("subscribe", topic=topics[0])
    assert again["snapshot"]["status"] == "finished"
    assert subscriptions.count() == held + 2 * FINISHED_KEPT + 1


async def test_a_subscribe_crossing_the_games_end_replays_nothing_already_sent(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    reply, events = await ann.request("play", opponent="computer", best_of=1, rules="rps3")
    game_id = reply["data"]["game"]
    topic = f"game:{game_id}"
    [started] = [e for e in events if e["event"] == "game_started"]
    epoch = started["data"]["epoch"]
    last = await play_out(ann, game_id)  # round, game_over: sent live
    # As a client recovering from before the last move would ask, its request sent before the
    # events arrived: everything after ``since`` was sent on this connection already.
    since = int(str(last[0]["seq"])) - 1
    ann.starts[topic] = 0  # the seat was subscribed before the game's first event
    answer = await ann.ok("subscribe", topic=topic, since=since, epoch=epoch)
    assert answer["recovered"] is True and answer["seq"] == last[-1]["seq"]
    await ann.assert_quiet()  # no event sent twice
