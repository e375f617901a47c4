"""``rps-hub play``: the player's session, from signing in to the end of one game.

One asyncio loop takes three kinds of input from one inbox: the client's stream (events, snapshots,
connection states), lines typed on stdin, and a one-second tick for the countdown.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections import deque
from collections.abc import Coroutine
from typing import TypeAlias

from attrs import frozen

from client import rest
from client.address import http_url
from client.connection import HubClient
from client.errors import ClientError
from client.frames import Item, JsonObject, read_subscribed
from client.keys import RollKeys
from client.notices import QUIT, Closed, Tick, Typed, on_state, print_json
from client.shapes import ChallengeData, GameData, GameEventData, as_shape
from client.signin import authenticate, identity
from client.terminal import Terminal
from client.views import TYPING, GameView, count
from protocol.rules import DEFAULT_RULES

__all__ = ["Player", "rolls_by_rules"]

RESIGN = ("resign", "/resign")
HELP = ("help", "?", "/help")
YES = ("y", "yes")
NO = ("n", "no")


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


class Player:
    """One ``rps-hub play`` session: sign in, find a game, play it to its end."""

    def __init__(self, args: argparse.Namespace, term: Terminal) -> None:
        self.args = args
        self.term = term
        self.server: str = args.server
        self.client: HubClient | None = None
        self.me = ""
        self.keys: dict[str, RollKeys] = {}
        self.view: GameView | None = None
        self.challenge: str | None = None  # the one we sent
        self.offer: ChallengeData | None = None  # one sent to us, awaiting y/n
        self.resigning: str | None = None  # the game to resign once the player says y
        self.resigned: str | None = None  # the game whose resignation is on its way
        self.rules = DEFAULT_RULES  # the rule set asked for
        self.queued = False
        self.lines: deque[str | None] = deque()
        self.inbox: asyncio.Queue[Inbox] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> int:
        """The whole session; the exit code."""
        try:
            return await self._run()
        finally:
            if self.client is not None and (self.queued or self.challenge):
                # Leaving while waiting: take the ticket or the challenge back at once.
                with contextlib.suppress(ClientError, TimeoutError):
                    async with asyncio.timeout(2):
                        await self.client.cancel()
            for task in self.tasks:
                task.cancel()
            for task in list(self.tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.term.stop()
            if self.client is not None:
                await self.client.close()

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self) -> int:
        http_url(self.server)  # a bad address fails here, before anything else
        info = await rest.rules(self.server)
        self.keys = rolls_by_rules(info)
        rules = self.rules = self.args.rules or str(info.get("default", DEFAULT_RULES))
        if rules not in self.keys:
            raise ClientError(
                "bad_request", f"unknown rules {rules!r}; try one of {', '.join(self.keys)}"
            )
        self.me, token = await identity(self.server, self.args.name, self.term)
        self.client = await HubClient.connect(self.server)
        joined = await authenticate(self.client, self.server, self.me, token)
        self.me = self.client.player or self.me
        self._spawn(self._pump(self.client))
        self._spawn(self._tick())
        self.term.on_resize = self._show_prompt
        self.term.start(lambda line: self.inbox.put_nowait(Typed(line)))
        live = [
            s["topic"][len("game:") :]
            for s in read_subscribed(joined)
            if s["topic"].startswith("game:")
        ]
        if live:
            game = await rest.call(self.server, "GET", f"/api/games/{live[0]}")
            self.term.say(f"You have a live game, {live[0]}: resuming it.")
            self._start(as_shape(GameData, game))
        else:
            await self._begin(rules)
        return await self._loop()

    async def _begin(self, rules: str) -> None:
        assert self.client is not None
        opponent = self.args.opponent
        data = await self.client.play(opponent, self.args.best_of, rules)
        terms = f"best of {self.args.best_of}, {rules}"
        if "challenge" in data:
            self.challenge = str(data["challenge"])
            self.term.say(f"Challenged {opponent} ({terms}); waiting for an answer…")
        elif "game" not in data and data.get("queued"):
            self.queued = True
            self.term.say(f"Waiting for an opponent ({terms})…")

    async def _pump(self, client: HubClient) -> None:
        async for item in client.events():
            self.inbox.put_nowait(item)
        self.inbox.put_nowait(Closed())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.inbox.put_nowait(Tick())

    async def _loop(self) -> int:
        while True:
            message = await self.inbox.get()
            code: int | None = None
            if isinstance(message, Typed):
                self.lines.append(message.line)
            elif isinstance(message, Tick):
                self._on_tick()
            elif isinstance(message, MoveFailed):
                self._on_move_result(message.round, message.error)
            elif isinstance(message, Closed):
                return 1
            else:
                code = await self._on_item(message)
            if code is None:
                code = await self._consume()
            if code is not None:
                return code

    # -- the stream -----------------------------------------------------------------------------

    async def _on_item(self, item: Item) -> int | None:
        if self.args.json:
            print_json(self.term, item)
        kind = item.get("type")
        if kind == "state":
            return on_state(self.term, item)
        topic = str(item.get("topic", ""))
        data = item.get("data")
        view = self.view
        if kind == "snapshot":
            if view is not None and topic == f"game:{view.id}":
                view.load(as_shape(GameData, data))
                return await self._after_game_event()
            return None
        if kind == "lost":
            error = item.get("error") or {}
            self.term.say(f"stopped following {topic}: {error.get('message')}")
            return None
        if kind != "event":
            return None
        name = str(item.get("event"))
        if topic.startswith("player:"):
            return self._on_private(name, data)
        if view is not None and topic == f"game:{view.id}":
            view.handle(name, as_shape(GameEventData, data))
            return await self._after_game_event()
        return None

    def _on_private(self, name: str, payload: object) -> int | None:
        t = self.term
        data = as_shape(ChallengeData, payload)
        if name == "game_started":
            if self.view is None or self.view.over:
                self._start(as_shape(GameData, payload))
        elif name == "challenge":
            who = data.get("from")
            if self.view is not None and not self.view.over:
                t.say(f"{who} challenged you; finish this game first.")
            else:
                self.offer = data
                t.say(
                    t.style(f"{who} challenges you", "bold")
                    + f" (best of {data.get('best_of')}, {data.get('rules')})."
                )
                self._show_prompt()
        elif name == "challenge_declined" and data.get("id") == self.challenge:
            print(f"rps-hub: {data.get('by')} declined your challenge", file=sys.stderr)
            return 1
        elif name == "challenge_withdrawn":
            if self.offer is not None and data.get("id") == self.offer.get("id"):
                t.say(f"{self.offer.get('from')} withdrew the challenge.")
                self.offer = None
                self._show_prompt()
            elif data.get("id") == self.challenge and (self.view is None):
                print("rps-hub: your challenge was withdrawn", file=sys.stderr)
                return 1
        return None

    def _start(self, game: GameData) -> None:
        self.challenge = None
        self.queued = False
        self.offer = None
        self.view = GameView(self.term, self.me, self.keys.get)
        self.view.load(game)
        self._show_prompt()

    async def _after_game_event(self) -> int | None:
        view = self.view
        assert view is not None
        if view.over:
            self.resigning = None
            self._show_prompt()
            return await self._finish()
        self._show_prompt()
        return None

    def _prompt(self) -> str:
        """The bottom line for what the session waits for now."""
        if self.offer is not None:
            return f"Accept {self.offer.get('from')}'s challenge? [y/n] "
        if self.resigning is not None:
            return f"Resign game {self.resigning}? [y/N] "
        view = self.view
        return view.prompt(self.term.columns) if view is not None else ""

    def _show_prompt(self) -> None:
        self.term.set_prompt(self._prompt())

    async def _finish(self) -> int:
        try:
            record = await rest.player(self.server, self.me)
        except ClientError:
            return 0
        if self.args.json:
            print_json(self.term, {"type": "record", "data": record})
        self.term.say(
            f"{record.get('name')}: {count(record.get('games'), 'game')},"
            f" {record.get('wins')} won, {record.get('losses')} lost, {record.get('draws')} drawn;"
            f" rounds {record.get('rounds_won')} won, {record.get('rounds_lost')} lost."
        )
        return 0

    def _on_tick(self) -> None:
        view = self.view
        if view is None or view.over:
            return
        if self.term.interactive:
            self.term.update_prompt(self._prompt())
            return
        mark = view.warn_due()
        if mark is not None:
            self.term.say(f"{mark}s left in round {view.round}!")

    # -- input ----------------------------------------------------------------------------------

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
                if view is not None and view.over:
                    return None
                self.term.say(f"End of input: {await self._leave()}")
                return 1
            text = line.strip()
            folded = text.casefold()
            if not text:
                self.lines.popleft()
                continue
            if self.offer is not None:
                self.lines.popleft()
                await self._answer(folded)
                continue
            if folded in QUIT:
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
            if playing and view is not None:
                self.term.say(f"You have moved in round {view.round}; waiting for {view.opponent}.")
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
            done = f"withdrew your challenge to {self.args.opponent}"
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
        try:
            if self.queued or self.challenge:
                await self.client.cancel()
            await self.client.accept(str(offer.get("id")))
        except ClientError as exc:
            self.term.say(f"Could not accept: {exc.message}")
            if self.queued:
                await self._begin(str(offer.get("rules")))

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

    async def _send(self, what: tuple[str, str, str, int]) -> None:
        assert self.client is not None
        op, game, roll, rnd = what
        try:
            if op == "move":
                await self.client.move(game, roll, rnd)
            else:
                await self.client.resign(game)
        except ClientError as exc:
            self.inbox.put_nowait(MoveFailed(rnd, exc))

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
