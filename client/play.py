"""``rps-hub play``: the player's session, from signing in to the end of one game.

One asyncio loop takes three kinds of input from one inbox: the client's stream (events, snapshots,
connection states), lines typed on stdin, and a one-second tick for the countdown. The session's
state is a ``client.session.Session``; what is typed is read by ``client.lines``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from client import rest
from client.address import http_url
from client.connection import HubClient
from client.errors import ClientError
from client.frames import Item, read_subscribed
from client.lines import Typing
from client.notices import Closed, Tick, Typed, on_state, print_json
from client.session import MoveFailed, rolls_by_rules
from client.shapes import ChallengeData, GameData, GameEventData, as_shape
from client.signin import authenticate, identity
from client.views import GameView, count
from protocol.rules import DEFAULT_RULES

__all__ = ["Player", "rolls_by_rules"]


class Player(Typing):
    """One ``rps-hub play`` session: sign in, find a game, play it to its end."""

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

    async def _run(self) -> int:
        http_url(self.server)  # a bad address fails here, before anything else
        info = await rest.rules(self.server)
        self.keys = rolls_by_rules(info)
        rules = self.rules = self.args.rules or str(info.get("default", DEFAULT_RULES))
        if rules not in self.keys:
            raise ClientError(
                "bad_request", f"unknown rules {rules!r}; try one of {', '.join(self.keys)}"
            )
        if self.args.level and (self.args.wait or self.args.opponent.casefold() != "computer"):
            raise ClientError("bad_request", "--level is for a game against the computer")
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
            return await self._on_private(name, data)
        if view is not None and topic == f"game:{view.id}":
            if name == "game_over":
                change = as_shape(GameEventData, data).get("rating_change")
                self.rating_change = change if isinstance(change, dict) else {}
            view.handle(name, as_shape(GameEventData, data))
            return await self._after_game_event()
        return None

    async def _on_private(self, name: str, payload: object) -> int | None:
        t = self.term
        data = as_shape(ChallengeData, payload)
        if name == "game_started":
            if self.view is None or self.view.over:
                self._start(as_shape(GameData, payload))
        elif name == "challenge":
            who = data.get("from")
            asks = f"{who} asks for a rematch" if data.get("rematch") else f"{who} challenges you"
            terms = f" (best of {data.get('best_of')}, {data.get('rules')})"
            if self.view is not None and not self.view.over:
                t.say(f"{who} challenged you; finish this game first.")
            elif self.args.wait and self.view is None and self.offer is None:
                t.say(t.style(asks, "bold") + f"{terms}: accepting.")
                await self._accept(data)
            else:
                self.offer = data
                t.say(t.style(asks, "bold") + f"{terms}.")
                self._show_prompt()
        elif name == "challenge_declined" and data.get("id") == self.challenge:
            if self.view is not None:  # a rematch: the session stays, r may ask again
                self.challenge = None
                t.say(f"{data.get('by')} declined the rematch.")
                self._show_prompt()
                return None
            print(f"rps-hub: {data.get('by')} declined your challenge", file=sys.stderr)
            return 1
        elif name == "challenge_withdrawn":
            if self.offer is not None and data.get("id") == self.offer.get("id"):
                t.say(f"{self.offer.get('from')} withdrew the challenge.")
                self.offer = None
                self._show_prompt()
            elif data.get("id") == self.challenge and self.view is None:
                print("rps-hub: your challenge was withdrawn", file=sys.stderr)
                return 1
        return None

    def _start(self, game: GameData) -> None:
        self.challenge = None
        self.ended = None
        self.rating_change = {}
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
            if not self.term.interactive:  # piped input or --json: the session ends with its game
                self._show_prompt()
                await self._record()
                return 0
            if self.ended != view.id:  # a person may ask for a rematch
                self.ended = view.id
                await self._record()
        self._show_prompt()
        return None

    async def _record(self) -> None:
        """The player's record after a game, with the rating and what the game changed of it."""
        try:
            record = await rest.player(self.server, self.me)
        except ClientError:
            return
        if self.args.json:
            print_json(self.term, {"type": "record", "data": record})
        rating = record.get("rating") or {}
        rated = ""
        if "value" in rating:
            change = self.rating_change.get(self.me)
            notes = [f"{change:+d}"] if isinstance(change, int) else []
            notes += ["provisional"] if rating.get("provisional") else []
            rated = f" Rating {round(rating['value'])}" + (
                f" ({', '.join(notes)})" if notes else ""
            )
            rated += "."
        self.term.say(
            f"{record.get('name')}: {count(record.get('games'), 'game')},"
            f" {record.get('wins')} won, {record.get('losses')} lost, {record.get('draws')} drawn;"
            f" rounds {record.get('rounds_won')} won, {record.get('rounds_lost')} lost.{rated}"
        )

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
