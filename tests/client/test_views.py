"""What the terminal shows, from snapshots and events, without a hub."""

from __future__ import annotations

import io
from typing import Any

from client.keys import RollKeys
from client.lobbyview import LobbyView
from client.terminal import Terminal
from client.views import GameView


def plain() -> tuple[Terminal, io.StringIO]:
    out = io.StringIO()
    return Terminal(out=out, inp=io.StringIO()), out


def summary(game_id: str, a: str, b: str, score: tuple[int, int], rnd: int) -> dict[str, Any]:
    return {
        "id": game_id,
        "rules": "rps15",
        "best_of": 5,
        "players": [a, b],
        "status": "playing",
        "score": {a: score[0], b: score[1]},
        "round": rnd,
    }


def game(rounds: list[dict[str, Any]], status: str = "playing") -> dict[str, Any]:
    return {
        **summary("g1", "ann", "bob", (1, 0), len(rounds) + 1),
        "rules": "rps3",
        "best_of": 3,
        "status": status,
        "winner": "ann" if status == "finished" else None,
        "reason": "won" if status == "finished" else None,
        "deadline": None,
        "rounds": rounds,
    }


ROUND_1 = {"round": 1, "moves": {"ann": "Rock", "bob": "Scissors"}, "winner": "ann"}


def test_a_plain_terminal_gets_no_escape_codes() -> None:
    term, out = plain()
    assert term.style("x", "red") == "x"
    term.say("hello")
    assert out.getvalue() == "hello\n"


def test_a_round_already_shown_is_not_shown_again_by_a_later_snapshot() -> None:
    term, out = plain()
    view = GameView(term, "ann", lambda rules: RollKeys(["Rock", "Paper", "Scissors"]))
    view.load(game([]))
    view.handle("round", {**ROUND_1, "score": {"ann": 1, "bob": 0}})
    view.load(game([ROUND_1]))
    assert out.getvalue().count("Round 1: you Rock, bob Scissors — you win the round.") == 1


def test_a_snapshot_shows_the_rounds_missed_and_the_result_of_a_game_that_ended() -> None:
    term, out = plain()
    view = GameView(term, None, lambda rules: None)
    view.load(game([ROUND_1, {**ROUND_1, "round": 2}], status="finished"))
    text = out.getvalue()
    assert "Round 2: ann Rock, bob Scissors — ann wins the round." in text
    assert "ann won the game: ann 1-0 bob." in text
    assert view.over


def test_a_game_summary_after_each_round_updates_the_lobbys_score() -> None:
    lobby = LobbyView()
    lobby.load({"players": [{"name": "ann", "status": "playing"}], "games": []})
    lobby.apply("game_started", summary("g1", "ann", "computer", (0, 0), 1))
    line = lobby.apply("game_updated", summary("g1", "ann", "computer", (2, 1), 4))
    assert line == "  game g1: ann 2-1 computer · rps15 · best of 5 · round 4"
    assert lobby.games["g1"]["score"] == {"ann": 2, "computer": 1}


def test_players_leaving_and_games_finishing_leave_the_lobby() -> None:
    lobby = LobbyView()
    lobby.apply("player_joined", {"name": "ann", "status": "idle"})
    lobby.apply("game_started", summary("g1", "ann", "computer", (0, 0), 1))
    lobby.apply("game_finished", {**summary("g1", "ann", "computer", (3, 0), 3), "winner": "ann"})
    lobby.apply("player_left", {"name": "ann"})
    assert (lobby.players, lobby.games) == ({}, {})


def test_a_crowded_lobby_fits_80_columns_and_24_lines() -> None:
    term, _ = plain()
    lobby = LobbyView()
    lobby.load(
        {
            "players": [{"name": f"player{i:03}", "status": "playing"} for i in range(200)],
            "games": [summary(f"g{i}", f"p{i}", "computer", (1, 2), 3) for i in range(40)],
        }
    )
    lobby.leaders = [{"name": f"p{i}", "wins": 10 - i, "games": 12} for i in range(10)]
    lines = lobby.render(term, "rps-hub lobby · http://127.0.0.1:8080")
    assert len(lines) <= 24
    assert all(len(line) <= 80 for line in lines)
    assert any("more" in line for line in lines)


def test_a_round_result_with_long_names_stays_within_80_columns() -> None:
    term, out = plain()
    view = GameView(term, "zed", lambda rules: RollKeys(["Lightning", "Water"]))
    long_game = {
        **game([]),
        "players": ["zed", "computer"],
        "score": {"zed": 0, "computer": 1},
    }
    view.load(long_game)
    result = {"round": 2, "moves": {"zed": "Lightning", "computer": "Water"}, "winner": "computer"}
    view.handle("round", {**result, "score": {"zed": 0, "computer": 2}})
    lines = out.getvalue().splitlines()
    assert any("computer wins the round" in line for line in lines)
    assert any("0-2" in line for line in lines)
    assert all(len(line) <= 80 for line in lines), lines


def test_the_leaders_say_one_win_and_one_game_in_the_singular() -> None:
    term, _ = plain()
    lobby = LobbyView()
    lobby.leaders = [{"name": "ann", "wins": 1, "games": 1}, {"name": "bob", "wins": 0, "games": 2}]
    lines = lobby.render(term, "rps-hub lobby")
    assert [line.split(maxsplit=2)[2] for line in lines if line.startswith("  1.")] == [
        "1 win in 1 game"
    ]
    assert any(line.endswith("bob                  0 wins in 2 games") for line in lines)


def test_the_lobby_shows_each_pool_of_the_queue_until_it_empties() -> None:
    term, _ = plain()
    lobby = LobbyView()
    rps3 = {"rules": "rps3", "best_of": 3, "waiting": 1}
    lobby.load({"players": [], "games": [], "queue": [rps3]})
    line = lobby.apply("queue", {"rules": "rps15", "best_of": 5, "waiting": 2})
    assert line == "  queue: 2 waiting for rps15 best of 5"
    shown = [line for line in lobby.render(term, "rps-hub lobby") if line.startswith("Queue:")]
    assert shown == ["Queue: 2 for rps15 best of 5; 1 for rps3 best of 3"]
    lobby.apply("queue", {"rules": "rps3", "best_of": 3, "waiting": 0})
    assert lobby.queue == {("rps15", 5): 2}


def test_a_live_game_shows_its_whole_id_the_one_watch_takes() -> None:
    term, _ = plain()
    lobby = LobbyView()
    # Two games of one moment: a hub's game ids are 16 characters, the first 7 their time.
    ids = ["P86-6HX5D97a2Dhi", "P86-6HXXzkA59mAZ"]
    lobby.load({"players": [], "games": [summary(i, "ann", "computer", (0, 1), 2) for i in ids]})
    lines = lobby.render(term, "rps-hub lobby")
    shown = [line.split()[0] for line in lines if line.startswith("  P86")]
    assert shown == ids
    assert all(len(line) <= 80 for line in lines)
