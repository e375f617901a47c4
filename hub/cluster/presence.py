"""Presence across a cluster: ``hub.presence.Presence`` over the shared lobby document and Redis.

Each open connection of the cluster is a ``<node>|<session>`` entry of its player in the lobby
document (``conns``, loaded and stored with it in every lobby change).  When a player's last
entry goes, their leave is due at now + grace in the ``leaving`` sorted set; any node's reaper
(``leave_due``) lets them leave then, unless a connection came back anywhere.  A node that died
(its liveness key lapsed) has its entries dropped by the others (``drop_node``), and each node
puts its own connections right every few seconds (``reconcile``) after a change it could not
store.  Who is active, and their status, is what this node's lobby events told
(``hub.cluster.view.LobbyView``), so REST answers agree with the lobby topic here.  The
connections that open and close on a node while one lobby change of them is being stored go
together in the next (``hub.batches``): each change waits for the cluster's lobby lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from hub.batches import Batches
from hub.cluster.changes import ZAdd, ZRem
from hub.cluster.doc import load
from hub.cluster.repair import disagree, repair
from hub.fanout import Peer
from protocol.lobby import PlayerStatus

if TYPE_CHECKING:
    from hub.cluster.node import ClusterHub
    from hub.service import GameHub

LEAVING = "leaving"  # sorted set: player -> unix ms their leave is due
CHANGES_LIMIT = 500  # connections opened or closed at most in one lobby change

Change: TypeAlias = tuple[str, str, bool]  # player, connection, opened (else closed)


class ClusterPresence:
    """Presence of the whole cluster, one lobby change at a time."""

    hub: GameHub  # set once the node's ``GameHub`` is built

    def __init__(self, cluster: ClusterHub) -> None:
        self.cluster = cluster
        self.conns: dict[str, list[str]] = {}  # the lobby document's, while a change is made
        # Connections that open or close while a lobby change of them is being stored wait for
        # it, then go together in the next: a storm of logins is a few changes, not one each.
        self._changes = Batches(self._change, CHANGES_LIMIT)

    def _conn(self, peer: Peer) -> str:
        return f"{self.cluster.name}|{peer.session}"

    async def connect(self, peer: Peer, player: str, first: bool) -> None:
        """The connection is listed; the player joins if they were not active anywhere."""
        await self.cluster.feed.watch_player(player)
        await self._changes((player, self._conn(peer), True))

    def disconnect(self, peer: Peer, player: str, last: bool) -> None:
        """The connection is no longer listed; when it was the player's last anywhere, they
        leave after the grace period (``leaving``)."""
        self.hub._spawn(self._changes((player, self._conn(peer), False)), "disconnect")

    async def _change(self, changes: list[Change]) -> list[None]:
        """Connections in and out of presence, in the order they came, in one lobby change."""
        await self.cluster.feed.change(lambda: self._apply(changes))
        return [None] * len(changes)

    def _apply(self, changes: list[Change]) -> None:
        for player, conn, opened in changes:
            if opened:
                self._add_conns(player, [conn])
            else:
                self._drop_conns(player, [conn])

    def players(self) -> list[tuple[str, PlayerStatus]]:
        """Active players across the cluster, as this node's lobby events tell."""
        return sorted(self.cluster.feed.view.players.items(), key=lambda item: item[0].casefold())

    def status(self, name: str) -> PlayerStatus | None:
        """An active player's status, as this node's lobby events tell."""
        return self.cluster.feed.view.status(name)

    def close(self) -> None:
        """Nothing is timed here: the node's reaper stops with its ticks."""

    # -- in a change of the lobby ----------------------------------------------------------

    def _drop_conns(self, player: str, conns: list[str]) -> None:
        """Take connections out of presence (in a section); the last one starts the grace."""
        held = [c for c in self.conns.get(player, ()) if c not in conns]
        if held:
            self.conns[player] = held
            return
        hub = self.hub
        if self.conns.pop(player, None) is not None or hub.lobby.lookup(player) is not None:
            section = self.cluster.feed.current()
            assert section is not None
            due = hub.now() + int(hub.config.grace * 1000)
            section.ops.append(ZAdd(LEAVING, player, due))

    def _add_conns(self, player: str, conns: list[str]) -> None:
        """Put connections into presence (in a section); the player joins if they had left."""
        self.conns.setdefault(player, []).extend(conns)
        hub = self.hub
        section = self.cluster.feed.current()
        assert section is not None
        section.ops.append(ZRem(LEAVING, player))
        hub._publish_effects(hub.lobby.join(player))

    # -- the node's ticks ------------------------------------------------------------------

    async def leave_due(self) -> None:
        """Let the players whose grace is over leave (any node may; it is idempotent)."""
        hub = self.hub
        due = await self.cluster.state.due(LEAVING, hub.now())
        if not due:
            return
        async with self.cluster.feed.section():
            section = self.cluster.feed.current()
            assert section is not None
            for player in due:
                section.ops.append(ZRem(LEAVING, player))
                if not self.conns.get(player) and hub.lobby.lookup(player) is not None:
                    hub.leave_lobby(player)  # else came back meanwhile, or already gone

    async def drop_node(self, node: str) -> None:
        """A node is gone (its liveness lapsed, or it stopped): its connections leave presence,
        and its players' grace starts now."""
        async with self.cluster.feed.section():
            mark = f"{node}|"
            for player, conns in list(self.conns.items()):
                gone = [c for c in conns if c.startswith(mark)]
                if gone:
                    self._drop_conns(player, gone)
            await repair(self.hub)  # a change it was making may have died with it

    async def reconcile(self) -> None:
        """Presence of this node's connections as they are: a listed connection that is not
        open here any more (its disconnect could not be stored) is taken out, an open one
        that is not listed (Redis lost the lobby, or its connect could not be stored) is put
        back; a lobby lost altogether gets its live games' seats and summaries back, and one
        whose seats disagree with the stored live games is put right (``hub.cluster.repair``)."""
        hub = self.hub
        raw = await self.cluster.state.load()
        doc = load(raw)
        mark = f"{self.cluster.name}|"
        here = {p: {self._conn(peer) for peer in peers} for p, peers in hub._peers.items()}
        listed = {
            player: {c for c in conns if c.startswith(mark)} for player, conns in doc.conns.items()
        }
        stale = {p: sorted(c - here.get(p, set())) for p, c in listed.items()}
        missing = {p: sorted(c - listed.get(p, set())) for p, c in here.items()}
        astray = await disagree(hub, doc.lobby.live.values())
        if raw is None or astray or any(stale.values()) or any(missing.values()):
            async with self.cluster.feed.section():
                if not hub.lobby.live and raw is None:
                    await self._seat_live_games()
                elif astray:
                    await repair(hub)
                for player, conns in stale.items():
                    if conns:
                        self._drop_conns(player, conns)
                for player, conns in missing.items():
                    if conns:
                        self._add_conns(player, conns)

    async def _seat_live_games(self) -> None:
        """The lobby was lost: seat the players of the stored live games again (in a section)."""
        hub = self.hub
        for game in await hub.storage.live_games():
            hub.lobby.seat(game.humans, game.id)
            hub.feed.restore_summary(hub._lobby_summary(game))
