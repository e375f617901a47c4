"""The hub's ops as methods (docs/protocol.md "Requests"), over one ``request`` method."""

from __future__ import annotations

from client.frames import JsonObject

__all__ = ["Requests"]


class Requests:
    """``play``, ``accept``, ``decline``, ``cancel``, ``move``, ``resign`` and ``rematch``, each one
    request.

    A request that is safe to repeat is marked ``retry``: it is sent again on the next connection
    when the connection drops before the reply.
    """

    async def request(self, op: str, *, retry: bool = False, **fields: object) -> JsonObject:
        """Send request ``op`` with ``fields`` and return its reply's data."""
        raise NotImplementedError

    async def play(
        self,
        opponent: str,
        best_of: int | None = None,
        rules: str | None = None,
        level: str | None = None,
    ) -> JsonObject:
        """Play ``computer`` (at ``level``, ``random`` unless told), challenge a player by name,
        or queue with ``*``."""
        return await self.request(
            "play", opponent=opponent, best_of=best_of, rules=rules, level=level
        )

    async def accept(self, challenge: str) -> JsonObject:
        """Accept a challenge; the reply names the game."""
        return await self.request("accept", challenge=challenge)

    async def decline(self, challenge: str) -> JsonObject:
        """Decline a challenge."""
        return await self.request("decline", retry=True, challenge=challenge)

    async def cancel(self) -> JsonObject:
        """Leave the queue and withdraw one's open challenges."""
        return await self.request("cancel", retry=True)

    async def move(self, game: str, roll: str, round: int | None = None) -> JsonObject:
        """Move in ``game``; with ``round`` the move is repeated safely after a drop."""
        return await self.request(
            "move", retry=round is not None, game=game, roll=roll, round=round
        )

    async def resign(self, game: str) -> JsonObject:
        """Give up ``game``."""
        return await self.request("resign", retry=True, game=game)

    async def rematch(self, game: str) -> JsonObject:
        """Ask for another game like the finished ``game``: ``{"game"}`` against the computer or
        when the other seat asked too, else ``{"challenge"}``."""
        return await self.request("rematch", game=game)
