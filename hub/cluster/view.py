"""What a cluster node shows of the lobby: its snapshot, built from the lobby events it delivered.

A node's lobby snapshot must match the events it has sent up to the snapshot's seq, whatever the
other nodes are doing meanwhile; so it is not read from the shared lobby document but kept here,
changed by each lobby event as the node delivers it (and started from a consistent snapshot of
the document, its game summaries and the topic's seq, read in one step).
"""

from __future__ import annotations

import json
from typing import Any

from hub.cluster.doc import LobbyDoc
from protocol.lobby import PlayerStatus
from protocol.pairing import summary


class LobbyView:
    """Players and statuses, live game summaries and queue pools, as the lobby events told."""

    def __init__(self) -> None:
        self.players: dict[str, PlayerStatus] = {}
        self.games: dict[str, dict[str, Any]] = {}
        self.pools: dict[tuple[str, int], dict[str, Any]] = {}

    def reset(self, doc: LobbyDoc, summaries: dict[str, bytes]) -> None:
        """Start again from the shared state read in one step with the topic's seq."""
        self.players = dict(doc.statuses)
        self.games = {gid: json.loads(raw) for gid, raw in summaries.items()}
        self.pools = {(p.rules, p.best_of): p.to_json() for p in summary(doc.shown)}

    def apply(self, frame: bytes) -> None:
        """Take one delivered lobby event into the view."""
        message = json.loads(frame)
        event, data = message["event"], message["data"]
        if event in ("player_joined", "player_status"):
            self.players[data["name"]] = PlayerStatus(data["status"])
        elif event == "player_left":
            self.players.pop(data["name"], None)
        elif event in ("game_started", "game_updated"):
            self.games[data["id"]] = data
        elif event == "game_finished":
            self.games.pop(data["id"], None)
        elif event == "queue":
            key = (data["rules"], data["best_of"])
            if data["waiting"]:
                self.pools[key] = data
            else:
                self.pools.pop(key, None)

    def snapshot(self) -> dict[str, Any]:
        """The lobby topic's snapshot (the shape a single process gives)."""
        players = sorted(self.players.items(), key=lambda item: item[0].casefold())
        return {
            "players": [{"name": n, "status": s.value} for n, s in players],
            "games": list(self.games.values()),
            "queue": [self.pools[k] for k in sorted(self.pools)],
        }

    def status(self, name: str) -> PlayerStatus | None:
        """An active player's status, any spelling of the name; None when not active."""
        found = self.players.get(name)
        if found is not None:
            return found
        folded = name.casefold()
        for n, s in self.players.items():
            if n.casefold() == folded:
                return s
        return None
