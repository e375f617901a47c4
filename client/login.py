"""``rps-hub login``: one player on several devices.

Without a token it asks the hub for another token of the player this device plays as (``POST
/api/tokens`` with this device's token) and prints it; ``rps-hub login TOKEN`` on the other device
checks that token with the hub (``auth``) and saves it, so ``rps-hub play`` plays as that player
there too. Each device keeps its own token, and ``rps-hub logout`` revokes this device's alone
(``DELETE /api/tokens``) and forgets it.
"""

from __future__ import annotations

import argparse

from client import rest
from client.address import http_url
from client.connection import HubClient
from client.errors import ClientError
from client.terminal import Terminal
from client.tokens import TokenStore

__all__ = ["login", "logout"]


async def login(args: argparse.Namespace, term: Terminal) -> int:
    """Save the token given, or print a new one for another device."""
    if args.token:
        return await _save(args.server, args.token.strip(), term)
    return await _give(args.server, args.name, term)


async def _save(server: str, token: str, term: Terminal) -> int:
    client = await HubClient.connect(server, reconnect=False)
    try:
        await client.auth(token)
    except ClientError as exc:
        if exc.code == "unauthorized":
            raise ClientError(
                "unauthorized", f"the hub at {http_url(server)} does not know that token"
            ) from None
        raise
    finally:
        await client.close()
    name = client.player or ""
    TokenStore().put(server, name, token)
    term.say(f"Signed in as {name} on {http_url(server)}: rps-hub play plays as {name} here now.")
    return 0


def _saved(server: str, name: str | None) -> tuple[str, str]:
    """The name and token saved for ``server`` (``name``'s, or the last one used there)."""
    store = TokenStore()
    name = name or store.last_name(server)
    token = store.get(server, name) if name else None
    if name is None or token is None:
        raise ClientError(
            "unauthorized",
            f"no saved token for {name or 'a player'} on {http_url(server)}:"
            " play once first, or give a TOKEN from another device",
        )
    return store.name_of(server, name), token


async def logout(args: argparse.Namespace, term: Terminal) -> int:
    """Revoke this device's token and forget it; the player's other devices keep theirs."""
    name, token = _saved(args.server, args.name)
    try:
        await rest.call(args.server, "DELETE", "/api/tokens", token=token)
    except ClientError as exc:
        if exc.code != "unauthorized":  # already revoked: forget it all the same
            raise
    TokenStore().forget(args.server, name)
    term.say(f"Signed out {name} on {http_url(args.server)}; other devices keep their tokens.")
    return 0


async def _give(server: str, name: str | None, term: Terminal) -> int:
    name, token = _saved(server, name)
    new = await rest.new_token(server, token)
    term.say(f"A token for {name} on {http_url(server)}, for another device:")
    term.write_raw(new + "\n")
    term.say(f"There, type: rps-hub login TOKEN --server {http_url(server)}")
    term.say("Keep it secret: whoever has it plays as you.")
    return 0
