"""``HubClient``: a small async client for the hub's WebSocket protocol (SPEC §3).

Theory of operation
-------------------
One reader task per WebSocket connection reads frames in order. A reply settles the request with
the same id; a reply's bookkeeping (a subscription's epoch and seq, the topics ``auth`` joined) is
done by the reader itself, synchronously, before it reads the next frame, because the frames right
after a ``subscribe`` reply are that topic's catch-up.

The client keeps a *cursor* per topic it receives: the topic's epoch and the last seq it handed
out. Events go through the cursor: a seq at or below the last is a duplicate and is dropped; a seq
past a hole waits in the cursor's buffer until the hole fills (the hub's catch-up is on its way)
and is handed out in order. While a topic's subscribe is unanswered, its events wait too.

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
import enum
import json
import logging
import random
from collections.abc import Callable
from typing import Any, TypeAlias

from attrs import define, field, frozen
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from client.address import ws_url
from client.errors import ClientError, ConnectionLost, describe

__all__ = ["Backoff", "ClientError", "ConnectionLost", "Event", "EventStream", "HubClient", "State"]

log = logging.getLogger(__name__)

Event: TypeAlias = dict[str, Any]
MAX_FRAME = 1 << 20


class State(enum.Enum):
    """The client's connection state."""

    CONNECTING = "connecting"  # opening the first connection
    CONNECTED = "connected"  # requests go out at once
    RECONNECTING = "reconnecting"  # the connection dropped; requests wait for the next one
    CLOSED = "closed"  # closed by ``close()`` or given up; requests fail


@frozen
class Backoff:
    """Delays between reconnection attempts: doubling from ``initial`` up to ``cap``, jittered."""

    initial: float = 0.5
    cap: float = 15.0
    factor: float = 2.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The delay before attempt ``attempt`` (0-based): uniform in [top/2, top]."""
        top = min(self.cap, self.initial * self.factor ** min(attempt, 64))
        return rng.uniform(top / 2, top)


@define
class _Cursor:
    epoch: str | None = None
    last: int | None = None  # the last seq handed out; None until the first event or reply
    pending: int = 0  # unanswered subscribes: events wait
    replay_until: int = 0  # the hub's catch-up reaches this seq: holes below it will fill
    buffer: dict[int, Event] = field(factory=dict)


@define
class _Call:
    conn: ClientConnection
    future: asyncio.Future[dict[str, Any]]
    on_reply: Callable[[dict[str, Any]], None] | None = None
    on_error: Callable[[ClientError], None] | None = None


class EventStream:
    """An async iterator over the client's stream; ends when the client closes."""

    def __init__(self, queue: asyncio.Queue[Event | None]) -> None:
        self._queue = queue

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # later readers end too
            raise StopAsyncIteration
        return item


