"""``Link``: one WebSocket connection to the hub, from its welcome to its close.

A link sends requests and settles each with the reply of the same id; a reply's callbacks run in
the reader task, synchronously, before the next frame is read (the frames right after a
``subscribe`` reply are that topic's catch-up). Event frames go to ``on_event``. When the
connection ends, every request still waiting fails with ``ConnectionLost`` and ``on_lost`` runs.
Reconnecting is not a link's job: ``client.connection.HubClient`` opens a new one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from attrs import define
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from client.errors import ClientError, ConnectionLost, describe
from client.frames import (
    READ_LIMIT,
    JsonObject,
    build_request,
    encode_request,
    read_frame,
    reply_error,
)

__all__ = ["Link"]

log = logging.getLogger(__name__)

OnReply = Callable[[JsonObject], None]
OnError = Callable[[ClientError], None]


@define
class _Call:
    future: asyncio.Future[JsonObject]
    on_reply: OnReply | None = None
    on_error: OnError | None = None


class Link:
    """One open connection: requests out, replies settled, events passed on."""

    def __init__(
        self,
        conn: ClientConnection,
        welcome: JsonObject,
        on_event: Callable[[JsonObject], None],
        on_lost: Callable[[Link], None],
    ) -> None:
        self.conn = conn
        self.welcome = welcome
        self._on_event = on_event
        self._on_lost = on_lost
        self._pending: dict[int, _Call] = {}
        self._next_id = 0
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls,
        url: str,
        open_timeout: float,
        on_event: Callable[[JsonObject], None],
        on_lost: Callable[[Link], None],
    ) -> Link:
        """Connect and read the welcome; ``ClientError("unavailable")`` when that fails."""
        try:
            async with asyncio.timeout(open_timeout):
                conn = await connect(
                    url,
                    compression=None,
                    max_size=READ_LIMIT,
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
                "unavailable", f"cannot reach the hub at {url}: {describe(exc)}"
            ) from None
        welcome = read_frame(raw)
        if welcome is None or welcome.get("type") != "welcome":
            await conn.close()
            raise ClientError("unavailable", f"{url} is not an rps-hub server")
        return cls(conn, welcome, on_event, on_lost)

    @property
    def close_reason(self) -> str:
        """Why the connection closed, for people: its close code and reason."""
        if self.conn.close_code is None:
            return "connection lost"
        text = f"code {self.conn.close_code}"
        return f"{text}, {self.conn.close_reason}" if self.conn.close_reason else text

    async def call(
        self,
        op: str,
        fields: Mapping[str, object],
        *,
        on_reply: OnReply | None = None,
        on_error: OnError | None = None,
    ) -> JsonObject:
        """Send request ``op`` and wait for its reply's data; ``ClientError`` for an error reply."""
        self._next_id += 1
        rid = self._next_id
        frame = encode_request(build_request(op, rid, fields))
        future: asyncio.Future[JsonObject] = asyncio.get_running_loop().create_future()
        self._pending[rid] = _Call(future, on_reply, on_error)
        try:
            await self.conn.send(frame)
        except ConnectionClosed:
            self._pending.pop(rid, None)
            raise ConnectionLost() from None
        return await future

    async def close(self) -> None:
        """Close the connection and wait for the reader to finish."""
        await self.conn.close()
        await self.reader

    def fail(self, exc: ClientError) -> None:
        """Fail every request still waiting with ``exc``."""
        for call in self._pending.values():
            if not call.future.done():
                call.future.set_exception(exc)
                call.future.exception()  # retrieved here: a caller may have gone
        self._pending.clear()

    async def _read(self) -> None:
        try:
            async for raw in self.conn:
                frame = read_frame(raw)
                if frame is None:
                    log.warning("ignoring a frame that is not a JSON object")
                    continue
                self._dispatch(frame)
        except ConnectionClosed:
            pass
        finally:
            self.fail(ConnectionLost())
            self._on_lost(self)

    def _dispatch(self, frame: JsonObject) -> None:
        kind = frame.get("type")
        if kind == "event":
            self._on_event(frame)
            return
        rid = frame.get("id")
        if kind != "reply" or not isinstance(rid, int):
            return
        call = self._pending.pop(rid, None)
        if call is None:
            return
        if frame.get("ok"):
            data = frame.get("data")
            data = data if isinstance(data, dict) else {}
            if call.on_reply is not None:
                call.on_reply(data)
            if not call.future.done():
                call.future.set_result(data)
            return
        exc = reply_error(frame)
        if call.on_error is not None:
            call.on_error(exc)
        if not call.future.done():
            call.future.set_exception(exc)
