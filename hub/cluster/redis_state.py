"""The cluster's shared state in Redis: the lobby lock and document, topic seqs and logs, nodes.

Every key lives under ``<prefix>:`` (the ``--broker`` URL's ``?prefix=``, see
``hub.cluster.address``) and is built by ``RedisState.key`` alone:

==============  ======  ===================================================  ===================
key             type    what                                                 written by
==============  ======  ===================================================  ===================
``lobby:lock``  string  the lobby lock's random token (PX ttl): the fence   acquire*, extend,
                        that every commit with a token checks                release, commit
``lobby``       string  the lobby document (opaque bytes; JSON)              commit
``meta:<t>``    hash    topic t's ``epoch`` (random, set once) and ``seq``   commit, head,
                        (its last)                                           snapshot
``log:<t>``     stream  topic t's frames, id ``<seq>-0``, field ``f``,       commit
                        ``MAXLEN ~ history``
``node:<n>``    string  ``1`` while node n lives (PX ttl)                    beat
``nodes``       set     the nodes that beat and were not forgotten           beat, forget_node
other keys      any     the hub's own hashes, sets and sorted sets           commit's ops
==============  ======  ===================================================  ===================

``chan:<topic>`` is a pub/sub channel (not a key): each message is ``<epoch> <frame>``, split at
the first space (an epoch has none); several frames of the topic in a row are one message, each
frame after a newline (``publish_many``).  A Redis-numbered topic's event is numbered, logged and
published in one Lua step, so every node sees the same seqs in the same order; a game topic's
frame (numbered by PostgreSQL) is only published here.  Redis errors and timeouts surface as
``Unavailable``; a commit whose lock was lost is ``Fenced`` and wrote nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Sequence
from typing import Any

from redis.exceptions import NoScriptError, RedisError

from hub.cluster import lua
from hub.cluster.changes import Append, Op, Published, Snapshot
from hub.cluster.publisher import Publisher
from hub.cluster.redis_conn import Commands
from protocol.errors import ErrorCode, ProtocolError

CONNECT_TIMEOUT = 1.0  # seconds to open a connection: a dead Redis is noticed fast
OPERATION_TIMEOUT = 2.0  # seconds for any one command's answer


class Unavailable(ProtocolError):
    """Redis did not answer, or refused: what needs the cluster's shared state cannot be done."""

    code = ErrorCode.UNAVAILABLE


class Fenced(Unavailable):
    """A commit made under a lobby lock that is no longer ours: nothing was written."""


class Busy(Unavailable):
    """The lobby lock stayed taken by others for as long as ``acquire`` was told to wait."""


# The keys of the layout above, which ops may not write.
_OWN = frozenset({"lobby", "nodes"})
_OWN_PARTS = ("lobby:", "meta:", "log:", "node:", "chan:")


def _epoch() -> str:
    # No space in it: a published message is "<epoch> <frame>", split at the first space.
    return secrets.token_urlsafe(8)


