"""The terminal client's commands: ``play``, ``watch`` and ``lobby``.

``hub.cli`` adds them to ``rps-hub`` with ``register(subparsers)``. Each command runs one asyncio
loop that takes three kinds of input from one inbox: the client's stream (events, snapshots,
connection states), lines typed on stdin, and a one-second tick for the countdown. Exit codes:
0 done, 1 the hub said no (name taken, no such game, challenge declined), 2 a bad address or
argument or an unreachable hub, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import re
import shutil
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from client import rest
from client.address import DEFAULT_SERVER, http_url
from client.connection import Event, HubClient
from client.errors import ClientError
from client.keys import RollKeys
from client.terminal import Terminal
from client.tokens import TokenStore
from client.views import GameView, LobbyView

USAGE_CODES = ("unavailable", "bad_request")
QUIT = ("quit", "exit", "/quit", "/q")
RESIGN = ("resign", "/resign")
YES = ("y", "yes")
NO = ("n", "no")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``play``, ``watch`` and ``lobby`` to an ``rps-hub`` subparsers object."""
    play = subparsers.add_parser(
        "play",
        help="play the computer or another player",
        description="Play a game: against the computer, a player by name, or whoever is queued.",
    )
    _server(play)
    play.add_argument("--name", help="your player name (registered on first use)")
    play.add_argument(
        "--opponent", default="computer", help="computer (default), a player's name, or * to queue"
    )
    play.add_argument(
        "--best-of", type=_best_of, default=5, metavar="N", help="odd, 1..15 (default 5)"
    )
    play.add_argument("--rules", default=None, help="rps15 (the hub's default), rps3 or rpsls")
    _json(play)
    play.set_defaults(func=play_command)

    watch = subparsers.add_parser("watch", help="watch one game live")
    watch.add_argument("game", metavar="GAME_ID")
    _server(watch)
    _json(watch)
    watch.set_defaults(func=watch_command)

    lobby = subparsers.add_parser("lobby", help="follow the lobby: players, live games, leaders")
    _server(lobby)
    _json(lobby)
    lobby.set_defaults(func=lobby_command)


def _server(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        default=DEFAULT_SERVER,
        metavar="URL",
        help=f"the hub: http://host:port or ws://host:port/ws (default {DEFAULT_SERVER})",
    )


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the raw events as JSON lines")


