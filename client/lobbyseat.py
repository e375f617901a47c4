"""``rps-hub lobby`` as a player: with a token saved for the hub, the lobby signs in, so that
others see the player online and may challenge them; a challenge is asked about on the lobby's
bottom line, and accepting it hands the terminal to ``rps-hub play``, which resumes the game."""

from __future__ import annotations

import argparse
import contextlib

from client.connection import HubClient
from client.errors import ClientError
from client.frames import Item
from client.shapes import ChallengeData, as_shape
from client.tokens import TokenStore

__all__ = ["LobbySeat", "play_args"]

QUIT_PROMPT = "q + Enter quits: "


class LobbySeat:
    """The player the lobby signed in as, and the challenge that waits for an answer."""

    def __init__(self, client: HubClient, me: str) -> None:
        self.client = client
        self.me = me
        self.offer: ChallengeData | None = None

    @classmethod
    async def sign_in(cls, client: HubClient, server: str, name: str | None) -> LobbySeat | None:
        """Authenticate with the token saved for ``name`` (or the hub's last name), if any; None
        when there is none or the hub no longer takes it (the lobby is then only watched)."""
        store = TokenStore()
        name = name or store.last_name(server)
        token = store.get(server, name) if name else None
        if token is None:
            return None
        try:
            await client.auth(token)
        except ClientError as exc:
            if exc.code != "unauthorized":
                raise
            return None
        return cls(client, client.player or store.name_of(server, name or ""))

    def prompt(self) -> str:
        """The bottom line: the question about a challenge, or how to quit."""
        if self.offer is None:
            return QUIT_PROMPT
        offer = self.offer
        what = "rematch" if offer.get("rematch") else "challenge"
        terms = f"best of {offer.get('best_of')}, {offer.get('rules')}"
        return f"Accept {offer.get('from')}'s {what} ({terms})? [y/n] "

    def on_item(self, item: Item) -> str | None:
        """A ``player:`` event: a line to say about it, if any."""
        if item.get("type") != "event" or item.get("topic") != f"player:{self.me}":
            return None
        name, data = item.get("event"), as_shape(ChallengeData, item.get("data"))
        if name == "challenge":
            self.offer = data
            return f"{data.get('from')} challenges you: y accepts, n declines"
        if name == "challenge_withdrawn" and self.offer and data.get("id") == self.offer.get("id"):
            self.offer = None
            return "the challenge was withdrawn"
        return None

    async def answer(self, line: str) -> tuple[bool, str]:
        """The answer to the challenge asked about: (accepted, what to say)."""
        offer, folded = self.offer, line.strip().casefold()
        if offer is None:
            return False, ""
        if folded not in ("y", "yes", "n", "no"):
            return False, "answer y or n"
        self.offer = None
        if folded.startswith("n"):
            with contextlib.suppress(ClientError):
                await self.client.decline(str(offer.get("id")))
            return False, f"declined {offer.get('from')}'s challenge"
        try:
            await self.client.accept(str(offer.get("id")))
        except ClientError as exc:
            return False, f"could not accept: {exc.message}"
        return True, ""


def play_args(args: argparse.Namespace, me: str) -> argparse.Namespace:
    """The arguments of ``rps-hub play`` that resume ``me``'s game from the lobby's."""
    return argparse.Namespace(
        server=args.server,
        name=me,
        opponent="computer",
        best_of=5,
        rules=None,
        level=None,
        wait=False,
        json=args.json,
    )