class RedisState:
    """The state every node shares, in one Redis; ``commands`` counts the commands it sent."""

    def __init__(self, redis: Commands, prefix: str, history: int, publisher: Publisher) -> None:
        self._redis = redis
        self.prefix = prefix
        self.history = history
        self.commands = 0
        self._scripts: dict[str, str] = {}  # script -> its SHA1
        self._publisher = publisher
        self._channels: dict[str, bytes] = {}  # topic -> its channel, for ``publish_many``

    @classmethod
    async def connect(cls, url: str, prefix: str, *, history: int = 1000) -> RedisState:
        """Connect to ``url`` (``redis://host:port/db``) and check that Redis answers.

        Commands are never retried by the client: a commit whose answer was lost must not run
        twice.  A call that meets a broken connection is ``Unavailable``, and the next call opens
        a fresh one, so the same state works again once Redis is back.
        """
        if not prefix:
            raise ValueError("the key prefix is empty")
        if history < 1:
            raise ValueError(f"history must keep at least 1 event per topic, not {history}")
        # Commands pipelined on one connection (``hub.cluster.redis_conn``), each bounded by
        # ``OPERATION_TIMEOUT`` here; game frames on a publishing connection of their own.
        redis = Commands(url, connect_timeout=CONNECT_TIMEOUT)
        publisher = Publisher(url, connect_timeout=CONNECT_TIMEOUT, timeout=OPERATION_TIMEOUT)
        state = cls(redis, prefix, history, publisher)
        try:
            await state._call("ping", redis.call("PING"))
        except Unavailable:
            await redis.close()
            raise
        return state

    async def close(self) -> None:
        """Close every connection to Redis."""
        await self._publisher.close()
        await self._redis.close()

    def key(self, *parts: str) -> str:
        """The key (or channel) ``<prefix>:<part>:<part>...``: the only place keys are built."""
        return ":".join((self.prefix, *parts))

    def channel(self, topic: str) -> str:
        """The pub/sub channel that carries ``topic``'s frames as ``<epoch> <frame>``."""
        return self.key("chan", topic)

    def topic_of(self, channel: str | bytes) -> str:
        """The topic a ``channel`` of ours carries (the inverse of ``channel``)."""
        name = channel.decode() if isinstance(channel, bytes) else channel
        return name.removeprefix(self.key("chan", ""))

    async def time_ms(self) -> int:
        """Redis's clock in unix ms: one clock for every node."""
        seconds, micros = await self._call("time", self._redis.call("TIME"))
        return int(seconds) * 1000 + int(micros) // 1000

    async def acquire(self, *, ttl_ms: int = 5000, wait: float = 5.0, owner: str = "") -> str:
        """The lobby lock for ``ttl_ms``: its token fences commits.  ``Busy`` after ``wait`` s.
        An ``owner`` (a node) is written into the token, so ``break_lock`` can free it."""
        token, _ = await self._take(ttl_ms, wait, owner, load=False)
        return token

    async def acquire_and_load(
        self, *, ttl_ms: int = 5000, wait: float = 5.0, owner: str = ""
    ) -> tuple[str, bytes | None]:
        """``acquire`` and ``load`` in one command: the token, and the document under the lock."""
        return await self._take(ttl_ms, wait, owner, load=True)

    async def break_lock(self, owner: str) -> bool:
        """Free the lobby lock if ``owner`` holds it (a node found dead); True if it did."""
        if not owner or "/" in owner:
            raise ValueError(f"not an owner: {owner!r}")
        keys = [self.key("lobby", "lock")]
        return bool(await self._eval("break_lock", lua.BREAK, keys, [owner]))

    async def _take(
        self, ttl_ms: int, wait: float, owner: str, *, load: bool
    ) -> tuple[str, bytes | None]:
        token = f"{owner}/{secrets.token_hex(16)}" if owner else secrets.token_hex(16)
        keys = [self.key("lobby", "lock"), self.key("lobby")]
        deadline = time.monotonic() + wait
        delay = 0.001
        while True:
            taken = await self._eval("acquire", lua.ACQUIRE, keys, [token, ttl_ms, int(load)])
            if taken is not None:
                return token, taken[0]
            if time.monotonic() >= deadline:
                raise Busy(f"the lobby is busy (its lock stayed taken for {wait:g} s); try again")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.005)

    async def release(self, token: str) -> bool:
        """Give the lock back if it is still ours; False when it had expired or was taken."""
        return bool(await self._eval("release", lua.RELEASE, [self.key("lobby", "lock")], [token]))

    async def extend(self, token: str, ttl_ms: int) -> None:
        """Give our lock a fresh ``ttl_ms``; ``Fenced`` when it is no longer ours."""
        lock = self.key("lobby", "lock")
        if not await self._eval("extend", lua.EXTEND, [lock], [token, ttl_ms]):
            raise Fenced("the lobby lock was lost (it expired or another node took it)")

    async def load(self) -> bytes | None:
        """The lobby document, or None before the first commit that wrote one."""
        command = self._redis.call("GET", self.key("lobby"))
        document: bytes | None = await self._call("load", command)
        return document

    async def commit(
        self,
        token: str | None,
        document: bytes | None,
        ops: Sequence[Op],
        events: Sequence[Append],
        *,
        release: bool = False,
        forget: Sequence[str] = (),
    ) -> list[Published]:
        """Write the document, apply ``ops``, number, log and publish ``events``, then drop the
        topics in ``forget`` (their next event starts a new epoch): all or nothing, so whoever
        hears an event of the commit finds those topics gone.

        With a ``token``, ``Fenced`` (and nothing written) unless the lobby lock still holds it;
        ``release`` then gives the lock back in the same step.  A topic without an epoch gets
        one; seqs rise by 1 per topic from 1.  The answer has one ``Published`` per event, in
        order, or none when an ``IfHas`` among ``ops`` did not hold (then nothing was written:
        a conditional commit needs no lock).  ``Unavailable`` means the outcome is unknown:
        Redis may have run the commit and lost only its answer (the commit is never sent twice).
        """
        if release and token is None:
            raise ValueError("only a commit under the lock (with its token) can release it")
        topics = list(dict.fromkeys(event.topic for event in events))
        index = {topic: i for i, topic in enumerate(topics, 1)}
        parts = [event.parts() for event in events]
        keys = [self.key("lobby", "lock"), self.key("lobby")]
        args: list[str | bytes | int] = [
            "0" if token is None else "2" if release else "1",
            token or "",
            "0" if document is None else "1",
            document or b"",
            self.history,
            len(ops),
            len(topics),
            len(events),
        ]
        for op in ops:
            if op.key in _OWN or op.key.startswith(_OWN_PARTS):
                raise ValueError(f"op key {op.key!r} is RedisState's own; name the key otherwise")
            keys.append(self.key(op.key))
            args.extend((op.name, *op.args()))
        candidates = [_epoch() for _ in topics]
        for topic, candidate in zip(topics, candidates, strict=True):
            keys.extend((self.key("meta", topic), self.key("log", topic)))
            args.extend((candidate, self.channel(topic)))
        for event, (head, tail) in zip(events, parts, strict=True):
            args.extend((index[event.topic], head, tail))
        for topic in forget:
            keys.extend((self.key("meta", topic), self.key("log", topic)))
        answer = await self._eval("commit", lua.COMMIT, keys, args)
        if answer is None:
            raise Fenced("the lobby lock was lost (it expired or another node took it); not saved")
        if events and not answer[1]:
            return []  # an ``IfHas`` did not hold: nothing was written
        epochs = [epoch.decode() for epoch in answer[0]]
        return [
            Published(event.topic, epochs[index[event.topic] - 1], seq, head + b"%d" % seq + tail)
            for event, (head, tail), seq in zip(events, parts, answer[1], strict=True)
        ]

    async def publish_many(self, items: Sequence[tuple[str, str, bytes]]) -> None:
        """``publish`` each (topic, epoch, frame), in order, in one write on a connection that
        takes no replies (``hub.cluster.publisher``): nothing waits for Redis.  Frames of one
        topic and epoch in a row go as one message: the epoch and a space, then each frame after
        a newline (a relay of a version before it drops such a message as malformed and catches
        up).  ``Unavailable``
        when the write failed; frames written just before Redis went away are lost unnoticed
        (as pub/sub loses them: the relays catch up from PostgreSQL)."""
        channels = self._channels
        groups: list[tuple[bytes, str, list[bytes]]] = []  # a topic's frames in a row: one message
        for topic, epoch, frame in items:
            channel = channels.get(topic)
            if channel is None:
                if len(channels) >= 10_000:
                    channels.clear()
                channel = channels[topic] = self.channel(topic).encode()
            if groups and groups[-1][0] is channel and groups[-1][1] == epoch:
                groups[-1][2].append(frame)
            else:
                groups.append((channel, epoch, [frame]))
        messages = [
            (channel, b"%s %s" % (epoch.encode(), frames[0]) if len(frames) == 1 else
             b"%s \n%s" % (epoch.encode(), b"\n".join(frames)))
            for channel, epoch, frames in groups
        ]  # fmt: skip
        self.commands += 1
        try:
            await self._publisher.send(messages)  # bounded by its own timeout
        except (RedisError, OSError) as exc:
            raise _unavailable("publish", exc) from exc

    async def publish(self, topic: str, epoch: str, frame: bytes) -> None:
        """Publish a frame numbered elsewhere (a game topic's, from PostgreSQL) to every node."""
        message = epoch.encode() + b" " + frame
        await self._call("publish", self._redis.call("PUBLISH", self.channel(topic), message))

    async def head(self, topic: str) -> tuple[str, int]:
        """The topic's (epoch, latest seq); a topic never appended to gets its epoch now, seq 0."""
        keys = [self.key("meta", topic), self.key("log", topic)]
        epoch, seq = await self._eval("head", lua.HEAD, keys, [_epoch()])
        return epoch.decode(), int(seq)

    async def since(self, topic: str, epoch: str, seq: int) -> list[bytes] | None:
        """The frames after ``seq``, in order, if the log holds them all in the current epoch.

        None when the epoch is not the topic's, ``seq`` is ahead of the topic or below 0, or the
        log was trimmed past it: the subscriber gets a snapshot instead.  ``[]`` at the head.
        """
        if seq < 0:
            return None
        keys = [self.key("meta", topic), self.key("log", topic)]
        frames: list[bytes] | None = await self._eval("since", lua.SINCE, keys, [epoch, seq])
        return frames

    async def heads(self, topics: Sequence[str]) -> dict[str, tuple[str, int]]:
        """Each topic's (epoch, latest seq) in one round trip (a pipeline of ``HMGET``); a
        topic without an epoch yet is left out (nothing was ever appended to it)."""
        if not topics:
            return {}
        commands = [("HMGET", self.key("meta", topic), "epoch", "seq") for topic in topics]
        rows = await self._call("heads", self._redis.pipeline(commands))
        return {
            topic: (epoch.decode(), int(seq or 0))
            for topic, (epoch, seq) in zip(topics, rows, strict=True)
            if epoch is not None
        }

    async def snapshot(self, topic: str, hashes: Sequence[str] = ()) -> Snapshot:
        """The lobby document, each named hash and the topic's (epoch, seq), at one moment."""
        keys = [self.key("lobby"), self.key("meta", topic), self.key("log", topic)]
        keys.extend(self.key(name) for name in hashes)
        document, epoch, seq, *contents = await self._eval(
            "snapshot", lua.SNAPSHOT, keys, [_epoch()]
        )
        return Snapshot(
            document=document,
            hashes={name: _pairs(flat) for name, flat in zip(hashes, contents, strict=True)},
            epoch=epoch.decode(),
            seq=int(seq),
        )

    async def beat(self, node: str, ttl_ms: int) -> None:
        """Say ``node`` lives for another ``ttl_ms``, and list it among the nodes."""
        keys = [self.key("node", node), self.key("nodes")]
        await self._eval("beat", lua.BEAT, keys, [node, ttl_ms])

    async def dead_nodes(self) -> list[str]:
        """The listed nodes whose liveness key has expired."""
        dead = await self._eval("dead_nodes", lua.DEAD, [self.key("nodes")], [self.key("node", "")])
        return sorted(node.decode() for node in dead)

    async def forget_node(self, node: str) -> bool:
        """Take a dead ``node`` off the list; True for the one caller that did (it cleans up)."""
        keys = [self.key("node", node), self.key("nodes")]
        return bool(await self._eval("forget_node", lua.FORGET, keys, [node]))

    async def due(self, key: str, now_ms: int, limit: int = 100) -> list[str]:
        """Up to ``limit`` members of the sorted set ``key`` scored at or before ``now_ms``."""
        members = await self._call(
            "due",
            self._redis.call("ZRANGEBYSCORE", self.key(key), "-inf", now_ms, "LIMIT", 0, limit),
        )
        return [member.decode() for member in members]

    async def _eval(
        self, what: str, script: str, keys: Sequence[str], args: Sequence[str | bytes | int]
    ) -> Any:
        """Run ``script`` by its SHA, loading it first when Redis does not know it (a restart)."""
        sha = self._scripts.get(script)
        if sha is None:
            sha = self._scripts[script] = hashlib.sha1(script.encode()).hexdigest()
        self.commands += 1
        try:
            async with asyncio.timeout(OPERATION_TIMEOUT):
                return await self._redis.call("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            pass
        except TimeoutError as exc:
            await self._redis.reset()
            raise _unavailable(what, exc) from exc
        except (RedisError, OSError) as exc:
            raise _unavailable(what, exc) from exc
        await self._call(what, self._redis.call("SCRIPT", "LOAD", script))
        return await self._call(what, self._redis.call("EVALSHA", sha, len(keys), *keys, *args))

    async def _call(self, what: str, command: Awaitable[Any]) -> Any:
        """Await one command, counted, for ``OPERATION_TIMEOUT`` s at most (then the connection
        is dropped: a cut that neither resets nor closes it would stall every later command);
        its Redis failures and timeouts become ``Unavailable``."""
        self.commands += 1
        try:
            async with asyncio.timeout(OPERATION_TIMEOUT):
                return await command
        except TimeoutError as exc:
            await self._redis.reset()
            raise _unavailable(what, exc) from exc
        except (RedisError, OSError) as exc:
            raise _unavailable(what, exc) from exc


def _unavailable(what: str, exc: Exception) -> Unavailable:
    return Unavailable(f"redis is unavailable ({what}: {str(exc) or type(exc).__name__})")


def _pairs(flat: Sequence[bytes]) -> dict[str, bytes]:
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}
