"""Identity: who a player is. Registration, tokens and authentication, all in storage.

Players and the hashes of their tokens live in the database (SQLite for one process, PostgreSQL
for a cluster), so one implementation serves both deployments: a cluster node's ``Identity`` is
the same class over the shared PostgreSQL.  ``GameHub`` answers the transports' ``register``,
``authenticate``, ``add_token`` and ``revoke_token`` with it; tokens are never logged.

Authentications are looked up together, as moves are stored together: the tokens that arrive
while a look-up is under way wait for it to end, then go in one read.  On a busy hub every read
waits for the event loop at each of its steps and only a few run at once, so a thousand clients
reconnecting at once (after a restart, a deploy) each waiting for a read of their own took 16 s
to let the last one in; now a few reads do.  A look-up that arrives during a read never takes
that read's answer: its own read begins after it arrived (after a revocation it waited for).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Callable, Iterator
from typing import TypeAlias

from protocol.errors import BadMessage, Unauthorized
from storage.base import PlayerRecord, Storage

NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
LOOKUP_LIMIT = 500  # token hashes at most in one read

Waiting: TypeAlias = "list[asyncio.Future[PlayerRecord | None]]"  # the authentications of a token


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
        self._waiting: dict[str, Waiting] = {}  # by token hash
        self._lookups: asyncio.Task[None] | None = None

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
        found: asyncio.Future[PlayerRecord | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(hash_token(token), []).append(found)
        if self._lookups is None:
            self._lookups = asyncio.create_task(self._look_up())
        record = await found
        if record is None:
            raise Unauthorized("the token is not valid")
        return record

    async def _look_up(self) -> None:
        """Read the waiting tokens, up to ``LOOKUP_LIMIT`` a read, until none waits; a read
        that fails fails its tokens' authentications (with ``StorageError``)."""
        waiting: list[Waiting] = []
        try:
            while self._waiting:
                hashes = list(self._waiting)[:LOOKUP_LIMIT]
                waiting = [self._waiting.pop(h) for h in hashes]
                try:
                    found = await self.storage.players_by_tokens(hashes)
                except Exception as exc:
                    for future in _waited(waiting):
                        future.set_exception(exc)
                    continue
                for h, futures in zip(hashes, waiting, strict=True):
                    for future in _waited([futures]):
                        future.set_result(found.get(h))
                waiting = []
        except BaseException:  # cancelled: the hub is stopping
            for future in _waited([*waiting, *self._waiting.values()]):
                future.cancel()
            self._waiting.clear()
            raise
        finally:
            self._lookups = None

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


def _waited(waiting: list[Waiting]) -> Iterator[asyncio.Future[PlayerRecord | None]]:
    """The futures still waited for (not one whose connection closed meanwhile)."""
    return (future for futures in waiting for future in futures if not future.done())


def _name(name: object) -> str:
    """A valid player name; ``BadMessage`` otherwise."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise BadMessage("field 'name' must be 1-32 characters of A-Z a-z 0-9 _ -")
    return name
