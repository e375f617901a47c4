"""A finished game's topic holds no subscription after its ``game_over``.

Nothing is published on a game's topic after ``game_over``, so the hub ends every subscription to
it there (docs/protocol.md): a connection that plays game after game (a bot against the computer)
would otherwise hold one more subscription, and the hub one more topic, for every game it ever
played, until it disconnected.
"""

from __future__ import annotations

from hub import keys
from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, Peer


async def play_out(ann: Peer, game_id: str) -> list[str]:
    """Play rock until the game is over; the names of the game topic's events seen."""
    seen: list[str] = []
    while "game_over" not in seen:
        reply, events = await ann.request("move", game=game_id, roll="rock")
        assert reply["ok"], reply
        seen += [e["event"] for e in events if e["topic"] == f"game:{game_id}"]
    return seen


async def test_a_finished_games_topic_keeps_no_subscriber(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    subscriptions = server.app[keys.HUB].subscriptions
    ann = await clients.player(server, "ann")
    spectator = await clients.spectator(server)
    held = subscriptions.count()  # ann's own topic
    for _ in range(3):
        game_id = (await ann.ok("play", opponent="computer", best_of=1, rules="rps3"))["game"]
        topic = f"game:{game_id}"
        await spectator.ok("subscribe", topic=topic)
        assert {p.player for p in subscriptions.peers(topic)} == {"ann", None}
        assert (await play_out(ann, game_id))[-1] == "game_over"
        over = await spectator.event(topic, "game_over")  # the spectator saw the end too
        assert over["data"]["reason"] in ("won", "drawn")
        assert not subscriptions.peers(topic)
        assert subscriptions.count() == held
        assert await ann.ok("unsubscribe", topic=topic) == {}  # as when not subscribed
    # A finished game's topic may be subscribed to again (its snapshot), and then it is held.
    again = await spectator.ok("subscribe", topic=topic)
    assert again["snapshot"]["status"] == "finished"
    assert subscriptions.count() == held + 1
