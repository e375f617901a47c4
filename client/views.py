"""What the terminal shows of a game, built from snapshots and events (the lobby's view is
``client.lobbyview``).

The view is idempotent: a snapshot after a reconnect, or a REST copy of a game that overlaps the
events already shown, prints only what was not printed yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from client.keys import RollKeys
from client.shapes import (
    GameData,
    GameEventData,
    RoundData,
)
from client.terminal import ROOM, Terminal, width

WIDTH = 80  # the widest line of a round's result

TYPING = "Type a key or a name; 'help' lists the rules, 'resign' gives up, 'quit' leaves."

REASONS = {
    "resigned": "resigned",
    "timeout": "decided on time",
    "abandoned": "nobody moved in time",
    "drawn": "no winner after 50 rounds",
}


def count(n: object, noun: str) -> str:
    """``1 game``, ``2 games``, ``0 wins``: a number and its noun, singular only for one."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def parse_time(stamp: object) -> float | None:
    """An ISO-8601 time from the hub as unix seconds (None stays None)."""
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class GameView:
    """One game as a seat (``me``) or a spectator (``me`` is None) sees it."""

    def __init__(
        self, term: Terminal, me: str | None, keys_for: Callable[[str], RollKeys | None]
    ) -> None:
        self.term = term
        self.me = me
        self.keys_for = keys_for
        self.id: str | None = None
        self.players: list[str] = []
        self.rules = ""
        self.best_of = 0
        self.score: dict[str, int] = {}
        self.round = 0
        self.deadline: float | None = None
        self.moved_round = 0
        self.resolved = 0  # the last round with a result: no prompt until the next opens
        self.shown: set[int] = set()
        self.over = False
        self.winner: str | None = None
        self.reason: str | None = None
        self.keys: RollKeys | None = None
        self.level = ""  # the computer's way of playing, against the computer
        self._warned = 0

    @property
    def opponent(self) -> str:
        """The other seat, from ``me``'s side."""
        others = [p for p in self.players if p != self.me]
        return others[0] if others else "?"

    def _who(self, name: str) -> str:
        return "you" if name == self.me else name

    def _order(self) -> list[str]:
        if self.me in self.players:
            return [self.me, *[p for p in self.players if p != self.me]]
        return list(self.players)

    def score_text(self) -> str:
        """``you 2-1 computer``."""
        a, b = [*self._order(), "?", "?"][:2]
        return f"{self._who(a)} {self.score.get(a, 0)}-{self.score.get(b, 0)} {self._who(b)}"

    def load(self, game: GameData) -> None:
        """Take a whole game (snapshot, REST or ``game_started``), printing what is new."""
        first = self.id is None
        self.id = str(game.get("id"))
        self.players = [str(p) for p in game.get("players", [])]
        self.rules = str(game.get("rules", ""))
        self.best_of = int(game.get("best_of", 0))
        self.level = str(game.get("level") or "")
        if first:
            self.keys = self.keys_for(self.rules)
            self._header()
        for r in game.get("rounds", []) or []:
            if isinstance(r, dict):
                self._round(r, game_score=None)
        self.score = {str(k): int(v) for k, v in (game.get("score") or {}).items()}
        if game.get("status") == "finished":
            self._over(game.get("winner"), str(game.get("reason")), self.score)
            return
        rnd = int(game.get("round") or 0)
        if rnd > self.round:
            self.round = rnd
            self.deadline = parse_time(game.get("deadline"))
            self._warned = 0
            self._open()

    def _header(self) -> None:
        t = self.term
        a, b = [*self._order(), "?", "?"][:2]
        need = (self.best_of + 1) // 2
        if self.level and self.level != "random":
            a, b = (f"{p} ({self.level})" if p == "computer" else p for p in (a, b))
        t.say(
            t.style(f"Game {self.id}: {a} vs {b}", "bold")
            + f" · {self.rules} · best of {self.best_of} (first to {need})"
        )
        if self.me is not None and self.keys is not None:
            for line in self.keys.menu(t.columns - 2):
                t.say("  " + line)
            t.say(t.style(TYPING, "dim"))

    def _open(self) -> None:
        if self.me is None:
            left = self._left()
            self.term.say(f"Round {self.round} is open" + (f" ({left})" if left else ""))

    def _left(self, word: str = " left") -> str:
        if self.deadline is None:
            return ""
        return f"{max(0, round(self.deadline - time.time()))}s{word}"

    def handle(self, name: str, data: GameEventData) -> None:
        """Apply one event of the game's topic."""
        t = self.term
        if name == "round_open":
            rnd = int(data.get("round", 0))
            if rnd > self.round:
                self.round = rnd
                self.deadline = parse_time(data.get("deadline"))
                self._warned = 0
                self._open()
        elif name == "moved":
            player = str(data.get("player"))
            if player != self.me and int(data.get("round", 0)) >= self.round:
                t.say(t.style(f"{player} has moved in round {data.get('round')}", "dim"))
        elif name == "round":
            self._round(data, game_score=data.get("score"))
        elif name == "game_over":
            score = data.get("score") or self.score
            self._over(data.get("winner"), str(data.get("reason")), score)

    def _round(self, r: RoundData | GameEventData, game_score: object) -> None:
        n = int(r.get("round", 0))
        self.resolved = max(self.resolved, n)
        if isinstance(game_score, dict):
            self.score = {str(k): int(v) for k, v in game_score.items()}
        if n in self.shown:
            return
        self.shown.add(n)
        moves = r.get("moves") or {}
        winner = r.get("winner")
        t = self.term
        parts = []
        for p in self._order():
            roll = moves.get(p)
            parts.append(f"{self._who(p)} {roll if roll else '(no move)'}")
        if winner is None:
            plain, style = "a tie", "yellow"
        elif winner == self.me:
            plain, style = "you win the round", "green"
        else:
            plain, style = f"{winner} wins the round", "red" if self.me is not None else "bold"
        head = f"Round {n}: {', '.join(parts)} — "
        line = f"{head}{t.style(plain, style)}."
        if isinstance(game_score, dict):
            score = self.score_text()
            # Keep each line within the terminal: a long line puts the score on its own.
            fits = len(head) + len(plain) + 2 + len(score) <= min(WIDTH, t.columns)
            line += f" {score}" if fits else f"\n  {score}"
        t.say(line)

    def _over(self, winner: object, reason: str, score: object) -> None:
        if self.over:
            return
        self.over = True
        self.winner = winner if isinstance(winner, str) else None
        self.reason = reason
        if isinstance(score, dict):
            self.score = {str(k): int(v) for k, v in score.items()}
        t = self.term
        why = REASONS.get(reason)
        if self.winner is None:
            text = "The game is drawn" if reason == "drawn" else "The game ended without a winner"
            style = "yellow"
        elif self.winner == self.me:
            text, style = "You won the game", "green"
        elif self.me is not None:
            text, style = f"{self.winner} won the game", "red"
        else:
            text, style = f"{self.winner} won the game", "bold"
        if reason == "resigned" and self.winner is not None:
            loser = next((p for p in self.players if p != self.winner), "?")
            why = "you resigned" if loser == self.me else f"{loser} resigned"
        suffix = f" ({why})" if why else ""
        t.say(t.style(f"{text}: {self.score_text()}{suffix}.", style, "bold"))

    @property
    def can_move(self) -> bool:
        """A round is open and the seat has not moved in it."""
        open_round = not self.over and self.round > 0 and self.resolved < self.round
        return open_round and self.moved_round < self.round

    def prompt(self, columns: int = WIDTH) -> str:
        """The bottom line: round, time left, and what is expected; the longest wording that leaves
        ``ROOM`` of ``columns`` to type in (the terminal cuts what still does not fit)."""
        if self.over or self.round == 0 or self.resolved >= self.round or self.me is None:
            return ""
        n, long, short = self.round, self._left(), self._left("")
        if self.moved_round >= self.round:
            doing, brief = f"waiting for {self.opponent}… ", "waiting… "
        else:
            keys = f" ({self.keys.key_range} or a name)" if self.keys else ""
            doing, brief = f"your roll{keys}: ", "your roll: "
        if long:
            wordings = [
                f"Round {n} · {long} · {doing}",
                f"Round {n} · {long} · {brief}",
                f"Round {n} · {short} · {brief}",
                f"R{n} {short} {brief}",
            ]
        else:
            wordings = [f"Round {n} · {doing}", f"Round {n} · {brief}", f"R{n} {brief}"]
        return next((w for w in wordings if width(w) <= columns - ROOM), wordings[-1])

    def seconds_left(self) -> float | None:
        """Seconds until the open round's deadline."""
        if self.deadline is None or self.over:
            return None
        return self.deadline - time.time()

    def warn_due(self) -> int | None:
        """In plain mode: the mark (10 or 5 s) to announce now, once each."""
        left = self.seconds_left()
        if left is None or self.moved_round >= self.round or self.resolved >= self.round:
            return None
        for mark in (5, 10):
            if left <= mark and self._warned != mark and (self._warned == 0 or mark < self._warned):
                self._warned = mark
                return mark
        return None
