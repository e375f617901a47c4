"""``rps-hub watch`` and ``rps-hub lobby``: following a game or the lobby without playing (the
lobby answers challenges when it could sign in: ``client.lobbyseat``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable

from attrs import frozen

from client import rest
from client.address import http_url
from client.connection import HubClient
from client.errors import ClientError
from client.frames import Item
from client.lobbyseat import QUIT_PROMPT, LobbySeat, play_args
from client.lobbyview import LobbyView
from client.notices import QUIT, Closed, Typed, on_state, print_json, state_line
from client.play import Player
from client.shapes import GameData, GameEventData, Leader, LobbyEventData, LobbySnapshot, as_shape
from client.terminal import Terminal
from client.views import GameView

__all__ = ["Refresh", "lobby", "watch"]


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
            print_json(term, {"type": "snapshot", **data, "data": snapshot})
        view = GameView(term, None, lambda rules: None)
        view.load(as_shape(GameData, snapshot))
        if view.over:
            return 0
        async for item in client.events():
            if args.json:
                print_json(term, item)
            kind, payload = item.get("type"), item.get("data")
            if kind == "state":
                if on_state(term, item) is not None:
                    return 1
            elif kind == "snapshot" and item.get("topic") == topic:
                view.load(as_shape(GameData, payload))
            elif kind == "event" and item.get("topic") == topic:
                view.handle(str(item.get("event")), as_shape(GameEventData, payload))
            if view.over:
                return 0
        return 1
    finally:
        await client.close()


@frozen
class Leaders:
    """The leaderboard, fetched again."""

    rows: list[Leader]


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
    """Follow the lobby until interrupted (or ``q`` on a terminal); after a challenge accepted
    there, play its game."""
    accepted: list[str] = []
    code = await _follow_lobby(args, term, accepted)
    if accepted:
        return await Player(play_args(args, accepted[0]), term).run()
    return code


async def _follow_lobby(args: argparse.Namespace, term: Terminal, accepted: list[str]) -> int:
    client = await HubClient.connect(args.server)
    inbox: asyncio.Queue[Item | Typed | Leaders | Closed] = asyncio.Queue()

    async def pump() -> None:
        async for item in client.events():
            inbox.put_nowait(item)
        inbox.put_nowait(Closed())

    async def leaders() -> None:
        with contextlib.suppress(ClientError):
            inbox.put_nowait(Leaders(await rest.leaderboard(args.server, 5)))

    refresh = Refresh(leaders)
    pumping: asyncio.Task[None] | None = None
    try:
        seat = await LobbySeat.sign_in(client, args.server, args.name)
        data = await client.subscribe("lobby")
        snapshot = data.get("snapshot") or {}
        view = LobbyView()
        view.load(as_shape(LobbySnapshot, snapshot))
        view.leaders = await rest.leaderboard(args.server, 5)
        title = f"rps-hub lobby · {http_url(args.server)}"
        title += f" · you are {seat.me}" if seat is not None else ""
        if args.json:
            print_json(term, {"type": "snapshot", **data, "data": snapshot})
        pumping = asyncio.create_task(pump())
        if term.interactive:
            term.prompt = QUIT_PROMPT
            term.on_resize = lambda: _draw_lobby(term, view, title)
            term.start(lambda line: inbox.put_nowait(Typed(line)))
        if term.interactive:
            _draw_lobby(term, view, title)
        else:
            for text in view.render(term, title, width=80, height=10_000):
                term.say(text)
        while True:
            item = await inbox.get()
            if isinstance(item, Closed):
                return 1
            if isinstance(item, Typed):
                if item.line is None or item.line.strip().casefold() in ("q", *QUIT):
                    return 0
                if seat is not None and seat.offer is not None:
                    took, said = await seat.answer(item.line)
                    if took:
                        accepted.append(seat.me)
                        return 0
                    view.note, term.prompt = said, seat.prompt()
                _draw_lobby(term, view, title)
                continue
            if isinstance(item, Leaders):
                view.leaders = item.rows
                _draw_lobby(term, view, title)
                continue
            if args.json:
                print_json(term, item)
            heard = seat.on_item(item) if seat is not None else None
            if heard is not None and seat is not None:
                view.note, term.prompt = heard, seat.prompt()
                if not term.interactive:
                    term.say(heard)
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


def _lobby_item(view: LobbyView, item: Item, refresh: Callable[[], None]) -> str | None:
    kind, data = item.get("type"), item.get("data")
    if kind == "state":
        if item.get("state") == "closed":
            return "closed"
        view.note = "reconnecting…" if item.get("state") == "reconnecting" else ""
        if item.get("state") == "connected":
            # Games may have ended while the client was away (or the hub was down): the topic
            # replays or reloads the lobby, but the leaderboard is the hub's REST answer.
            refresh()
        return state_line(item)
    if kind == "snapshot" and item.get("topic") == "lobby":
        view.load(as_shape(LobbySnapshot, data))
        return "(the lobby was reloaded)"
    if kind != "event" or item.get("topic") != "lobby":
        return None
    name = str(item.get("event"))
    if name == "game_finished":
        refresh()
    return view.apply(name, as_shape(LobbyEventData, data))


def _draw_lobby(term: Terminal, view: LobbyView, title: str) -> None:
    if not term.interactive:
        return
    columns, rows = term.size()
    lines = view.render(term, title, width=columns, height=rows - 1)
    term.write_raw("\x1b[H\x1b[2J" + "\r\n".join(lines) + "\r\n" + term.line())
