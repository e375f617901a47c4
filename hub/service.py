"""The game hub: glue between the pure core, storage and fan-out.

``GameHub`` is what the WebSocket, REST and legacy handlers call, the same class in one process
and on each node of a cluster: what differs is the parts it is given (``hub.hubstate``: identity,
presence, the lobby feed, the games; the in-process ones by default, a cluster node's from
``hub.cluster.node``).  Its code is in four modules for size: ``hub.gamenews.GameNews`` (what
the lobby hears of the games), ``hub.games.GameActions`` (starting games, moves, resignations;
the path each game action follows is described there),
``hub.queue.FairQueue`` (the queue, paired by rating), and this module: players (by
``identity``), presence (by ``presence``), the lobby's actions (rematch too) and closing.

The lobby's core (``protocol.lobby.Lobby``) decides each action and returns the lobby and player
events it causes as effects; the hub publishes them as they are (``HubState._publish_effects``),
each change of the lobby one section of its feed.  Games and their topics live in storage and
survive a restart; a game's lock also covers a subscriber's catch-up from storage, so nobody sees
a gap or a duplicate between history and live events.
"""

from __future__ import annotations

import asyncio

from hub.fanout import Peer
from hub.hubstate import new_id
from hub.queue import FairQueue
from protocol.errors import BadMessage, Conflict
from protocol.game import COMPUTER, Game
from protocol.lobby import PlayerStatus
from protocol.rules import DEFAULT_RULES, RuleSet
from storage.base import PlayerRecord