class HubClient:
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
        self.welcome: dict[str, Any] = {}
        self.player: str | None = None
        self._token: str | None = None
        self._state = State.CONNECTING
        self._ready_event = asyncio.Event()
        self._conn: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._pending: dict[int, _Call] = {}
        self._next_id = 0
        self._cursors: dict[str, _Cursor] = {}
        self._holding = False
        self._closing = False
        self._close_reason = "connection lost"
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()

    # -- life -------------------------------------------------------------------------------

    @classmethod
    async def connect(cls, url: str, *, token: str | None = None, **options: Any) -> HubClient:
        """Open a connection, read the welcome, and authenticate when ``token`` is given."""
        client = cls(url, **options)
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
        conn = await self._open()
        self._attach(conn)
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

    async def next_event(self) -> Event:
        """The next item of the stream; ``ClientError`` once the client is closed."""
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)
            raise ClientError("unavailable", "the client is closed")
        return item

    # -- requests ---------------------------------------------------------------------------

    async def request(self, op: str, *, retry: bool = False, **fields: Any) -> dict[str, Any]:
        """Send a request and return its reply's data; ``ClientError`` for an error reply.

        With ``retry`` the request is sent again on the next connection when the connection drops
        before the reply: only for requests that are safe to repeat.
        """
        body = {k: v for k, v in fields.items() if v is not None}
        dead: ClientConnection | None = None
        while True:
            conn = await self._ready(dead)
            try:
                return await self._call(conn, op, body)
            except ConnectionLost:
                if not retry or self._closing:
                    raise
                dead = conn

    async def auth(self, token: str) -> dict[str, Any]:
        """Authenticate as the token's player; the hub subscribes to its topic and live game."""
        dead: ClientConnection | None = None
        while True:
            conn = await self._ready(dead)
            try:
                data = await self._call(
                    conn, "auth", {"token": token}, on_reply=self._auth_reply(resync=False)
                )
            except ConnectionLost:
                if self._closing:
                    raise
                dead = conn
                continue
            self._token = token
            return data

    async def subscribe(
        self, topic: str, since: int | None = None, epoch: str | None = None
    ) -> dict[str, Any]:
        """Subscribe to ``topic``; a topic already followed resumes from its last seq."""
        dead: ClientConnection | None = None
        while True:
            conn = await self._ready(dead)
            body = self._subscribe_body(topic, since, epoch)
            try:
                return await self._call(
                    conn,
                    "subscribe",
                    body,
                    on_reply=self._subscribe_reply(topic, internal=False),
                    on_error=self._subscribe_error(topic, internal=False),
                )
            except ConnectionLost:
                if self._closing:
                    raise
                dead = conn
                since = epoch = None

    async def unsubscribe(self, topic: str) -> dict[str, Any]:
        """Stop following ``topic``."""
        data = await self.request("unsubscribe", retry=True, topic=topic)
        self._cursors.pop(topic, None)
        return data

    async def play(
        self, opponent: str, best_of: int | None = None, rules: str | None = None
    ) -> dict[str, Any]:
        """Play ``computer``, challenge a player by name, or queue with ``*``."""
        return await self.request("play", opponent=opponent, best_of=best_of, rules=rules)

    async def accept(self, challenge: str) -> dict[str, Any]:
        """Accept a challenge; the reply names the game."""
        return await self.request("accept", challenge=challenge)

    async def decline(self, challenge: str) -> dict[str, Any]:
        """Decline a challenge."""
        return await self.request("decline", retry=True, challenge=challenge)

    async def cancel(self) -> dict[str, Any]:
        """Leave the queue and withdraw one's open challenges."""
        return await self.request("cancel", retry=True)

    async def move(self, game: str, roll: str, round: int | None = None) -> dict[str, Any]:
        """Move in ``game``; with ``round`` the move is repeated safely after a drop."""
        return await self.request(
            "move", retry=round is not None, game=game, roll=roll, round=round
        )

    async def resign(self, game: str) -> dict[str, Any]:
        """Give up ``game``."""
        return await self.request("resign", retry=True, game=game)

    # -- the wire ---------------------------------------------------------------------------

    async def _open(self) -> ClientConnection:
        try:
            async with asyncio.timeout(self.open_timeout):
                conn = await connect(
                    self.url,
                    compression=None,
                    max_size=MAX_FRAME,
                    open_timeout=None,
                    user_agent_header="rps-hub-client",
                )
                try:
                    raw = await conn.recv()
                except BaseException:
                    await conn.close()
                    raise
        except (OSError, TimeoutError, InvalidURI, InvalidHandshake, ConnectionClosed) as exc:
            raise ClientError(
                "unavailable", f"cannot reach the hub at {self.url}: {describe(exc)}"
            ) from None
        try:
            welcome = json.loads(raw)
        except ValueError:
            welcome = None
        if not isinstance(welcome, dict) or welcome.get("type") != "welcome":
            await conn.close()
            raise ClientError("unavailable", f"{self.url} is not an rps-hub server")
        self.welcome = welcome
        return conn

    def _attach(self, conn: ClientConnection) -> None:
        self._conn = conn
        self._reader = asyncio.create_task(self._read(conn))

    async def _read(self, conn: ClientConnection) -> None:
        try:
            async for raw in conn:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    log.warning("ignoring a frame that is not JSON")
                    continue
                if isinstance(frame, dict):
                    self._dispatch(conn, frame)
        except ConnectionClosed:
            pass
        finally:
            self._fail_pending(conn, ConnectionLost())
            if self._conn is conn:
                # Synchronously, so that no request goes out on this connection any more.
                self._conn = None
                self._close_reason = _close_reason(conn)
                self._lost()
                if not self._closing:
                    self._set_state(State.RECONNECTING, emit=False)

    def _dispatch(self, conn: ClientConnection, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "event":
            self._on_event(frame)
            return
        if kind != "reply":
            return
        call = self._pending.get(frame.get("id"))  # type: ignore[arg-type]
        if call is None or call.conn is not conn:
            return
        del self._pending[frame["id"]]
        if frame.get("ok"):
            data = frame.get("data")
            data = data if isinstance(data, dict) else {}
            if call.on_reply is not None:
                call.on_reply(data)
            if not call.future.done():
                call.future.set_result(data)
            return
        error = frame.get("error")
        error = error if isinstance(error, dict) else {}
        exc = ClientError(str(error.get("code", "internal")), str(error.get("message", "")))
        if call.on_error is not None:
            call.on_error(exc)
        if not call.future.done():
            call.future.set_exception(exc)

    async def _call(
        self,
        conn: ClientConnection,
        op: str,
        body: dict[str, Any],
        *,
        on_reply: Callable[[dict[str, Any]], None] | None = None,
        on_error: Callable[[ClientError], None] | None = None,
    ) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = _Call(conn, future, on_reply, on_error)
        try:
            await conn.send(json.dumps({"type": op, "id": rid, **body}))
        except ConnectionClosed:
            self._pending.pop(rid, None)
            raise ConnectionLost() from None
        return await future

    def _fail_pending(self, conn: ClientConnection, exc: ClientError) -> None:
        for rid, call in list(self._pending.items()):
            if call.conn is conn:
                del self._pending[rid]
                if not call.future.done():
                    call.future.set_exception(exc)
                    call.future.exception()  # retrieved here: a caller may have gone

    async def _ready(self, dead: ClientConnection | None = None) -> ClientConnection:
        """The connection to send on, once connected; never ``dead``, which failed a send."""
        while True:
            if self._state is State.CLOSED:
                raise ClientError("unavailable", "the client is closed")
            if self._conn is not None and self._conn is dead and self._reader is not None:
                await asyncio.wait([self._reader])
                continue
            if self._state is State.CONNECTED and self._conn is not None:
                return self._conn
            await self._ready_event.wait()

    def _set_state(self, state: State, *, emit: bool = True, **details: Any) -> None:
        self._state = state
        if state in (State.CONNECTED, State.CLOSED):
            self._ready_event.set()
        else:
            self._ready_event.clear()
        if emit:
            self._queue.put_nowait({"type": "state", "state": state.value, **details})

    # -- topics -----------------------------------------------------------------------------

    def _on_event(self, frame: Event) -> None:
        topic, seq = frame.get("topic"), frame.get("seq")
        if not isinstance(topic, str) or not isinstance(seq, int):
            return
        data = frame.get("data")
        if frame.get("event") == "game_started" and isinstance(data, dict):
            # A seat is subscribed to its game before the game's first event; the game's epoch
            # comes only here, and it is what lets a reconnect replay the game topic.
            game_id, epoch = data.get("id"), data.get("epoch")
            if isinstance(game_id, str) and isinstance(epoch, str):
                cursor = self._cursors.setdefault(f"game:{game_id}", _Cursor())
                cursor.epoch = cursor.epoch or epoch
        cursor = self._cursors.setdefault(topic, _Cursor())
        if cursor.last is not None and seq <= cursor.last:
            return
        cursor.buffer[seq] = frame
        self._drain(cursor)

    def _drain(self, cursor: _Cursor) -> None:
        if self._holding or cursor.pending:
            return
        while cursor.buffer:
            if cursor.last is None:
                cursor.last = min(cursor.buffer) - 1
            following = cursor.last + 1
            if following in cursor.buffer:
                cursor.last = following
                self._queue.put_nowait(cursor.buffer.pop(following))
                continue
            for seq in [s for s in cursor.buffer if s <= cursor.last]:
                del cursor.buffer[seq]
            if not cursor.buffer or cursor.last < cursor.replay_until:
                return
            # A hole that no catch-up will fill: hand out what came rather than stall.
            seq = min(cursor.buffer)
            cursor.last = seq
            self._queue.put_nowait(cursor.buffer.pop(seq))

    def _subscribe_body(self, topic: str, since: int | None, epoch: str | None) -> dict[str, Any]:
        cursor = self._cursors.setdefault(topic, _Cursor())
        if since is None and cursor.epoch is not None:
            since, epoch = cursor.last or 0, cursor.epoch
        if since is not None and epoch is not None:
            cursor.last = since
        cursor.pending += 1
        body: dict[str, Any] = {"topic": topic}
        if since is not None and epoch is not None:
            body.update(since=since, epoch=epoch)
        return body

    def _subscribe_reply(self, topic: str, *, internal: bool) -> Callable[[dict[str, Any]], None]:
        def done(data: dict[str, Any]) -> None:
            cursor = self._cursors.setdefault(topic, _Cursor())
            cursor.pending = max(0, cursor.pending - 1)
            cursor.epoch = data.get("epoch", cursor.epoch)
            seq = data.get("seq", 0)
            if data.get("recovered"):
                cursor.replay_until = max(cursor.replay_until, seq)
            else:
                cursor.last = seq
                cursor.replay_until = 0
                if internal:
                    self._queue.put_nowait(
                        {
                            "type": "snapshot",
                            "topic": topic,
                            "epoch": cursor.epoch,
                            "seq": seq,
                            "data": data.get("snapshot"),
                        }
                    )
            self._drain(cursor)

        return done

    def _subscribe_error(self, topic: str, *, internal: bool) -> Callable[[ClientError], None]:
        def failed(exc: ClientError) -> None:
            cursor = self._cursors.get(topic)
            if cursor is None:
                return
            cursor.pending = max(0, cursor.pending - 1)
            if internal or cursor.last is None:
                del self._cursors[topic]
            if internal:
                self._queue.put_nowait(
                    {
                        "type": "lost",
                        "topic": topic,
                        "error": {"code": exc.code, "message": exc.message},
                    }
                )

        return failed

    def _auth_reply(self, *, resync: bool) -> Callable[[dict[str, Any]], None]:
        def done(data: dict[str, Any]) -> None:
            self.player = data.get("player", self.player)
            for entry in data.get("subscribed", []):
                if not isinstance(entry, dict) or not isinstance(entry.get("topic"), str):
                    continue
                cursor = self._cursors.get(entry["topic"])
                if cursor is None:
                    # Joined while away: replay it whole. Joined now: it starts here.
                    cursor = _Cursor(last=None if resync else entry.get("seq"))
                    self._cursors[entry["topic"]] = cursor
                cursor.epoch = cursor.epoch or entry.get("epoch")
                self._drain(cursor)

        return done

    # -- reconnecting -----------------------------------------------------------------------

    async def _supervise(self) -> None:
        while True:
            assert self._reader is not None
            await asyncio.wait([self._reader])
            reason = self._close_reason
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
                    conn = await self._open()
                except ClientError as exc:
                    reason = exc.message
                    continue
                self._attach(conn)
                try:
                    await self._resync(conn)
                except ConnectionLost:
                    await conn.close()
                    assert self._reader is not None
                    await asyncio.wait([self._reader])
                    reason = self._close_reason
                    continue
                except ClientError as exc:
                    await self._give_up(exc.message)
                    return
                if self._conn is not conn:
                    reason = self._close_reason
                    continue
                self._set_state(State.CONNECTED)
                for cursor in list(self._cursors.values()):
                    self._drain(cursor)  # the catch-up, after the item that says we are back
                break

    async def _resync(self, conn: ClientConnection) -> None:
        self._holding = True
        try:
            if self._token is not None:
                await self._call(
                    conn, "auth", {"token": self._token}, on_reply=self._auth_reply(resync=True)
                )
            calls = [
                self._call(
                    conn,
                    "subscribe",
                    self._subscribe_body(topic, None, None),
                    on_reply=self._subscribe_reply(topic, internal=True),
                    on_error=self._subscribe_error(topic, internal=True),
                )
                for topic in list(self._cursors)
            ]
            results = await asyncio.gather(*calls, return_exceptions=True)
        finally:
            self._holding = False
        for result in results:
            if isinstance(result, ConnectionLost):
                raise result
            if isinstance(result, BaseException) and not isinstance(result, ClientError):
                raise result

    def _lost(self) -> None:
        self._holding = False
        for topic, cursor in list(self._cursors.items()):
            cursor.buffer.clear()
            cursor.pending = 0
            cursor.replay_until = 0
            if cursor.last is None and cursor.epoch is None:
                del self._cursors[topic]

    async def _give_up(self, reason: str) -> None:
        self._closing = True
        await self._shut()
        self._finish(reason)

    async def _shut(self) -> None:
        if self._conn is not None:
            await self._conn.close()
        if self._reader is not None:
            await self._reader
        self._conn = None

    def _finish(self, reason: str | None) -> None:
        for call in self._pending.values():
            if not call.future.done():
                call.future.set_exception(ClientError("unavailable", "the client is closed"))
                call.future.exception()
        self._pending.clear()
        details: dict[str, Any] = {} if reason is None else {"reason": reason}
        self._set_state(State.CLOSED, **details)
        self._queue.put_nowait(None)


def _close_reason(conn: ClientConnection | None) -> str:
    if conn is None or conn.close_code is None:
        return "connection lost"
    text = f"code {conn.close_code}"
    return f"{text}, {conn.close_reason}" if conn.close_reason else text
