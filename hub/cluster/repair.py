"""The lobby put right against the stored live games (issue 10).

A game's start and its end are stored in two places, one after the other: the game and its seats
in PostgreSQL first, then the lobby's part (seats, statuses, ``game_started`` or
``game_finished``) in Redis.  A node that dies between the two, or whose lobby change Redis
refused, leaves them disagreeing:

- a game stored finished that the lobby still seats: its players look "playing" for good and
  every challenge of theirs answers ``conflict``;
- a game stored live that no lobby shows: PostgreSQL holds its seats while its players look idle,
  its challenge is still open, and nothing tells its players that it started.

Every node compares the two (``disagree``) when it puts its presence right every few seconds
(``hub.cluster.presence.ClusterPresence.reconcile``) and as soon as it finds a node dead.  Under
the lobby lock, where no node can be between its two steps, ``repair`` tells what the lost change
would have told: ``game_finished`` for the first; for the second ``game_started`` to the players'
topics and the lobby, with the open challenges between its players withdrawn.  Telling an end
twice is ruled out by ``GameHub._unseat``: only a seated game's end is told.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.service import GameHub

log = logging.getLogger(__name__)


async def disagree(hub: GameHub, seated: Iterable[str]) -> bool:
    """Whether the games a lobby seats (``seated``, ids) differ from the stored live games; no
    when PostgreSQL does not answer (presence, which needs only Redis, goes on meanwhile)."""
    try:
        stored = await hub.storage.live_game_ids()
    except Exception as exc:
        log.warning("could not compare the lobby with the stored live games: %s", exc)
        return False
    return set(seated) != stored


async def repair(hub: GameHub) -> None:
    """Make the lobby (loaded in the section the caller holds) agree with the stored live games.
    Each game is put right whole before the next is read, so a PostgreSQL failure half-way leaves
    only whole repairs in the section; it is logged, and the next check goes on from there."""
    try:
        await _repair(hub)
    except Exception as exc:
        log.warning("could not put the lobby right against the stored live games: %s", exc)


async def _repair(hub: GameHub) -> None:
    stored = await hub.storage.live_game_ids()
    seated = set(hub.lobby.live.values())
    for game_id in sorted(seated - stored):
        game = await hub.storage.game(game_id)
        if game is None:  # not stored at all: free its seats
            players = tuple(p for p, g in hub.lobby.live.items() if g == game_id)
            log.warning("the lobby seats %s in game %s, which is not stored", players, game_id)
            hub.lobby.unseat(players, game_id)
            hub._sync_statuses(players)
        elif game.is_over:  # its node died first, or is about to tell it itself (once: _unseat)
            log.info("game %s ended without the lobby hearing of it: telling it now", game_id)
            hub._unseat(game)
    for game_id in sorted(stored - seated):
        game = await hub.storage.game(game_id)
        if game is None or game.is_over:  # it ended since the ids were read
            continue
        log.info("game %s started without the lobby hearing of it: telling it now", game_id)
        hub._publish_effects(hub.lobby.seat_found(game.humans, game.id))
        hub._announce_start(game)
