"""The client library against a real hub: whole games, error replies, and recovery after a drop."""

from __future__ import annotations

import asyncio
import socket

import pytest

from client import rest
from client.connection import Event, HubClient, State
from client.errors import ClientError
from tests.client.support import (
    TIMEOUT,
    Clients,
    ProxyFactory,
    is_event,
    is_state,
    until,
    url_of,
)
from tests.conftest import HubFactory


async def start_duel(ann: HubClient, bob: HubClient) -> str:
    """Ann challenges bob, bob accepts: the game's id."""
    challenge = (await ann.play("bob", best_of=3, rules="rps3"))["challenge"]
    await until(bob, is_event("challenge", id=challenge))
    game: str = (await bob.accept(challenge))["game"]
    await until(ann, is_event("round_open", round=1))
    return game


def game_seqs(items: list[Event], game: str) -> list[int]:
    return [i["seq"] for i in items if i.get("type") == "event" and i["topic"] == f"game:{game}"]


async def test_the_library_plays_a_whole_game_against_the_computer(
    start_hub: HubFactory, clients: Clients
) -> None:
    url = url_of(await start_hub())
    ann = await clients.player(url, "ann")
    game = (await ann.play("computer", best_of=3, rules="rps3"))["game"]
    items: list[Event] = []
    async with asyncio.timeout(TIMEOUT):
        while not any(is_event("game_over")(i) for i in items):
            item = await ann.next_event()
            items.append(item)
            if is_event("round_open")(item):
                assert await ann.move(game, "rock", item["data"]["round"]) == {
                    "round": item["data"]["round"]
                }
    rounds = [i["data"] for i in items if is_event("round")(i)]
    over = items[-1]["data"]
    assert over["reason"] == "won"
    assert max(over["score"].values()) == 2
    assert all(r["moves"]["ann"] == "Rock" for r in rounds)
    assert game_seqs(items, game) == list(range(1, len(game_seqs(items, game)) + 1))
    record = await rest.player(url, "ann")
    assert record["games"] == 1


async def test_an_error_reply_raises_a_client_error_with_the_hubs_code(
    start_hub: HubFactory, clients: Clients
) -> None:
    url = url_of(await start_hub())
    ann = await clients.player(url, "ann")
    with pytest.raises(ClientError) as caught:
        await ann.move("no-such-game", "rock", 1)
    assert caught.value.code == "not_found"


async def test_a_spectator_may_not_play(start_hub: HubFactory, clients: Clients) -> None:
    url = url_of(await start_hub())
    watcher = await clients.spectator(url)
    with pytest.raises(ClientError) as caught:
        await watcher.play("computer")
    assert caught.value.code == "unauthorized"


async def test_a_hub_that_is_not_there_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ClientError) as caught:
        await HubClient.connect(f"http://127.0.0.1:{port}")
    assert caught.value.code == "unavailable"
    assert "connection refused" in caught.value.message


async def test_a_taken_name_cannot_be_registered_again_in_another_case(
    start_hub: HubFactory,
) -> None:
    url = url_of(await start_hub())
    await rest.register(url, "ann")
    with pytest.raises(ClientError) as caught:
        await rest.register(url, "ANN")
    assert caught.value.code == "conflict"
    assert "taken" in caught.value.message


async def test_a_dropped_connection_says_reconnecting_then_connected(
    start_hub: HubFactory, clients: Clients, proxies: ProxyFactory
) -> None:
    server = await start_hub()
    proxy = await proxies(server)
    ann = await clients.player(url_of(server), "ann", via=proxy.url)
    proxy.cut(block=False)
    await until(ann, is_state("reconnecting"))
    await until(ann, is_state("connected"))
    assert ann.state is State.CONNECTED
    assert proxy.accepted == 2


