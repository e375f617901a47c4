"""The WebSocket requests that start games: ``play`` and ``rematch`` (docs/protocol.md, Requests).

Handlers of ``hub.ws.Session``'s dispatch table, kept here so that the connection's module stays
about connections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from protocol.errors import BadMessage
from protocol.game import COMPUTER
from protocol.messages import Play, Rematch
from protocol.reader import DEFAULT_LEVEL, check_level

if TYPE_CHECKING:
    from hub.ws import Session


async def play(session: Session, request: Play) -> dict[str, Any]:
    """Start a game against the computer (at a ``level``), challenge a player, or queue."""
    hub = session.hub
    player = session.player()
    level = DEFAULT_LEVEL if request.level is None else check_level(request.level)
    opponent = request.opponent.strip()
    if opponent.casefold() == COMPUTER:
        ruleset = hub.ruleset(request.rules)
        game = await hub.start_game((player, COMPUTER), ruleset, request.best_of, level=level)
        return {"game": game.id}
    if opponent == "*":
        paired = await hub.enqueue(player, request.best_of, request.rules)
        return {"queued": True} if paired is None else {"queued": True, "game": paired.id}
    if opponent.casefold() == player.casefold():
        raise BadMessage("you cannot challenge yourself")
    challenge = await hub.challenge(player, opponent, request.best_of, request.rules)
    return {"challenge": challenge}


async def rematch(session: Session, request: Rematch) -> dict[str, Any]:
    """Play a finished game again: a new game against the computer, else a challenge (or the
    game, when the other seat asked first)."""
    kind, made = await session.hub.rematch(session.player(), request.game)
    return {kind: made}
