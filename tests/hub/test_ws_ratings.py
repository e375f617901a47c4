"""Ratings on a real hub: a game between two players over WebSocket is rated (Glicko-2), games
against the computer and abandoned games are not; the player record, the rating leaderboard and
the rating history show it."""

from __future__ import annotations

from pathlib import Path

from protocol.ratings import NEW, Rating, change, rate_game
from storage.base import RatingUpdate
from storage.open import open_storage
from tests.conftest import HubFactory
from tests.hub.restclient import Rest, new_game, session
from tests.hub.wsclient import Clients, Peer, start_pvp
from tests.storage.contract import Table


async def play_out(ann: Peer, bob: Peer, game_id: str) -> dict[str, object]:
    """ann wins a best-of-1 rps3 game; returns the game_over event's data, the same for both."""
    await ann.ok("move", game=game_id, roll="Rock", round=1)
    reply, frames = await bob.request("move", game=game_id, roll="Scissors", round=1)
    assert reply["ok"], reply
    [seen_by_bob] = [f["data"] for f in frames if f.get("event") == "game_over"]
    over = await ann.event(f"game:{game_id}", "game_over")
    assert over["data"] == seen_by_bob
    data: dict[str, object] = over["data"]
    return data


async def test_a_game_between_players_changes_both_ratings_as_glicko_2_says(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann, bob = await clients.player(server, "ann"), await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob, best_of=1, rules="rps3")
    over = await play_out(ann, bob, game_id)
    after_a, after_b = rate_game(NEW, NEW, 1.0)
    expected = {"ann": change(NEW, after_a), "bob": change(NEW, after_b)}
    assert expected["ann"] > 0 > expected["bob"]
    assert over["rating_change"] == expected
    async with session() as s:
        rest = Rest(s, server)
        game = await rest.ok("GET", f"/api/games/{game_id}")
        assert game["rating_change"] == expected
        for name, after in (("ann", after_a), ("bob", after_b)):
            record = await rest.ok("GET", f"/api/players/{name}")
            assert record["rating"] == after.public.to_json()
            assert record["rating"]["provisional"] is True
            history = await rest.ok("GET", f"/api/players/{name}/ratings")
            assert history == [
                {
                    "game": game_id,
                    "ts": game["finished"],
                    "value": after.public.value,
                    "deviation": after.public.deviation,
                }
            ]


async def test_a_second_game_is_rated_from_the_ratings_the_first_left(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann, bob = await clients.player(server, "ann"), await clients.player(server, "bob")
    await play_out(ann, bob, await start_pvp(ann, bob, best_of=1, rules="rps3"))
    second = await start_pvp(bob, ann, best_of=1, rules="rps3")
    await bob.ok("move", game=second, roll="Paper", round=1)
    await ann.ok("move", game=second, roll="Paper", round=1)
    await ann.ok("resign", game=second)
    over = await bob.event(f"game:{second}", "game_over")
    a1, b1 = rate_game(NEW, NEW, 1.0)
    b2, a2 = rate_game(b1, a1, 1.0)
    assert over["data"]["rating_change"] == {"bob": change(b1, b2), "ann": change(a1, a2)}
    async with session() as s:
        history = await Rest(s, server).ok("GET", "/api/players/ann/ratings")
    assert [h["value"] for h in history] == [a1.public.value, a2.public.value]


async def test_games_against_the_computer_are_not_rated(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token, best_of=1, rules="rps3")
    finished = await rest.play_to_the_end(game["id"], token)
    assert "rating_change" not in finished
    record = await rest.ok("GET", "/api/players/ann")
    assert record["rating"] == {"value": 1500, "deviation": 350, "provisional": True}
    assert await rest.ok("GET", "/api/players/ann/ratings") == []


async def test_an_abandoned_game_is_not_rated(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub(round_deadline=0.2)
    ann, bob = await clients.player(server, "ann"), await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob, best_of=1, rules="rps3")
    over = await ann.event(f"game:{game_id}", "game_over")
    assert over["data"]["reason"] == "abandoned" and "rating_change" not in over["data"]
    async with session() as s:
        rest = Rest(s, server)
        assert "rating_change" not in await rest.ok("GET", f"/api/games/{game_id}")
        assert (await rest.ok("GET", "/api/players/ann"))["rating"]["value"] == 1500


async def seed_rated(db: Path, *rows: tuple[str, str, Rating, Rating]) -> None:
    """Store finished games (winner, loser) with the ratings they leave, through real storage."""
    storage = await open_storage(str(db))
    try:
        names = {n for w, lo, _, _ in rows for n in (w, lo)}
        for n in sorted(names):
            await storage.create_player(n, f"hash-{n}", 1)
        rated = dict.fromkeys(names, 0)
        for i, (winner, loser, rw, rl) in enumerate(rows):
            table = await Table.start(storage, (winner, loser), id=f"seed{i}", best_of=1)
            table.game.move(winner, "Rock", None, now=table.now, rng=table.rng)
            table.game.move(loser, "Scissors", None, now=table.now, rng=table.rng)
            table.game.rating_change = {winner: 1, loser: -1}
            ups = [RatingUpdate(winner, rw, rated[winner]), RatingUpdate(loser, rl, rated[loser])]
            await storage.save_game(table.game, [], ups)
            rated[winner] += 1
            rated[loser] += 1
    finally:
        await storage.close()


async def test_the_rating_leaderboard_leaves_out_provisional_players(
    start_hub: HubFactory, db_path: Path
) -> None:
    await seed_rated(
        db_path,
        ("ann", "bob", Rating(1600.2, 80.0, 0.06), Rating(1900.0, 200.0, 0.06)),
        ("cat", "ann", Rating(1700.0, 60.0, 0.06), Rating(1590.0, 79.0, 0.06)),
    )
    server = await start_hub()
    async with session() as s:
        rest = Rest(s, server)
        by_rating = await rest.ok("GET", "/api/leaderboard?by=rating")
        assert by_rating == {
            "leaders": [
                {
                    "name": "cat",
                    "wins": 1,
                    "games": 1,
                    "rating": {"value": 1700, "deviation": 60, "provisional": False},
                },
                {
                    "name": "ann",
                    "wins": 1,
                    "games": 2,
                    "rating": {"value": 1590, "deviation": 79, "provisional": False},
                },
            ]
        }
        by_wins = await rest.ok("GET", "/api/leaderboard")
        assert by_wins == await rest.ok("GET", "/api/leaderboard?by=wins")
        assert all(set(row) == {"name", "wins", "games"} for row in by_wins["leaders"])
        assert await rest.error("GET", "/api/leaderboard?by=luck") == (400, "bad_request")


async def test_the_rating_history_of_an_unknown_player_is_not_found(rest: Rest) -> None:
    assert await rest.error("GET", "/api/players/nobody/ratings") == (404, "not_found")
    assert await rest.error("GET", "/api/players/computer/ratings") == (404, "not_found")
