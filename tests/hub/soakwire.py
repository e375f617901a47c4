"""The soak session's connection: a reader task that checks every event's seq as it comes.

``Wire`` resolves each request with its reply and keeps, per topic, the seq and epoch a recovery
would continue from; ``World`` is what every scripted client of the session shares.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
from collections.abc import Callable
from typing import Any

from attrs import define, field
from websockets.asyncio.client import ClientConnection, connect

from tests.hub.restclient import Rest
from tests.hub.wsclient import Frame

TIMEOUT = 5.0  # for any one reply or event; rounds resolve within DEADLINE
ALLOWED = {  # the refusals a scripted request may meet in a busy lobby
    "play": {"conflict", "not_found"},
    "accept": {"conflict", "not_found"},
    "decline": {"not_found"},
    "move": {"conflict"},
    "resign": {"conflict"},
}


class Refused(Exception):
    """A scripted request was refused with one of the codes it may meet."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Wire:
    """One connection and its reader task: replies resolve requests; events are checked, logged.

    The reader applies what a reply announces (the seq a topic continues from) before it reads
    the next frame, so a recovery's catch-up is checked against the right base.
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        ws: ClientConnection,
        on_event: Callable[[Frame], None],
        logs: dict[str, list[Frame]],
        *,
        logged: Callable[[str], bool],
        on_reply: Callable[[str, dict[str, Any], Frame], None] | None = None,
    ) -> None:
        self.ws = ws
        self.on_event = on_event
        self.on_reply = on_reply
        self.logs = logs  # kept across reconnects by the owner
        self.logged = logged
        self.seqs: dict[str, int] = {}  # the last seq of each topic on this connection
        self.epochs: dict[str, str] = {}
        self.pending: dict[int, tuple[str, dict[str, Any], asyncio.Future[Frame]]] = {}
        self.failure: BaseException | None = None
        self.reader = asyncio.create_task(self._read(), name="soak-reader")

    @classmethod
    async def open(cls, url: str, on_event: Callable[[Frame], None], **kwargs: Any) -> Wire:
        """Connect and read the welcome frame."""
        ws = await asyncio.wait_for(connect(url, max_queue=None), TIMEOUT)
        welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert welcome["type"] == "welcome", welcome
        return cls(ws, on_event, **kwargs)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:  # ends when the connection closes normally
                frame = json.loads(raw)
                if frame["type"] == "reply":
                    self._reply(frame)
                else:
                    self._event(frame)
        except Exception as exc:
            self.failure = exc
        for _, _, future in self.pending.values():
            if not future.done():
                future.set_exception(self.failure or ConnectionError("connection closed"))

    def _reply(self, frame: Frame) -> None:
        op, fields, future = self.pending.pop(frame["id"])
        if frame["ok"]:
            data = frame["data"]
            if op == "auth":
                for sub in data["subscribed"]:
                    self._base(sub["topic"], sub["seq"], sub["epoch"], recovered=False)
            elif op == "subscribe":
                since = fields["since"] if data["recovered"] else data["seq"]
                self._base(data["topic"], since, data["epoch"], recovered=data["recovered"])
        if self.on_reply is not None:
            self.on_reply(op, fields, frame)
        future.set_result(frame)

    def _base(self, topic: str, seq: int, epoch: str, *, recovered: bool) -> None:
        """The topic goes on after ``seq``: a recovery rewinds the log, a snapshot never skips."""
        self.seqs[topic], self.epochs[topic] = seq, epoch
        log = self.logs.get(topic)
        if not log or not self.logged(topic):
            return
        if recovered:
            log[:] = [f for f in log if f["seq"] <= seq]
        if log:
            assert log[-1]["seq"] == seq, f"{topic}: continues after {seq}, not {log[-1]['seq']}"

    def _event(self, frame: Frame) -> None:
        topic = frame["topic"]
        last = self.seqs.get(topic, 0)
        assert frame["seq"] == last + 1, f"{topic}: seq {frame['seq']} after {last}"
        self.seqs[topic] = frame["seq"]
        if self.logged(topic):
            self.logs.setdefault(topic, []).append(frame)
        self.on_event(frame)

    async def request(self, op: str, **fields: Any) -> Frame:
        """Send a request and wait for its reply."""
        if self.failure is not None:
            raise self.failure
        rid = next(self._ids)
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self.pending[rid] = (op, fields, future)
        await self.ws.send(json.dumps({"type": op, "id": rid, **fields}))
        async with asyncio.timeout(TIMEOUT):
            return await future

    async def ok(self, op: str, **fields: Any) -> Any:
        """A request that succeeds or meets a refusal allowed for ``op`` (raised as ``Refused``)."""
        reply = await self.request(op, **fields)
        if reply["ok"]:
            return reply["data"]
        code = reply["error"]["code"]
        assert code in ALLOWED.get(op, set()), (op, fields, reply)
        raise Refused(code)

    async def close(self) -> None:
        """Close and wait for the reader to finish."""
        await self.ws.close()
        await asyncio.wait_for(self.reader, TIMEOUT)


@define
class World:
    """What every scripted client shares: the hub's URL, REST, rolls and the tallies."""

    url: str
    rest: Rest
    rolls: dict[str, list[str]]
    tally: collections.Counter[str] = field(factory=collections.Counter)
    snapshots: list[dict[str, Any]] = field(factory=list)  # every lobby snapshot seen