async def test_a_round_played_while_the_connection_was_down_is_replayed_once_in_order(
    start_hub: HubFactory, clients: Clients, proxies: ProxyFactory
) -> None:
    server = await start_hub()
    url = url_of(server)
    proxy = await proxies(server)
    ann = await clients.player(url, "ann", via=proxy.url)
    bob = await clients.player(url, "bob")
    game = await start_duel(ann, bob)
    await ann.move(game, "Rock", 1)
    proxy.cut(block=True)
    before = await until(ann, is_state("reconnecting"))
    await bob.move(game, "Paper", 1)  # round 1 is decided while ann is away
    await until(bob, is_event("round_open", round=2))
    second = asyncio.create_task(ann.move(game, "Rock", 2))  # waits for the next connection
    proxy.unblock()
    after = await until(ann, is_event("moved", round=2, player="ann"))
    assert await second == {"round": 2}
    items = before + after
    results = [i["data"] for i in items if is_event("round")(i)]
    assert results == [
        {
            "round": 1,
            "moves": {"ann": "Rock", "bob": "Paper"},
            "winner": "bob",
            "score": {"ann": 0, "bob": 1},
        }
    ]
    seqs = game_seqs(items, game)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_a_move_sent_while_reconnecting_goes_out_once_the_client_is_back(
    start_hub: HubFactory, clients: Clients, proxies: ProxyFactory
) -> None:
    server = await start_hub()
    proxy = await proxies(server)
    ann = await clients.player(url_of(server), "ann", via=proxy.url)
    game = (await ann.play("computer", best_of=1, rules="rps3"))["game"]
    proxy.cut(block=True)
    await until(ann, is_state("reconnecting"))
    move = asyncio.create_task(ann.move(game, "Rock", 1))
    proxy.unblock()
    items = await until(ann, is_event("round", round=1))
    assert await move == {"round": 1}
    assert [i["data"]["moves"]["ann"] for i in items if is_event("round")(i)] == ["Rock"]


async def test_a_topic_the_hub_can_no_longer_replay_comes_back_as_a_snapshot(
    start_hub: HubFactory, clients: Clients, proxies: ProxyFactory
) -> None:
    server = await start_hub(history=2)
    url = url_of(server)
    proxy = await proxies(server)
    watcher = await clients.spectator(proxy.url)
    first = await watcher.subscribe("lobby")
    assert first["recovered"] is False
    proxy.cut(block=True)
    await until(watcher, is_state("reconnecting"))
    for name in ("ann", "bob", "cid"):  # three lobby events: more than the hub keeps
        await clients.player(url, name)
    proxy.unblock()
    items = await until(watcher, lambda i: i.get("type") == "snapshot")
    snapshot = items[-1]
    assert snapshot["topic"] == "lobby"
    assert {p["name"] for p in snapshot["data"]["players"]} == {"ann", "bob", "cid"}
    assert snapshot["seq"] == 3


async def test_subscribing_again_to_a_followed_topic_repeats_no_event(
    start_hub: HubFactory, clients: Clients
) -> None:
    url = url_of(await start_hub())
    watcher = await clients.spectator(url)
    await watcher.subscribe("lobby")
    await clients.player(url, "ann")
    await until(watcher, is_event("player_joined", name="ann"))
    again = await watcher.subscribe("lobby")
    assert again["recovered"] is True
    await clients.player(url, "bob")
    items = await until(watcher, is_event("player_joined", name="bob"))
    assert [i["data"]["name"] for i in items if i.get("type") == "event"] == ["bob"]


async def test_a_client_told_not_to_reconnect_closes_and_ends_its_stream(
    start_hub: HubFactory, clients: Clients, proxies: ProxyFactory
) -> None:
    server = await start_hub()
    proxy = await proxies(server)
    ann = await clients.player(url_of(server), "ann", via=proxy.url, reconnect=False)
    proxy.cut(block=True)
    async with asyncio.timeout(TIMEOUT):
        items = [item async for item in ann.events()]
    assert items[-1]["state"] == "closed"
    assert ann.state is State.CLOSED
    with pytest.raises(ClientError) as caught:
        await ann.cancel()
    assert caught.value.code == "unavailable"


async def test_an_event_lost_on_the_way_is_recovered_in_order_by_subscribing_again(
    start_hub: HubFactory, clients: Clients, proxies: ProxyFactory
) -> None:
    server = await start_hub()
    url = url_of(server)
    proxy = await proxies(server)
    watcher = await clients.spectator(proxy.url)
    await watcher.subscribe("lobby")
    proxy.drop_once(b'"name":"bob"')
    for name in ("ann", "bob", "cid"):
        await clients.player(url, name)
    items = await until(watcher, is_event("player_joined", name="cid"))
    joined = [i for i in items if i.get("type") == "event"]
    assert proxy.dropped == 1
    assert [i["data"]["name"] for i in joined] == ["ann", "bob", "cid"]
    assert [i["seq"] for i in joined] == [1, 2, 3]
