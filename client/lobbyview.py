"""What ``rps-hub lobby`` shows: active players, live games, the queue's pools and the leaders,
built from the ``lobby`` topic's snapshot and events and the leaderboard's REST answer."""

from __future__ import annotations

from client.shapes import Leader, LobbyEventData, LobbySnapshot, QueuePool, Summary
from client.terminal import Terminal
from client.views import WIDTH, count

__all__ = ["LobbyView"]


class LobbyView:
    """Active players, live games, the queue's pools and the leaderboard."""

    def __init__(self) -> None:
        self.players: dict[str, str] = {}
        self.games: dict[str, Summary] = {}
        self.queue: dict[tuple[str, int], int] = {}  # (rules, best_of) -> players waiting
        self.leaders: list[Leader] = []
        self.note = ""

    def load(self, snapshot: LobbySnapshot) -> None:
        """Replace everything with a snapshot of the ``lobby`` topic."""
        self.players = {
            str(p["name"]): str(p.get("status", "idle"))
            for p in snapshot.get("players", [])
            if isinstance(p, dict) and "name" in p
        }
        self.games = {
            str(g["id"]): g for g in snapshot.get("games", []) if isinstance(g, dict) and "id" in g
        }
        self.queue = {}
        for pool in snapshot.get("queue", []):
            if isinstance(pool, dict):
                self._pool(pool)

    def _pool(self, pool: QueuePool | LobbyEventData) -> str:
        key = (str(pool.get("rules")), int(pool.get("best_of") or 0))
        waiting = int(pool.get("waiting") or 0)
        if waiting > 0:
            self.queue[key] = waiting
        else:
            self.queue.pop(key, None)
        return f"{waiting} waiting for {key[0]} best of {key[1]}"

    def apply(self, name: str, data: LobbyEventData) -> str | None:
        """Apply one lobby event; return a one-line account of it (None for no change)."""
        who = str(data.get("name", ""))
        if name == "player_joined":
            self.players[who] = str(data.get("status", "idle"))
            return f"+ {who} joined ({self.players[who]})"
        if name == "player_left":
            self.players.pop(who, None)
            return f"- {who} left"
        if name == "player_status":
            self.players[who] = str(data.get("status", "idle"))
            return f"  {who} is {self.players[who]}"
        if name == "queue":
            return f"  queue: {self._pool(data)}"
        game_id = str(data.get("id", ""))
        if name in ("game_started", "game_updated"):
            known = game_id in self.games
            self.games[game_id] = data
            if name == "game_started" and not known:
                return f"* game {game_id} started: {self.game_line(data)}"
            return f"  game {game_id}: {self.game_line(data)}"
        if name == "game_finished":
            self.games.pop(game_id, None)
            winner = data.get("winner")
            result = f"{winner} won" if winner else "no winner"
            return f"* game {game_id} over, {result}: {self.game_line(data)}"
        return None

    @staticmethod
    def game_line(game: Summary) -> str:
        """``ann 2-1 bob · rps15 · best of 5 · round 4``."""
        players = [str(p) for p in game.get("players", [])] + ["?", "?"]
        a, b = players[:2]
        score = game.get("score") or {}
        return (
            f"{a} {score.get(a, 0)}-{score.get(b, 0)} {b} · {game.get('rules')}"
            f" · best of {game.get('best_of')} · round {game.get('round')}"
        )

    def render(self, term: Terminal, title: str, width: int = WIDTH, height: int = 24) -> list[str]:
        """The whole lobby screen, at most ``height`` lines of at most ``width`` columns."""
        lines = [term.style(title[:width], "bold")]
        if self.note:
            lines.append(term.style(self.note[:width], "yellow"))
        lines.append("")
        lines.append(term.style(f"Players ({len(self.players)} active)", "bold"))
        cells = [f"{n[:14]:<14} {s:<7}" for n, s in sorted(self.players.items(), key=_fold)]
        per_row = max(1, (width - 2) // 24)
        rows = [cells[i : i + per_row] for i in range(0, len(cells), per_row)]
        shown_leaders = min(len(self.leaders), 5)
        budget = height - 8 - shown_leaders - min(len(self.games), 6) - (1 if self.queue else 0)
        budget = max(1, budget)
        for row in rows[:budget]:
            lines.append(("  " + "  ".join(row)).rstrip()[:width])
        if len(rows) > budget:
            lines.append(f"  … and {len(cells) - budget * per_row} more")
        if not cells:
            lines.append("  (nobody)")
        lines.append(term.style(f"Live games ({len(self.games)})", "bold"))
        for game_id, game in list(self.games.items())[:6]:
            lines.append(f"  {game_id:<16} {self.game_line(game)}"[:width])
        if len(self.games) > 6:
            lines.append(f"  … and {len(self.games) - 6} more")
        if not self.games:
            lines.append("  (none)")
        if self.queue:
            pools = [f"{n} for {r} best of {b}" for (r, b), n in sorted(self.queue.items())]
            lines.append(f"Queue: {'; '.join(pools)}"[:width])
        lines.append(term.style("Leaders", "bold"))
        for i, leader in enumerate(self.leaders[:5], 1):
            wins, games = count(leader.get("wins"), "win"), count(leader.get("games"), "game")
            lines.append(f"  {i}. {leader.get('name')!s:<20} {wins} in {games}"[:width])
        if not self.leaders:
            lines.append("  (no finished games yet)")
        return lines[:height]


def _fold(item: tuple[str, str]) -> str:
    return item[0].casefold()
