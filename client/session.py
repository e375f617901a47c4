"""What the parts of an ``rps-hub play`` session share: its state, its inbox, the prompt, and the
requests it sends in the background.

``client.play.Player`` runs the session; ``client.lines`` reads what the player types. Both work on
the one ``Session`` object this module defines.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
from collections.abc import Coroutine
from typing import TypeAlias

from attrs import frozen

from client.connection import HubClient
from client.errors import ClientError
from client.frames import Item, JsonObject
from client.keys import RollKeys
from client.notices import Closed, Tick, Typed
from client.shapes import ChallengeData
from client.terminal import Terminal
from client.views import GameView
from protocol.rules import DEFAULT_RULES

__all__ = ["Inbox", "MoveFailed", "Session", "rolls_by_rules"]


def rolls_by_rules(info: JsonObject) -> dict[str, RollKeys]:
    """The keys and the table of each rule set of ``GET /api/rules``."""
    rules = info.get("rules")
    if not isinstance(rules, dict):
        return {}
    return {
        name: RollKeys(spec.get("rolls", []), spec.get("beats") or {})
        for name, spec in rules.items()
    }


@frozen
class MoveFailed:
    """A move or resignation sent in the background was refused."""

    round: int
    error: ClientError


Inbox: TypeAlias = Item | Typed | Tick | MoveFailed | Closed


class Session:
    """The state of one session: who plays, what it waits for, the game on screen."""

    def __init__(self, args: argparse.Namespace, term: Terminal) -> None:
        self.args = args
        self.term = term
        self.server: str = args.server
        self.client: HubClient | None = None
        self.me = ""
        self.keys: dict[str, RollKeys] = {}
        self.view: GameView | None = None
        self.challenge: str | None = None  # the one we sent
        self.challenged: str | None = None  # whom it went to
        self.ended: str | None = None  # the finished game on screen, which r plays again
        self.offer: ChallengeData | None = None  # one sent to us, awaiting y/n
        self.resigning: str | None = None  # the game to resign once the player says y
        self.resigned: str | None = None  # the game whose resignation is on its way
        self.rules = DEFAULT_RULES  # the rule set asked for
        self.queued = False
        self.rating_change: dict[str, int] = {}  # from the last game_over
        self.lines: deque[str | None] = deque()
        self.inbox: asyncio.Queue[Inbox] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _begin(self, rules: str) -> None:
        """Ask for a game: the computer, a challenge to a player, or the queue."""
        assert self.client is not None
        if self.args.wait:
            self.term.say("Waiting for a challenge, to accept it; 'quit' leaves.")
            return
        opponent = self.args.opponent
        level = self.args.level if opponent.casefold() == "computer" else None
        data = await self.client.play(opponent, self.args.best_of, rules, level)
        terms = f"best of {self.args.best_of}, {rules}"
        if "challenge" in data:
            self.challenge = str(data["challenge"])
            self.challenged = opponent
            self.term.say(f"Challenged {opponent} ({terms}); waiting for an answer…")
        elif "game" not in data and data.get("queued"):
            self.queued = True
            self.term.say(f"Waiting for an opponent ({terms})…")

    def _prompt(self) -> str:
        """The bottom line for what the session waits for now."""
        if self.offer is not None:
            what = "rematch" if self.offer.get("rematch") else "challenge"
            return f"Accept {self.offer.get('from')}'s {what}? [y/n] "
        if self.resigning is not None:
            return f"Resign game {self.resigning}? [y/N] "
        view = self.view
        if view is not None and view.over and view.id == self.ended:
            if self.challenge is not None:
                return f"Waiting for {self.challenged}; q leaves: "
            return "r: rematch, q: quit: "
        return view.prompt(self.term.columns) if view is not None else ""

    def _show_prompt(self) -> None:
        self.term.set_prompt(self._prompt())

    async def _send(self, what: tuple[str, str, str, int]) -> None:
        """A move or a resignation; a refusal comes back to the inbox as ``MoveFailed``."""
        assert self.client is not None
        op, game, roll, rnd = what
        try:
            if op == "move":
                await self.client.move(game, roll, rnd)
            else:
                await self.client.resign(game)
        except ClientError as exc:
            self.inbox.put_nowait(MoveFailed(rnd, exc))
