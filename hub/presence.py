"""Presence: who is in the lobby. The ``Presence`` interface and its in-process implementation.

``GameHub`` keeps this process's connections by player (``GameHub._peers``: the sockets, the same
on one node and on many) and tells its ``Presence`` when a player's connection opened (``first``:
the player had none here) or closed (``last``: it was their last one here).  The presence decides
who is *active*: a player with a connection, or within ``--grace`` seconds of their last one
closing; it makes them join (``player_joined``) and leave (withdrawals, the queue's changed pools,
then ``player_left``: ``GameHub.leave_lobby``) and answers who is active and their status.

- ``LocalPresence`` (here): one process.  Its connections are all there are; a grace period is a
  timer, the statuses are the lobby's own.
- ``hub.cluster.presence.ClusterPresence``: each connection of the cluster is a ``node|session``
  entry in the shared lobby document, a grace period a due time in Redis that any node's reaper
  acts on, a dead node's connections are dropped by the others; statuses are what this node's
  lobby events told (``hub.cluster.view.LobbyView``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from hub.fanout import Peer
from protocol.lobby import PlayerStatus

if TYPE_CHECKING:
    from hub.service import GameHub


class Presence(Protocol):
    """Who is active in the lobby, across every process of the hub."""

    async def connect(self, peer: Peer, player: str, first: bool) -> None:
        """``peer`` (authenticated as ``player``) opened; ``first``: no other one here."""
        ...

    def disconnect(self, peer: Peer, player: str, last: bool) -> None:
        """``peer`` of ``player`` closed; ``last``: it was their last one here."""
        ...

    def players(self) -> list[tuple[str, PlayerStatus]]:
        """Active players and their statuses, ordered by name ignoring case."""
        ...

    def status(self, name: str) -> PlayerStatus | None:
        """An active player's status (any spelling of the name); None when not active."""
        ...

    def close(self) -> None:
        """The hub is stopping: no more leaves are timed."""
        ...


class LocalPresence:
    """Presence in one process: the lobby's players, and a timer for each grace period."""

    def __init__(self, hub: GameHub) -> None:
        self.hub = hub
        self._leaving: dict[str, asyncio.TimerHandle] = {}

    async def connect(self, peer: Peer, player: str, first: bool) -> None:
        """The player becomes (or stays) active; a pending leave is called off."""
        pending_leave = self._leaving.pop(player, None)
        if pending_leave is not None:
            pending_leave.cancel()
        elif first:
            hub = self.hub
            hub._publish_effects(hub.lobby.join(player))

    def disconnect(self, peer: Peer, player: str, last: bool) -> None:
        """The player's last connection closed: they leave after the grace period."""
        if last:
            loop = asyncio.get_running_loop()
            self._leaving[player] = loop.call_later(self.hub.config.grace, self._leave, player)

    def _leave(self, player: str) -> None:
        self._leaving.pop(player, None)
        if player not in self.hub._peers:
            self.hub.leave_lobby(player)

    def players(self) -> list[tuple[str, PlayerStatus]]:
        """Active players and their statuses, ordered by name ignoring case."""
        return self.hub.lobby.players()

    def status(self, name: str) -> PlayerStatus | None:
        """An active player's status (registered spelling); None when not active."""
        lobby = self.hub.lobby
        return lobby.status(name) if lobby.lookup(name) is not None else None

    def close(self) -> None:
        """Stop the grace timers."""
        for handle in self._leaving.values():
            handle.cancel()
        self._leaving.clear()
