"""Games: the ``LiveGames`` interface and its in-process implementation.

``GameHub`` takes every game action the same way on one node and on many (``hub.games``): under
the game's lock (``hub.table.GameTable``) it asks its ``LiveGames`` for the copy to change
(``current``), lets the pure core decide, commits (stores the change with its events, then
``deliver``s them) and answers.  What differs between deployments is behind this interface: which
copy is current, how many tries an action gets (``attempts``), how stored events reach
subscribers, how a round's deadline ends it, and how a connection follows a game's topic.

- ``LocalGames`` (here): one process holds every live game (``resume`` loads them at start), so
  its copy is the game and one try is all there is; events go straight to this process's
  subscribers; a deadline is a timer.
- ``hub.cluster.games.ClusterGames``: any node acts on any game; PostgreSQL decides who was first
  by compare-and-set on the game's seq (``StaleGame``: reload, try again); events reach every
  node through its relay; every node sweeps stored overdue rounds.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from hub.fanout import Peer
from hub.streams import replay_from
from hub.topics import event_payload, game_topic
from protocol.errors import NotFound
from protocol.game import Game, Status
from protocol.reader import DEFAULT_LEVEL
from protocol.wire import encode_events_text, game_json
from storage.base import Storage, StoredEvent

if TYPE_CHECKING:
    from hub.service import GameHub

log = logging.getLogger(__name__)


async def read_history(storage: Storage, game: Game) -> None:
    """Give a stored live ``reader`` game the player's rounds before it (after a restart)."""
    if game.level != DEFAULT_LEVEL and game.against_computer:
        game.history = await storage.computer_rounds(
            game.players[0], game.rules.name, before=game.id
        )


class LiveGames(Protocol):
    """The games of a hub: their current copies, their events' way out, their deadlines."""

    attempts: int  # tries of one action (another node may change the game meanwhile)
    # Whether the store decides who sits where (a seat is a row: ``SeatTaken``), so that a game
    # against the computer is stored before the lobby's change that tells it.
    stored_seats: bool

    async def resume(self) -> int:
        """At start: take over the stored live games; returns how many."""
        ...

    async def current(self, game_id: str, attempt: int) -> Game:
        """The copy of a game to change (the caller holds its lock): on a later ``attempt``,
        the stored one.  ``NotFound`` when there is no such game.  On a first attempt a copy in
        the table (``GameTable.live``) is the one, and the caller takes it without asking."""
        ...

    async def game(self, game_id: str) -> Game:
        """A game by id, live or stored, as committed so far; ``NotFound`` otherwise."""
        ...

    async def view(self, game_id: str) -> dict[str, Any]:
        """A game's JSON as stored and announced, never showing a change still being saved."""
        ...

    async def deliver(self, game: Game, events: list[StoredEvent]) -> None:
        """Publish a game's stored events on its topic, in order."""
        ...

    async def expire(self, game_id: str, round: int) -> None:
        """A round's deadline (or idle limit) timer fired: end the round if it is still due."""
        ...

    async def follow(
        self, peer: Peer, game_id: str, since: int | None, epoch: str | None
    ) -> tuple[Game, int, list[bytes] | None]:
        """Subscribe ``peer`` to a game's topic: the game as of the returned seq, and the frames
        it missed after ``since`` (None: it gets the game as a snapshot instead)."""
        ...

    async def seat(self, peer: Peer, player: str) -> tuple[str, int, str] | None:
        """Subscribe a player's new connection to the game they play, if any: its topic, seq
        and epoch."""
        ...

    def kept_changing(self, game_id: str) -> Exception:
        """The error when every attempt found the game changed by someone else."""
        ...


