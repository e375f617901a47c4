"""Signing in as a player: the saved token or a new registration (``rps-hub play``)."""

from __future__ import annotations

import getpass
import re

from client import rest
from client.address import http_url
from client.connection import HubClient
from client.errors import ClientError
from client.frames import JsonObject
from client.terminal import Terminal
from client.tokens import TokenStore

__all__ = ["authenticate", "default_name", "identity"]


def default_name() -> str:
    """The login name cut to what the hub accepts, for a first ``play`` without ``--name``."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = ""
    return re.sub(r"[^A-Za-z0-9_-]", "", user)[:32] or "player"


async def identity(server: str, name: str | None, term: Terminal) -> tuple[str, str]:
    """The player's name and token: saved for ``server``, or registered now."""
    store = TokenStore()
    name = name or store.last_name(server) or default_name()
    token = store.get(server, name)
    if token is None:
        name, token = await rest.register(server, name)
        store.put(server, name, token)
        term.say(f"Registered {name} on {http_url(server)}.")
    else:
        name = store.name_of(server, name)
        store.remember(server, name)
    return name, token


async def authenticate(client: HubClient, server: str, me: str, token: str) -> JsonObject:
    """``auth`` with the saved token; registers ``me`` again when the hub has forgotten it."""
    try:
        return await client.auth(token)
    except ClientError as exc:
        if exc.code != "unauthorized":
            raise
    # The hub no longer knows the saved token (a fresh database): register the name again.
    store = TokenStore()
    store.forget(server, me)
    try:
        name, token = await rest.register(server, me)
    except ClientError as exc:
        if exc.code == "conflict":
            raise ClientError(
                "conflict",
                f"the hub refused the saved token for {me!r} and the name is taken;"
                " pick another --name",
            ) from None
        raise
    store.put(server, name, token)
    return await client.auth(token)
