"""``HubClient``: a small async client for the hub's WebSocket protocol (docs/protocol.md).

Theory of operation
-------------------
Each connection is a ``client.link.Link``: it settles replies in its reader task, before it reads
the next frame. Events and replies go through the cursors (``client.cursors``, a sans-I/O core),
which drop duplicates, hold a seq past a hole until the hub's catch-up fills it, and ask for a
subscribe again when nothing will fill it; this module does what they say.

When the connection drops, requests in flight fail with ``ConnectionLost`` (requests that are safe
to repeat are sent again instead), and a supervisor task reconnects with capped exponential
backoff and jitter, authenticates again, and subscribes to every topic with ``since`` and ``epoch``
so that the hub replays what was missed. A topic the hub cannot replay comes back with
``recovered: false``; the client then puts a ``snapshot`` item on the stream and carries on from the
snapshot's seq.

The stream (``events()``) yields the hub's event frames as dicts, and the client's own items:
``{"type": "state", "state": ...}`` when the connection state changes, ``{"type": "snapshot",
"topic", "epoch", "seq", "data"}`` when a topic was resynchronised from a snapshot, and
``{"type": "lost", "topic", "error"}`` when a topic could not be subscribed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import TypeAlias

from client.address import ws_url
from client.cursors import Cursors, Effects, Resume
from client.errors import ClientError, ConnectionLost
from client.frames import Item, JsonObject, build_request, read_subscribe_reply, read_subscribed
from client.link import Link
from client.requests import Requests
from client.stream import Backoff, EventStream, State

__all__ = ["Backoff", "ClientError", "ConnectionLost", "Event", "EventStream", "HubClient", "State"]

Event: TypeAlias = Item


class HubClient(Requests):
    """A connection to the hub that survives drops without losing events."""

    def __init__(
        self,
        url: str,
        *,
        backoff: Backoff | None = None,
        reconnect: bool = True,
        max_attempts: int | None = None,
        open_timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.url = ws_url(url)
        self.backoff = backoff or Backoff()
        self.reconnect = reconnect
        self.max_attempts = max_attempts
        self.open_timeout = open_timeout
        self.rng = rng or random.Random()
        self.welcome: JsonObject = {}
        self.player: str | None = None
        self._token: str | None = None
        self._state = State.CONNECTING
        self._ready_event = asyncio.Event()
        self._link: Link | None = None  # the connection requests go out on; None while away
        self._last: Link | None = None  # the latest connection, open or not
        self._supervisor: asyncio.Task[None] | None = None
        self._cursors = Cursors()
        self._fillers: set[asyncio.Task[None]] = set()
        self._closing = False
        self._queue: asyncio.Queue[Item | None] = asyncio.Queue()

    # -- life -------------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        token: str | None = None,
        backoff: Backoff | None = None,
        reconnect: bool = True,
        max_attempts: int | None = None,
        open_timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> HubClient:
        """Open a connection, read the welcome, and authenticate when ``token`` is given."""
        client = cls(
            url,
            backoff=backoff,
            reconnect=reconnect,
            max_attempts=max_attempts,
            open_timeout=open_timeout,
            rng=rng,
        )
        await client.open()
        if token is not None:
            try:
                await client.auth(token)
            except BaseException:
                await client.close()
                raise
        return client

    async def open(self) -> None:
        """Open the first connection; ``ClientError("unavailable")`` when the hub is unreachable."""
        self._attach(await self._open())
        self._set_state(State.CONNECTED, emit=False)
        self._supervisor = asyncio.create_task(self._supervise())

    async def close(self) -> None:
        """Close the connection for good and end the event stream."""
        if self._state is State.CLOSED:
            return
        self._closing = True
        if self._supervisor is not None and self._supervisor is not asyncio.current_task():
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        await self._shut()
        self._finish(None)

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def state(self) -> State:
        """The connection state now."""
        return self._state

    def events(self) -> EventStream:
        """The stream of events and the client's own items (see the module docstring)."""
        return EventStream(self._queue)

    async def next_event(self) -> Item:
        """The next item of the stream; ``ClientError`` once the client is closed."""
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)
            raise ClientError("unavailable", "the client is closed")
        return item

    # -- requests ---------------------------------------------------------------------------

    async def request(self, op: str, *, retry: bool = False, **fields: object) -> JsonObject:
        """Send a request and return its reply's data; ``ClientError`` for an error reply.

        The request is checked as the hub checks it: a bad field is ``bad_request`` before anything
        is sent. With ``retry`` the request is sent again on the next connection when the
        connection drops before the reply: only for requests that are safe to repeat.
        """
        build_request(op, 0, fields)
        dead: Link | None = None
        while True:
            link = await self._ready(dead)
            try:
                return await link.call(op, fields)
            except ConnectionLost:
                if not retry or self._closing:
                    raise
                dead = link

    async def auth(self, token: str) -> JsonObject:
        """Authenticate as the token's player; the hub subscribes to its topic and live game."""
        dead: Link | None = None
        while True:
            link = await self._ready(dead)
            try:
                data = await link.call(
                    "auth", {"token": token}, on_reply=self._auth_reply(resync=False)
                )
            except ConnectionLost:
                if self._closing:
                    raise
                dead = link
                continue
            self._token = token
            return data

    async def subscribe(
        self, topic: str, since: int | None = None, epoch: str | None = None
    ) -> JsonObject:
        """Subscribe to ``topic``; a topic already followed resumes from its last seq."""
        build_request("subscribe", 0, {"topic": topic, "since": since, "epoch": epoch})
        dead: Link | None = None
        while True:
            link = await self._ready(dead)
            resume = self._cursors.subscribing(topic, since, epoch)
            try:
                return await link.call(
                    "subscribe",
                    _fields(resume),
                    on_reply=self._subscribe_reply(topic, internal=False),
                    on_error=self._subscribe_error(topic, internal=False),
                )
            except ConnectionLost:
                if self._closing:
                    raise
                dead = link
                since = epoch = None

    async def unsubscribe(self, topic: str) -> JsonObject:
        """Stop following ``topic``."""
        data = await self.request("unsubscribe", retry=True, topic=topic)
        self._cursors.forget(topic)
        return data

    # -- the wire ---------------------------------------------------------------------------

    async def _open(self) -> Link:
        link = await Link.open(self.url, self.open_timeout, self._on_event, self._on_lost)
        self.welcome = link.welcome
        return link

    def _attach(self, link: Link) -> None:
        self._link = self._last = link

    def _on_lost(self, link: Link) -> None:
        if self._link is link:
            # Synchronously, so that no request goes out on this connection any more.
            self._link = None
            self._cursors.lost()
            if not self._closing:
                self._set_state(State.RECONNECTING, emit=False)

    async def _ready(self, dead: Link | None = None) -> Link:
        """The connection to send on, once connected; never ``dead``, which failed a send."""
        while True:
            if self._state is State.CLOSED:
                raise ClientError("unavailable", "the client is closed")
            if self._link is not None and self._link is dead:
                await asyncio.wait([dead.reader])
                continue
            if self._state is State.CONNECTED and self._link is not None:
                return self._link
            await self._ready_event.wait()

    def _set_state(self, state: State, *, emit: bool = True, **details: object) -> None:
        self._state = state
        if state in (State.CONNECTED, State.CLOSED):
            self._ready_event.set()
        else:
            self._ready_event.clear()
        if emit:
            self._queue.put_nowait({"type": "state", "state": state.value, **details})

    # -- topics -----------------------------------------------------------------------------

    def _on_event(self, frame: JsonObject) -> None:
        topic, seq = frame.get("topic"), frame.get("seq")
        if not isinstance(topic, str) or not isinstance(seq, int) or isinstance(seq, bool):
            return
        step = self._cursors.receive(frame)
        self._apply(Effects(step.deliver, (step.resume,) if step.resume else ()))

    def _apply(self, effects: Effects) -> None:
        for item in effects.deliver:
            self._queue.put_nowait(item)
        for resume in effects.send:
            task = asyncio.create_task(self._fill(resume))
            self._fillers.add(task)
            task.add_done_callback(self._fillers.discard)

    async def _fill(self, resume: Resume) -> None:
        """Fill a gap: subscribe again (unsubscribing first when the cursors say so)."""
        link = self._link
        if link is None:
            return  # the reconnect subscribes again anyway
        topic = resume.topic
        try:
            if resume.fresh:
                await link.call("unsubscribe", {"topic": topic})
            await link.call(
                "subscribe",
                _fields(resume),
                on_reply=self._subscribe_reply(topic, internal=True),
                on_error=self._subscribe_error(topic, internal=True),
            )
        except ConnectionLost:
            pass
        except ClientError as exc:
            if resume.fresh:  # the unsubscribe was refused: the subscribe was never sent
                self._subscribe_error(topic, internal=True)(exc)

    def _subscribe_reply(self, topic: str, *, internal: bool) -> Callable[[JsonObject], None]:
        def done(data: JsonObject) -> None:
            reply = read_subscribe_reply(data)
            self._apply(self._cursors.subscribed(topic, reply, internal=internal))

        return done

    def _subscribe_error(self, topic: str, *, internal: bool) -> Callable[[ClientError], None]:
        def failed(exc: ClientError) -> None:
            self._apply(self._cursors.refused(topic, exc.code, exc.message, internal=internal))

        return failed

    def _auth_reply(self, *, resync: bool) -> Callable[[JsonObject], None]:
        def done(data: JsonObject) -> None:
            player = data.get("player")
            self.player = player if isinstance(player, str) else self.player
            self._apply(self._cursors.authenticated(read_subscribed(data), resync=resync))

        return done

    # -- reconnecting -----------------------------------------------------------------------

    async def _supervise(self) -> None:
        while True:
            assert self._last is not None
            await asyncio.wait([self._last.reader])
            reason = self._last.close_reason
            if not self.reconnect:
                await self._give_up(f"the connection closed ({reason})")
                return
            attempt = 0
            while True:
                if self.max_attempts is not None and attempt >= self.max_attempts:
                    await self._give_up(f"gave up reconnecting after {attempt} attempts ({reason})")
                    return
                delay = self.backoff.delay(attempt, self.rng)
                attempt += 1
                self._set_state(State.RECONNECTING, attempt=attempt, delay=delay, reason=reason)
                await asyncio.sleep(delay)
                try:
                    link = await self._open()
                except ClientError as exc:
                    reason = exc.message
                    continue
                self._attach(link)
                try:
                    await self._resync(link)
                except ConnectionLost:
                    await link.close()
                    reason = link.close_reason
                    continue
                except ClientError as exc:
                    await self._give_up(exc.message)
                    return
                if self._link is not link:
                    reason = link.close_reason
                    continue
                self._set_state(State.CONNECTED)
                # The catch-up goes out after the item that says the client is back.
                self._apply(self._cursors.release())
                break

    async def _resync(self, link: Link) -> None:
        if self._token is not None:
            await link.call("auth", {"token": self._token}, on_reply=self._auth_reply(resync=True))
        calls = [
            link.call(
                "subscribe",
                _fields(resume),
                on_reply=self._subscribe_reply(resume.topic, internal=True),
                on_error=self._subscribe_error(resume.topic, internal=True),
            )
            for resume in self._cursors.resume()
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
        for result in results:
            if isinstance(result, ConnectionLost):
                raise result
            if isinstance(result, BaseException) and not isinstance(result, ClientError):
                raise result

    async def _give_up(self, reason: str) -> None:
        self._closing = True
        await self._shut()
        self._finish(reason)

    async def _shut(self) -> None:
        for task in list(self._fillers):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._last is not None:
            await self._last.close()
        self._link = None

    def _finish(self, reason: str | None) -> None:
        if self._last is not None:
            self._last.fail(ClientError("unavailable", "the client is closed"))
        if reason is None:
            self._set_state(State.CLOSED)
        else:
            self._set_state(State.CLOSED, reason=reason)
        self._queue.put_nowait(None)


def _fields(resume: Resume) -> dict[str, object]:
    return {"topic": resume.topic, "since": resume.since, "epoch": resume.epoch}