class GameHub(FairQueue):
    """Games, presence and the lobby of one hub process."""

    # -- lifetime --------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop timers and wait for work in flight, so every accepted move is stored."""
        self.closing = True
        self.table.close()
        self.presence.close()
        if self._queue_timer is not None:
            self._queue_timer.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for game_id in list(self.table.locks):
            async with self.table.lock(game_id):
                pass

    # -- identity (``hub.identity``: the same for one process and a cluster node) -----------

    async def register(self, name: object) -> tuple[PlayerRecord, str]:
        """Register a player; returns the record and its token (shown once)."""
        return await self.identity.register(name)

    async def register_tokenless(self, name: object) -> PlayerRecord:
        """Register a player without a token (the legacy API's users)."""
        return await self.identity.register_tokenless(name)

    async def authenticate(self, token: object) -> PlayerRecord:
        """The player a token belongs to; ``Unauthorized`` otherwise."""
        return await self.identity.authenticate(token)

    async def add_token(self, player: PlayerRecord) -> str:
        """Another token for ``player`` (another device); returns it (shown once)."""
        return await self.identity.add_token(player)

    async def revoke_token(self, token: str) -> None:
        """Revoke one token; ``Unauthorized`` when it is not (or no longer) valid."""
        await self.identity.revoke_token(token)

    def ruleset(self, name: str | None) -> RuleSet:
        """The rule set called ``name`` (the default when None)."""
        found = self.rules.get(name or DEFAULT_RULES)
        if found is None:
            raise BadMessage(f"unknown rules {name!r}; try one of {', '.join(self.rules)}")
        return found

    # -- presence (``hub.presence``) -------------------------------------------------------

    async def connect(self, peer: Peer, player: str) -> None:
        """An authenticated connection opened; the player becomes (or stays) active."""
        peers = self._peers.setdefault(player, set())
        first = not peers
        peers.add(peer)
        await self.presence.connect(peer, player, first)

    def disconnect(self, peer: Peer) -> None:
        """A connection closed; the player leaves after the grace period if it was their last
        (the presence decides: anywhere in the hub)."""
        player, last = self._drop_peer(peer)
        if player is not None and not self.closing:
            self.presence.disconnect(peer, player, last)

    def _drop_peer(self, peer: Peer) -> tuple[str | None, bool]:
        """Forget a closed connection here: its player (None before ``auth``), and whether it
        was that player's last connection to this process."""
        self.subscriptions.drop(peer)
        player = peer.player
        if player is None or (peers := self._peers.get(player)) is None:
            return None, False
        peers.discard(peer)
        if peers:
            return player, False
        del self._peers[player]
        return player, True

    def leave_lobby(self, player: str) -> None:
        """An active player's grace is over (the presence tells): they leave the lobby."""
        # Out of the queue first: its pools are announced before player_left (a cluster node
        # lets its due players leave in the same order).
        self._publish_effects(self.lobby.cancel(player))
        self._sync_queue()
        # Forget the player's topic history so memory follows active players, not every player
        # ever seen; a later subscriber gets a new epoch, i.e. a snapshot instead of a replay.
        self.feed.forget(player)
        self._publish_effects(self.lobby.leave(player))

    def players_now(self) -> list[tuple[str, PlayerStatus]]:
        """Active players and their statuses, ordered by name ignoring case."""
        return self.presence.players()

    def status_of(self, name: str) -> PlayerStatus | None:
        """An active player's status; None when not active."""
        return self.presence.status(name)

    def is_active(self, name: str) -> bool:
        """True while the player has a connection or is within the grace period."""
        return self.presence.status(name) is not None

    # -- lobby actions ---------------------------------------------------------------------

    async def challenge(self, player: str, opponent: str, best_of: int, rules: str | None) -> str:
        """Challenge an active player; returns the challenge id (the open one if repeated)."""
        ruleset = self.ruleset(rules)
        async with self.feed.section():
            made, effects = self.lobby.challenge(player, opponent, best_of, ruleset.name, new_id())
            self._publish_effects(effects)
            return made.id

    async def accept(self, player: str, challenge_id: str) -> Game:
        """Accept a challenge addressed to ``player``; the game starts.

        When the game cannot start (it could not be stored), the accepter gets the error and the
        challenge is open again, unless a seat left meanwhile: then it is withdrawn as on leaving.
        """
        async with self.feed.section():
            c = self.lobby.take_challenge(challenge_id, player, accepting=True)
            try:
                return await self.start_game(
                    (c.challenger, c.challenged), self.rules[c.rules], c.best_of
                )
            except BaseException:
                self._publish_effects(self.lobby.restore(c))
                raise

    async def rematch(self, player: str, game_id: str) -> tuple[str, str]:
        """Play a finished game of ``player``'s again: ``("game", id)`` against the computer (same
        rules, best_of and level) or when the other seat already asked, else ``("challenge",
        id)``: a challenge to the other seat with the same rules and best_of."""
        old = await self.game(game_id)
        seat = old.seat(player)
        if not old.is_over:
            raise Conflict(f"game {game_id} is not finished; a rematch follows a finished game")
        if old.against_computer:
            game = await self.start_game((seat, COMPUTER), old.rules, old.best_of, level=old.level)
            return "game", game.id
        other = old.opponent(seat)
        async with self.feed.section():
            for c in list(self.lobby.challenges.values()):
                if (c.rematch, c.challenger, c.challenged) == (game_id, other, seat):
                    return "game", (await self.accept(seat, c.id)).id
            self.lobby.ensure_free(other)
            made, effects = self.lobby.challenge(
                seat, other, old.best_of, old.rules.name, new_id(), rematch=game_id
            )
            self._publish_effects(effects)
            return "challenge", made.id

    async def decline(self, player: str, challenge_id: str) -> None:
        """Decline a challenge addressed to ``player``."""
        async with self.feed.section():
            self._publish_effects(self.lobby.decline(challenge_id, player))

    async def cancel(self, player: str) -> None:
        """Leave the queue and withdraw own challenges."""
        async with self.feed.section():
            self._publish_effects(self.lobby.cancel(player))
            self._sync_statuses((player,))

    async def enqueue(self, player: str, best_of: int, rules: str | None) -> Game | None:
        """Queue for a game (``hub.queue``); returns the game when paired at once."""
        ruleset = self.ruleset(rules)
        async with self.feed.section():
            return await self.wait(player, ruleset.name, best_of)
