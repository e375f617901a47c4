"""The lobby document: the part of a cluster hub's state that every node decides on.

A node changing the lobby holds the hub's lobby lock (``hub.cluster.redis_state``), loads this
document into its ``GameHub`` attributes (the same ``protocol.lobby.Lobby`` and queue entries a
single process keeps in memory), runs the same code as a single process would, and stores the
document back in the same atomic step that appends the lobby and player events the change made.
So the pure core decides for the whole cluster, one change at a time.

``conns`` is presence across nodes: each active player's connections as ``<node>|<session>``.
"""

from __future__ import annotations

import json
from typing import Any

from attrs import define, field

from protocol.lobby import Challenge, Lobby, PlayerStatus, Ticket
from protocol.pairing import Waiting


@define
class LobbyDoc:
    """What the lobby document holds, as ``GameHub`` keeps it."""

    lobby: Lobby = field(factory=Lobby)
    statuses: dict[str, PlayerStatus] = field(factory=dict)  # each active player's published one
    entries: dict[str, Waiting] = field(factory=dict)  # queue entries (``hub.queue``)
    shown: list[Waiting] = field(factory=list)  # the queue as its lobby events last told it
    conns: dict[str, list[str]] = field(factory=dict)  # player -> "<node>|<session>", in order


def dump(doc: LobbyDoc) -> bytes:
    """The document's bytes (compact JSON)."""
    lobby = doc.lobby
    data = {
        "active": lobby.active,
        "queue": [[t.player, t.rules, t.best_of] for t in lobby.queue],
        "challenges": [
            [c.id, c.challenger, c.challenged, c.best_of, c.rules, c.rematch]
            for c in lobby.challenges.values()
        ],
        "live": lobby.live,
        "statuses": {name: status.value for name, status in doc.statuses.items()},
        "entries": [_waiting(w) for w in doc.entries.values()],
        "shown": [_waiting(w) for w in doc.shown],
        "conns": doc.conns,
    }
    return json.dumps(data, separators=(",", ":")).encode()


def load(raw: bytes | None) -> LobbyDoc:
    """The document from its bytes; an empty lobby when there is none yet."""
    if raw is None:
        return LobbyDoc()
    data: dict[str, Any] = json.loads(raw)
    lobby = Lobby(
        active=dict(data["active"]),
        queue=[Ticket(p, r, b) for p, r, b in data["queue"]],
        challenges={row[0]: Challenge(*row) for row in data["challenges"]},
        live=dict(data["live"]),
    )
    entries = [Waiting(*row) for row in data["entries"]]
    return LobbyDoc(
        lobby=lobby,
        statuses={name: PlayerStatus(value) for name, value in data["statuses"].items()},
        entries={w.player: w for w in entries},
        shown=[Waiting(*row) for row in data["shown"]],
        conns={player: list(c) for player, c in data["conns"].items()},
    )


def _waiting(w: Waiting) -> list[object]:
    return [w.player, w.rating, w.rules, w.best_of, w.since]
