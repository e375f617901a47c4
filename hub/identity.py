"""Identity: who a player is. Registration, tokens and authentication, all in storage.

Players and the hashes of their tokens live in the database (SQLite for one process, PostgreSQL
for a cluster), so one implementation serves both deployments: a cluster node's ``Identity`` is
the same class over the shared PostgreSQL.  ``GameHub`` answers the transports' ``register``,
``authenticate``, ``add_token`` and ``revoke_token`` with it; tokens are never logged.

Authentications are looked up together (``hub.batches``), as moves are stored together: the
tokens that arrive while a look-up is under way wait for it to end, then go in one read.  A read
waits for the event loop at each of its steps and only a few run at once, so a thousand clients
logging in at once (after a restart, a deploy) on a hub at play, each waiting for a read of
their own, took 16 s to let the last one in; now a few reads do.  A look-up that arrives during
a read never takes that read's answer: its own read begins after it arrived (after a revocation
it waited for).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable

from hub.batches import Batches
from protocol.errors import BadMessage, Unauthorized
from storage.base import PlayerRecord, Storage

NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
LOOKUP_LIMIT = 500  # token hashes at most in one read


def hash_token(token: str) -> str:
    """What is stored for a token: its SHA-256 in hex (tokens are 32 random bytes)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A bearer token: 32 random bytes in base64url (43 characters, docs/protocol.md), drawn
    again while it starts with "-" (one in 64 would), so that it can follow a command on a
    command line (``rps-hub login TOKEN``)."""
    while True:
        token = secrets.token_urlsafe(32)
        if token[0] != "-":
            return token


class Identity:
    """Players and their tokens, in ``storage``; ``now`` gives Unix milliseconds."""

    def __init__(self, storage: Storage, now: Callable[[], int]) -> None:
        self.storage = storage
        self.now = now
        self._lookups = Batches(self._look_up, LOOKUP_LIMIT)

    async def register(self, name: object) -> tuple[PlayerRecord, str]:
        """Register a player; returns the record and its token (shown once)."""
        token = new_token()
        record = await self.storage.create_player(_name(name), hash_token(token), self.now())
        return record, token

    async def register_tokenless(self, name: object) -> PlayerRecord:
        """Register a player without a token (the legacy API's users: nothing acts for them
        by token, and the legacy routes act for nobody else)."""
        return await self.storage.create_player(_name(name), None, self.now())

    async def authenticate(self, token: object) -> PlayerRecord:
        """The player a token belongs to; ``Unauthorized`` otherwise."""
        if not isinstance(token, str) or not token:
            raise Unauthorized("a valid token is required")
        record = await self._lookups(hash_token(token))
        if record is None:
            raise Unauthorized("the token is not valid")
        return record

    async def _look_up(self, hashes: list[str]) -> list[PlayerRecord | None]:
        """The players of ``hashes`` (None for a token that is not valid), in one read."""
        found = await self.storage.players_by_tokens(hashes)
        return [found.get(h) for h in hashes]

    async def add_token(self, player: PlayerRecord) -> str:
        """Another token for ``player`` (another device); returns it (shown once)."""
        token = new_token()
        await self.storage.add_token(player, hash_token(token), self.now())
        return token

    async def revoke_token(self, token: str) -> None:
        """Revoke one token; ``Unauthorized`` when it is not (or no longer) valid.  Connections
        that authenticated with it keep their session until they close."""
        if not await self.storage.revoke_token(hash_token(token)):
            raise Unauthorized("the token is not valid")


def _name(name: object) -> str:
    """A valid player name; ``BadMessage`` otherwise."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise BadMessage("field 'name' must be 1-32 characters of A-Z a-z 0-9 _ -")
    return name
