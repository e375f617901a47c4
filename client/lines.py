"""What the player types in ``rps-hub play``: moves, answers to questions, help, resign and quit.

Lines wait in ``Session.lines`` until they can be used: in plain mode (piped input) a move typed
early waits for its round, and the end of the input waits for what may still end the game.
"""

from __future__ import annotations

import asyncio
import contextlib

from client.errors import ClientError
from client.notices import QUIT
from client.session import Session
from client.shapes import ChallengeData
from client.views import TYPING, GameView

__all__ = ["HELP", "NO", "REMATCH", "RESIGN", "YES", "Typing"]

RESIGN = ("resign", "/resign")
REMATCH = ("r", "rematch", "/rematch")
HELP = ("help", "?", "/help")
YES = ("y", "yes")
NO = ("n", "no")


class Typing(Session):
    """A session's use of typed lines."""

    async def _consume(self) -> int | None:
        """Use typed lines while they can be used; a plain-mode line waits for its round."""
        while self.lines:
            line = self.lines[0]
            view = self.view
            if self.resigning is not None:
                self._confirm_resign(line)
                if line is not None:
                    self.lines.popleft()
                continue
            if line is None:
                if self.offer is None and view is not None and view.moved_round >= view.round:
                    return None  # the round may end the game: wait for it
                if view is not None and not view.over and self.resigned == view.id:
                    return None  # the resignation ends it
                self.term.say(f"End of input: {await self._leave()}")
                return 0 if view is not None and view.over else 1
            text = line.strip()
            folded = text.casefold()
            if not text:
                self.lines.popleft()
                continue
            if self.offer is not None:
                self.lines.popleft()
                await self._answer(folded)
                continue
            over = view is not None and view.over
            if folded in QUIT or (folded == "q" and over):
                said = await self._leave()
                self.term.say(said[0].upper() + said[1:])
                return 0
            if folded in HELP:
                self.lines.popleft()
                self._help()
                continue
            playing = view is not None and not view.over
            if folded in RESIGN and playing and view is not None:
                self.lines.popleft()
                self.resigning = view.id or ""
                self._show_prompt()
                continue
            if view is not None and view.can_move:
                self.lines.popleft()
                self._move(view, text)
                continue
            if not self.term.interactive:
                return None  # keep it for the next round
            self.lines.popleft()
            after = view is not None and view.over and view.id == self.ended
            if after and view is not None and folded in REMATCH and self.challenge is None:
                await self._rematch(view)
            elif playing and view is not None:
                self.term.say(f"You have moved in round {view.round}; waiting for {view.opponent}.")
            elif after and self.challenge is None:
                self.term.say("The game is over: 'r' asks for a rematch, 'quit' leaves.")
            else:
                self.term.say("Waiting; 'quit' leaves.")
        return None

    async def _leave(self) -> str:
        """Leave what the session waits for, and say what happened."""
        view = self.view
        if view is not None and not view.over:
            if self.resigned == view.id:
                return "leaving; you resigned the game."
            return "leaving; the game goes on to its deadline without you."
        if self.client is None or not (self.queued or self.challenge):
            return "leaving."
        if self.queued:
            done, undone = "left the queue", "takes you out of the queue"
        else:
            done = f"withdrew your challenge to {self.challenged}"
            undone = "withdraws your challenge"
        try:
            async with asyncio.timeout(2):
                await self.client.cancel()
        except (ClientError, TimeoutError):
            return f"leaving; the hub {undone} once it sees you gone."
        self.queued = False
        self.challenge = None
        return f"{done}."

    def _confirm_resign(self, line: str | None) -> None:
        """The answer to "Resign?": only y or yes resigns; anything else plays on."""
        game, self.resigning = self.resigning, None
        view = self.view
        playing = view is not None and not view.over and view.id == game
        if line is not None and line.strip().casefold() in YES and playing:
            self.resigned = game
            self._spawn(self._send(("resign", game or "", "", 0)))
        elif playing:
            self.term.say("You play on.")
        self._show_prompt()

    def _help(self) -> None:
        """The rules of the game under way (or of the one asked for) and what can be typed."""
        view = self.view
        rules = view.rules if view is not None and view.rules else self.rules
        keys = view.keys if view is not None and view.keys else self.keys.get(rules)
        t = self.term
        t.say(t.style(f"{rules}: what each roll beats", "bold"))
        if keys is not None:
            for line in keys.rules(t.columns - 2):
                t.say("  " + line)
        t.say(t.style(TYPING, "dim"))

    async def _answer(self, folded: str) -> None:
        assert self.client is not None and self.offer is not None
        offer = self.offer
        if folded not in YES + NO:
            self.term.say("Answer y or n.")
            return
        self.offer = None
        self._show_prompt()
        if folded in NO:
            with contextlib.suppress(ClientError):
                await self.client.decline(str(offer.get("id")))
            self.term.say(f"Declined {offer.get('from')}'s challenge.")
            return
        await self._accept(offer)

    async def _accept(self, offer: ChallengeData) -> None:
        """Accept ``offer``, leaving the queue or taking back a challenge of ours first."""
        assert self.client is not None
        queued = self.queued
        try:
            if self.queued or self.challenge:
                await self.client.cancel()
                self.queued, self.challenge = False, None
            await self.client.accept(str(offer.get("id")))
        except ClientError as exc:
            self.term.say(f"Could not accept: {exc.message}")
            if queued:
                await self._begin(str(offer.get("rules")))
            self._show_prompt()

    async def _rematch(self, view: GameView) -> None:
        """Ask for another game like the one just over."""
        assert self.client is not None
        try:
            data = await self.client.rematch(view.id or "")
        except ClientError as exc:
            self.term.say(self.term.style(exc.message, "red"))
            return
        if "challenge" in data:  # a game comes as game_started
            self.challenge = str(data["challenge"])
            self.challenged = view.opponent
            self.term.say(f"Asked {view.opponent} for a rematch; waiting for an answer…")
        self._show_prompt()

    def _move(self, view: GameView, text: str) -> None:
        keys = view.keys
        try:
            roll = keys.resolve(text) if keys is not None else text
        except ClientError as exc:
            self.term.say(self.term.style(exc.message, "red"))
            return
        view.moved_round = view.round
        self.term.say(f"You play {roll}.")
        self._show_prompt()
        self._spawn(self._send(("move", view.id or "", roll, view.round)))

    def _on_move_result(self, rnd: int, exc: ClientError) -> None:
        view = self.view
        self.term.say(self.term.style(exc.message, "red"))
        if rnd == 0:  # a resignation
            self.resigned = None
            return
        if view is None or view.over or rnd != view.round:
            return
        if exc.code != "conflict":
            view.moved_round = rnd - 1  # let the player try again
        self._show_prompt()