class LocalGames:
    """The games of one process: every live game is in its table."""

    attempts = 1
    stored_seats = False  # this process's lobby decides, a seat taken before the game's write

    def __init__(self, hub: GameHub) -> None:
        self.hub = hub

    async def resume(self) -> int:
        """Load every stored live game, seat its players, and give its open round a fresh full
        deadline (stored, so the game shows it) from now, before any client can move."""
        hub = self.hub
        table = hub.table
        games = await hub.storage.live_games()
        now = hub.now()
        for game in games:
            await read_history(hub.storage, game)
            due = game.due
            game.resume(now=now)
            if game.due != due:
                await hub.storage.save_game(game, [])
            table.live[game.id] = game
            table.seqs[game.id] = await hub.storage.last_seq(game.id)
            hub.lobby.seat(game.humans, game.id)
            hub.feed.restore_summary(hub._lobby_summary(game))
            table.arm(game)
        hub.metrics.games_live.set(len(table.live))
        return len(games)

    async def game(self, game_id: str) -> Game:
        """The live game, else the stored one."""
        live = self.hub.table.live.get(game_id)
        if live is not None:
            return live
        stored = await self.hub.storage.game(game_id)
        if stored is None:
            raise NotFound(f"no game {game_id!r}")
        return stored

    async def current(self, game_id: str, attempt: int) -> Game:
        """The live game; a live game dropped after a failed save is reloaded."""
        hub = self.hub
        table = hub.table
        game = table.live.get(game_id)
        if game is not None:
            return game
        game = await self.game(game_id)
        if game.status is Status.PLAYING:
            await read_history(hub.storage, game)
            table.live[game_id] = game
            table.seqs[game_id] = await hub.storage.last_seq(game_id)
            hub.lobby.seat(game.humans, game_id)
            table.arm(game)
            hub.metrics.games_live.set(len(table.live))
        return game

    async def view(self, game_id: str) -> dict[str, Any]:
        """Stored state when the game is not live; else read under its lock."""
        table = self.hub.table
        if game_id not in table.live:
            return game_json(await self.game(game_id))  # stored state, committed
        async with table.lock(game_id):
            return game_json(await self.game(game_id))

    async def deliver(self, game: Game, events: list[StoredEvent]) -> None:
        """Straight to this process's subscribers (what ``hub.broker.LocalBroker`` does, with
        the topic encoded and its subscribers looked up once for all the events)."""
        hub = self.hub
        topic = game_topic(game.id)
        hub.metrics.events["game"] += len(events)
        hub.subscriptions.deliver_all(topic, encode_events_text(topic, events))
        if events[-1].event == "game_over":  # the topic's last event
            hub.subscriptions.finish(topic)

    async def expire(self, game_id: str, round: int) -> None:
        """End the live game's round ``round`` if it is due."""
        hub = self.hub
        try:
            async with hub.table.lock(game_id):
                game = hub.table.live.get(game_id)
                if game is None:
                    return
                now, due = hub.now(), game.due
                if due is not None and now < due and game.round == round:
                    hub.table.arm(game)  # fired early (clock skew, or a move pushed it on)
                    return
                effects = game.expire(round, now=max(now, due or now), rng=hub.rng)
                if effects:
                    await hub._commit(game, effects)
        except Exception:
            log.exception("deadline of game %s round %s failed", game_id, round)

    async def follow(
        self, peer: Peer, game_id: str, since: int | None, epoch: str | None
    ) -> tuple[Game, int, list[bytes] | None]:
        """The game's lock orders this against its changes, so nothing falls in a gap or comes
        twice."""
        hub = self.hub
        async with hub.table.lock(game_id):
            game = await self.game(game_id)
            seq = hub.table.seqs.get(game_id)
            if seq is None:
                seq = await hub.storage.last_seq(game_id)
            topic = game_topic(game_id)
            missed = None
            if since is not None and epoch == game.epoch and since <= seq:
                replay = replay_from(peer.topics.get(topic), since, seq)
                if replay:
                    events = await hub.storage.events(game_id, since)
                    missed = [event_payload(topic, e) for e in events]
                elif replay is not None:
                    missed = []
            start = since if missed is not None and since is not None else seq
            hub.subscriptions.add(topic, peer, start)
            return game, seq, missed

    async def seat(self, peer: Peer, player: str) -> tuple[str, int, str] | None:
        """Read and subscribed with no await in between, so no event falls in a gap.  A game
        seated but not live yet is being started (its players are seated before its row is
        stored, under its lock): its start is waited for, then the seat read again."""
        hub = self.hub
        live = hub.lobby.live.get(player)
        if live is not None and live not in hub.table.live:
            async with hub.table.lock(live):
                live = hub.lobby.live.get(player)  # unseated if the start failed
        if live is None:
            return None
        game = await self.game(live)
        seq = hub.table.seqs.get(live)
        if seq is None:
            return None
        hub.subscriptions.add(game_topic(live), peer, seq)
        return game_topic(live), seq, game.epoch

    def kept_changing(self, game_id: str) -> Exception:
        """Not reached: one process has nobody else to change its games."""
        return AssertionError(f"game {game_id} changed in one process")