def _best_of(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= value <= 15 or value % 2 == 0:
        raise argparse.ArgumentTypeError(f"must be odd and from 1 to 15, not {value}")
    return value


# -- running a command --------------------------------------------------------------------------


def play_command(args: argparse.Namespace) -> int:
    """``rps-hub play``."""
    return _run(lambda term: Player(args, term).run(), args, interrupted=130)


def watch_command(args: argparse.Namespace) -> int:
    """``rps-hub watch GAME_ID``."""
    return _run(lambda term: watch(args, term), args, interrupted=0)


def lobby_command(args: argparse.Namespace) -> int:
    """``rps-hub lobby``."""
    return _run(lambda term: lobby(args, term), args, interrupted=0)


def _run(
    main: Callable[[Terminal], Awaitable[int]], args: argparse.Namespace, *, interrupted: int
) -> int:
    term = Terminal()
    if args.json:
        term.muted = True
        term.interactive = False
    try:
        return asyncio.run(_guard(main(term), term))
    except KeyboardInterrupt:
        term.stop()
        return interrupted


async def _guard(main: Awaitable[int], term: Terminal) -> int:
    try:
        return await main
    except ClientError as exc:
        term.stop()
        print(f"rps-hub: {exc.message}", file=sys.stderr)
        return 2 if exc.code in USAGE_CODES else 1
    finally:
        term.stop()


def _print_json(term: Terminal, item: object) -> None:
    term.write_raw(json.dumps(item, ensure_ascii=False) + "\n")


def _rolls_by_rules(info: dict[str, Any]) -> dict[str, RollKeys]:
    rules = info.get("rules")
    if not isinstance(rules, dict):
        return {}
    return {name: RollKeys(spec.get("rolls", [])) for name, spec in rules.items()}


def _count(n: object, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def default_name() -> str:
    """The login name cut to what the hub accepts, for a first ``play`` without ``--name``."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = ""
    return re.sub(r"[^A-Za-z0-9_-]", "", user)[:32] or "player"


def _state_line(item: Event) -> str | None:
    state = item.get("state")
    if state == "reconnecting":
        delay = float(item.get("delay", 0))
        if item.get("attempt") == 1:
            return f"connection lost ({item.get('reason')}); reconnecting…"
        return f"still reconnecting: attempt {item.get('attempt')} in {delay:.1f}s…"
    if state == "connected":
        return "reconnected; catching up"
    return None


def _on_state(term: Terminal, item: Event) -> int | None:
    """Say a change of the connection; the exit code 1 when the hub is lost for good."""
    if item.get("state") == "closed":
        print(f"rps-hub: lost the hub: {item.get('reason')}", file=sys.stderr)
        return 1
    line = _state_line(item)
    if line:
        term.say(term.style(line, "yellow"))
    return None


# -- play ---------------------------------------------------------------------------------------


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
        self.offer: dict[str, Any] | None = None  # one sent to us, awaiting y/n
        self.queued = False
        self.lines: deque[str | None] = deque()
        self.inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.tasks: set[asyncio.Task[Any]] = set()

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

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self) -> int:
        http_url(self.server)  # a bad address fails here, before anything else
        info = await rest.rules(self.server)
        self.keys = _rolls_by_rules(info)
        rules = self.args.rules or str(info.get("default", "rps15"))
        if rules not in self.keys:
            raise ClientError(
                "bad_request", f"unknown rules {rules!r}; try one of {', '.join(self.keys)}"
            )
        token = await self._identity()
        self.client = await HubClient.connect(self.server)
        joined = await self._auth(token)
        self.me = self.client.player or self.me
        self._spawn(self._pump(self.client))
        self._spawn(self._tick())
        self.term.start(lambda line: self.inbox.put_nowait(("line", line)))
        live = [
            s["topic"][len("game:") :]
            for s in joined.get("subscribed", [])
            if isinstance(s, dict) and str(s.get("topic", "")).startswith("game:")
        ]
        if live:
            game = await rest.call(self.server, "GET", f"/api/games/{live[0]}")
            self.term.say(f"You have a live game, {live[0]}: resuming it.")
            self._start(game)
        else:
            await self._begin(rules)
        return await self._loop()

    async def _identity(self) -> str:
        store = TokenStore()
        name = self.args.name or store.last_name(self.server) or default_name()
        token = store.get(self.server, name)
        if token is None:
            name, token = await rest.register(self.server, name)
            store.put(self.server, name, token)
            self.term.say(f"Registered {name} on {http_url(self.server)}.")
        else:
            name = store.name_of(self.server, name)
            store.remember(self.server, name)
        self.me = name
        return token

    async def _auth(self, token: str) -> dict[str, Any]:
        assert self.client is not None
        try:
            return await self.client.auth(token)
        except ClientError as exc:
            if exc.code != "unauthorized":
                raise
        # The hub no longer knows the saved token (a fresh database): register the name again.
        store = TokenStore()
        store.forget(self.server, self.me)
        try:
            name, token = await rest.register(self.server, self.me)
        except ClientError as exc:
            if exc.code == "conflict":
                raise ClientError(
                    "conflict",
                    f"the hub refused the saved token for {self.me!r} and the name is taken;"
                    " pick another --name",
                ) from None
            raise
        store.put(self.server, name, token)
        self.me = name
        return await self.client.auth(token)

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
            self.inbox.put_nowait(("event", item))
        self.inbox.put_nowait(("closed", None))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.inbox.put_nowait(("tick", None))

    async def _loop(self) -> int:
        while True:
            kind, item = await self.inbox.get()
            code: int | None = None
            if kind == "event":
                code = await self._on_item(item)
            elif kind == "line":
                self.lines.append(item)
            elif kind == "tick":
                self._on_tick()
            elif kind == "moved":
                self._on_move_result(*item)
            elif kind == "closed":
                return 1
            if code is None:
                code = await self._consume()
            if code is not None:
                return code

    # -- the stream -----------------------------------------------------------------------------

    async def _on_item(self, item: Event) -> int | None:
        if self.args.json:
            _print_json(self.term, item)
        kind = item.get("type")
        if kind == "state":
            return _on_state(self.term, item)
        topic = str(item.get("topic", ""))
        data = item.get("data")
        data = data if isinstance(data, dict) else {}
        view = self.view
        if kind == "snapshot":
            if view is not None and topic == f"game:{view.id}":
                view.load(data)
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
            view.handle(name, data)
            return await self._after_game_event()
        return None

    def _on_private(self, name: str, data: dict[str, Any]) -> int | None:
        t = self.term
        if name == "game_started":
            if self.view is None or self.view.over:
                self._start(data)
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
                t.set_prompt(f"Accept {who}'s challenge? [y/n] ")
        elif name == "challenge_declined" and data.get("id") == self.challenge:
            print(f"rps-hub: {data.get('by')} declined your challenge", file=sys.stderr)
            return 1
        elif name == "challenge_withdrawn":
            if self.offer is not None and data.get("id") == self.offer.get("id"):
                t.say(f"{self.offer.get('from')} withdrew the challenge.")
                self.offer = None
                t.set_prompt("")
            elif data.get("id") == self.challenge and (self.view is None):
                print("rps-hub: your challenge was withdrawn", file=sys.stderr)
                return 1
        return None

    def _start(self, game: dict[str, Any]) -> None:
        self.challenge = None
        self.queued = False
        self.offer = None
        self.view = GameView(self.term, self.me, self.keys.get)
        self.view.load(game)
        self.term.set_prompt(self.view.prompt())

    async def _after_game_event(self) -> int | None:
        view = self.view
        assert view is not None
        if view.over:
            self.term.set_prompt("")
            return await self._finish()
        self.term.set_prompt(view.prompt())
        return None

    async def _finish(self) -> int:
        try:
            record = await rest.player(self.server, self.me)
        except ClientError:
            return 0
        if self.args.json:
            _print_json(self.term, {"type": "record", "data": record})
        self.term.say(
            f"{record.get('name')}: {_count(record.get('games'), 'game')},"
            f" {record.get('wins')} won, {record.get('losses')} lost, {record.get('draws')} drawn;"
            f" rounds {record.get('rounds_won')} won, {record.get('rounds_lost')} lost."
        )
        return 0

    def _on_tick(self) -> None:
        view = self.view
        if view is None or view.over:
            return
        if self.term.interactive:
            if self.offer is None:
                self.term.update_prompt(view.prompt())
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
            if line is None:
                if self.offer is None and view is not None and view.moved_round >= view.round:
                    return None  # the round may end the game: wait for it
                if view is not None and view.over:
                    return None
                self.term.say("End of input: leaving (a live game goes on to its deadline).")
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
                self.term.say("Leaving; a live game goes on to its deadline.")
                return 0
            playing = view is not None and not view.over
            if folded in RESIGN and playing and view is not None:
                self.lines.popleft()
                self._spawn(self._send(("resign", view.id or "", "", 0)))
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

    async def _answer(self, folded: str) -> None:
        assert self.client is not None and self.offer is not None
        offer = self.offer
        if folded not in YES + NO:
            self.term.say("Answer y or n.")
            return
        self.offer = None
        self.term.set_prompt("")
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
        self.term.set_prompt(view.prompt())
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
            self.inbox.put_nowait(("moved", (rnd, exc)))

    def _on_move_result(self, rnd: int, exc: ClientError) -> None:
        view = self.view
        self.term.say(self.term.style(exc.message, "red"))
        if view is None or view.over or rnd != view.round:
            return
        if exc.code != "conflict":
            view.moved_round = rnd - 1  # let the player try again
        self.term.set_prompt(view.prompt())


# -- watch --------------------------------------------------------------------------------------


async def watch(args: argparse.Namespace, term: Terminal) -> int:
    """Follow one game from its snapshot to its end."""
    client = await HubClient.connect(args.server)
    try:
        topic = f"game:{args.game}"
        try:
            data = await client.subscribe(topic)
        except ClientError as exc:
            if exc.code == "not_found":
                raise ClientError(
                    "not_found", f"there is no game {args.game!r} on {http_url(args.server)}"
                ) from None
            raise
        snapshot = data.get("snapshot") or {}
        if args.json:
            _print_json(term, {"type": "snapshot", **data, "data": snapshot})
        view = GameView(term, None, lambda rules: None)
        view.load(snapshot)
        if view.over:
            return 0
        async for item in client.events():
            if args.json:
                _print_json(term, item)
            kind = item.get("type")
            payload = item.get("data") if isinstance(item.get("data"), dict) else {}
            assert isinstance(payload, dict)
            if kind == "state":
                if _on_state(term, item) is not None:
                    return 1
            elif kind == "snapshot" and item.get("topic") == topic:
                view.load(payload)
            elif kind == "event" and item.get("topic") == topic:
                view.handle(str(item.get("event")), payload)
            if view.over:
                return 0
        return 1
    finally:
        await client.close()


# -- lobby --------------------------------------------------------------------------------------


class Refresh:
    """Runs ``fetch`` in the background, one run at a time.

    Asked again while a run is under way, it runs once more after it: a burst of finished games
    costs two leaderboard requests, not one each, and nothing is kept once a run ends.
    """

    def __init__(self, fetch: Callable[[], Awaitable[None]]) -> None:
        self.fetch = fetch
        self.task: asyncio.Task[None] | None = None
        self.again = False

    def request(self) -> None:
        """Run ``fetch`` now, or once more after the run under way."""
        if self.task is not None:
            self.again = True
            return
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                self.again = False
                await self.fetch()
                if not self.again:
                    return
        finally:
            self.task = None

    async def stop(self) -> None:
        """Cancel a run under way."""
        task = self.task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def lobby(args: argparse.Namespace, term: Terminal) -> int:
    """Follow the lobby until interrupted (or ``q`` on a terminal)."""
    client = await HubClient.connect(args.server)
    inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        async for item in client.events():
            inbox.put_nowait(("event", item))
        inbox.put_nowait(("closed", None))

    async def leaders() -> None:
        with contextlib.suppress(ClientError):
            inbox.put_nowait(("leaders", await rest.leaderboard(args.server, 5)))

    refresh = Refresh(leaders)
    pumping: asyncio.Task[None] | None = None
    try:
        data = await client.subscribe("lobby")
        snapshot = data.get("snapshot") or {}
        view = LobbyView()
        view.load(snapshot)
        view.leaders = await rest.leaderboard(args.server, 5)
        title = f"rps-hub lobby · {http_url(args.server)}"
        if args.json:
            _print_json(term, {"type": "snapshot", **data, "data": snapshot})
        pumping = asyncio.create_task(pump())
        if term.interactive:
            term.prompt = "q + Enter quits: "
            term.start(lambda line: inbox.put_nowait(("line", line)))
        if term.interactive:
            _draw_lobby(term, view, title)
        else:
            for text in view.render(term, title, width=80, height=10_000):
                term.say(text)
        while True:
            kind, item = await inbox.get()
            if kind == "closed":
                return 1
            if kind == "line":
                if item is None or item.strip().casefold() in ("q", *QUIT):
                    return 0
                _draw_lobby(term, view, title)
                continue
            if kind == "leaders":
                view.leaders = item
                _draw_lobby(term, view, title)
                continue
            if args.json:
                _print_json(term, item)
            line = _lobby_item(view, item, refresh.request)
            if line == "closed":
                print(f"rps-hub: lost the hub: {item.get('reason')}", file=sys.stderr)
                return 1
            if term.interactive:
                _draw_lobby(term, view, title)
            elif line:
                term.say(line)
    finally:
        await refresh.stop()
        if pumping is not None:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
        term.stop()
        await client.close()


def _lobby_item(view: LobbyView, item: Event, refresh: Callable[[], None]) -> str | None:
    kind = item.get("type")
    data = item.get("data") if isinstance(item.get("data"), dict) else {}
    assert isinstance(data, dict)
    if kind == "state":
        if item.get("state") == "closed":
            return "closed"
        view.note = "reconnecting…" if item.get("state") == "reconnecting" else ""
        return _state_line(item)
    if kind == "snapshot" and item.get("topic") == "lobby":
        view.load(data)
        return "(the lobby was reloaded)"
    if kind != "event" or item.get("topic") != "lobby":
        return None
    name = str(item.get("event"))
    if name == "game_finished":
        refresh()
    return view.apply(name, data)


def _draw_lobby(term: Terminal, view: LobbyView, title: str) -> None:
    if not term.interactive:
        return
    size = shutil.get_terminal_size((80, 24))
    lines = view.render(term, title, width=size.columns, height=size.lines - 1)
    term.write_raw("\x1b[H\x1b[2J" + "\r\n".join(lines) + "\r\n" + term.prompt + term.buffer)
