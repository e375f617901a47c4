"""Several real ``python -m hub serve`` processes as one hub, and what a test does to them.

A ``Cluster`` starts N nodes on one fresh PostgreSQL schema and, with a broker, one private
``redis-server`` under a fresh key prefix; each node's database and Redis links may pass through
``TcpProxy``s of its own (``proxied=True``) so that ``cut(i)`` can isolate that node alone.  Nodes
are killed (SIGKILL), stopped (SIGTERM) and restarted on the same port and the same command line.

Tests address nodes by *slot*: ``slots`` may exceed the number of processes, slot i being node
i mod N, so a scenario written for three nodes runs unchanged against one hub without a broker
(``RPS_HUB_TEST_CLUSTER=single``; see ``shape``).  Every wait is bounded and fails with the
nodes' own words (the tail of each one's stderr).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from attrs import define

from tests.cluster.redisserver import RedisServer, free_port
from tests.cluster.tcpproxy import TcpProxy
from tests.postgres import SERVER, fresh_schema, schema_url
from tests.reliability.harness import Hub, call, http, start_hub

HEALTH_TIMEOUT = 20.0
LOG_TAIL = 15  # lines of each node's stderr in a failure message


def tail(path: Path, lines: int = LOG_TAIL) -> str:
    """The last ``lines`` lines of a log file (empty when there is none)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def shape() -> tuple[int, bool]:
    """How many processes the scenarios start, and whether with a broker.

    ``RPS_HUB_TEST_CLUSTER=single``: one hub without a broker behind every slot, which checks a
    scenario's protocol against today's hub; otherwise (the default) three nodes and Redis.
    """
    if os.environ.get("RPS_HUB_TEST_CLUSTER", "").strip().lower() == "single":
        return 1, False
    return 3, True


# -- nodes -----------------------------------------------------------------------------------


@define
class Node:
    """One ``serve`` process of the cluster (it may be down between ``kill`` and ``restart``)."""

    index: int
    port: int
    workdir: Path
    proxies: list[TcpProxy]  # database, then Redis; empty unless the cluster is proxied
    hub: Hub | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The ``ws://`` URL of ``/ws``."""
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.hub is not None and self.hub.running

    def describe(self) -> str:
        """A few lines for a failure message: state, pid and the tail of each log."""
        state = f"pid {self.hub.pid}" if self.running and self.hub else "down"
        logs = sorted(self.workdir.glob(f"node{self.index}-*.log"))
        text = "\n".join(f"  {p.name}:\n{tail(p)}" for p in logs[-2:])
        return f"node {self.index} ({self.url}, {state}, started {self.starts}x)\n{text}"


@define
class Cluster:
    """N nodes of one hub, addressed by slot (slot i is node i mod N)."""

    workdir: Path
    db: str  # the database URL every node reaches (directly, or through its proxy)
    redis: RedisServer | None
    prefix: str
    nodes: list[Node]
    slots: int
    node_args: tuple[str, ...]

    # -- addressing ------------------------------------------------------------------------

    def node(self, slot: int) -> Node:
        """The node behind ``slot``."""
        return self.nodes[slot % len(self.nodes)]

    def url(self, slot: int) -> str:
        """The HTTP base URL of the node behind ``slot``."""
        return self.node(slot).url

    def ws_url(self, slot: int) -> str:
        """The WebSocket URL of the node behind ``slot``."""
        return self.node(slot).ws_url

    @property
    def brokered(self) -> bool:
        """True when the nodes share a Redis broker."""
        return self.redis is not None

    def describe(self) -> str:
        """Every node's state and log tail, and Redis's, for a failure message."""
        parts = [n.describe() for n in self.nodes]
        if self.redis is not None:
            state = "running" if self.redis.process is not None else "down"
            parts.append(f"redis {self.redis.url} ({state})")
        return "\n".join(parts)

    # -- processes --------------------------------------------------------------------------

    async def _launch(self, node: Node) -> None:
        db, broker = self.db, self.redis.url if self.redis else None
        if node.proxies:
            db = via(db, node.proxies[0].port)
            if broker is not None:
                broker = via(broker, node.proxies[1].port)
        args = ["--port", str(node.port), *self.node_args]
        if broker is not None:
            args += ["--broker", f"{broker}?prefix={self.prefix}"]
        node.starts += 1
        node.hub = await start_hub(self.workdir, db, *args, name=f"node{node.index}")
        await self.wait_health(node.index, 200)

    async def kill(self, i: int) -> None:
        """SIGKILL node ``i`` (the node behind slot ``i``) and reap it."""
        node = self.node(i)
        if node.hub is not None:
            await node.hub.kill()

    async def stop(self, i: int) -> int:
        """SIGTERM node ``i``; its exit code (it must exit within 60 s)."""
        node = self.node(i)
        assert node.hub is not None and node.running, f"node {node.index} is not running"
        code, _ = await node.hub.terminate()
        return code

    async def restart(self, i: int) -> None:
        """Kill node ``i`` if it runs, then start it again on its port; returns once healthy."""
        await self.kill(i)
        await self._launch(self.node(i))

    async def elsewhere(self, i: int) -> int:
        """A slot whose node runs and is not ``i``'s; with one node, ``i`` once it restarted.

        So a scenario that moves clients off a killed node also runs against a single hub.
        """
        for slot in range(self.slots):
            if self.node(slot) is not self.node(i) and self.node(slot).running:
                return slot
        if not self.node(i).running:
            await self.restart(i)
        return i

    def cut(self, i: int, *, drop: bool = False, db: bool = True, redis: bool = True) -> None:
        """Cut node ``i`` off from PostgreSQL and Redis (or only one): its links stall, new ones
        are refused; with ``drop`` its links are reset too."""
        node = self.node(i)
        assert node.proxies, "cut() needs a cluster started with proxied=True"
        chosen = [p for p, on in zip(node.proxies, (db, redis), strict=False) if on]
        for proxy in chosen:
            proxy.pause()
            if drop:
                proxy.cut()

    def heal(self, i: int) -> None:
        """Undo ``cut(i)``."""
        for proxy in self.node(i).proxies:
            proxy.resume()

    # -- health -----------------------------------------------------------------------------

    async def health(self, i: int) -> int | None:
        """The status of node ``i``'s ``/healthz`` now (None when it does not answer in 2 s)."""
        try:
            async with http() as session, asyncio.timeout(2):
                status, _ = await call(session, "GET", self.url(i) + "/healthz")
                return status
        except (OSError, TimeoutError, ConnectionError):
            return None
        except Exception as exc:  # aiohttp's client errors
            if type(exc).__module__.startswith("aiohttp"):
                return None
            raise

    async def wait_health(self, i: int, status: int, within: float = HEALTH_TIMEOUT) -> float:
        """Wait until node ``i``'s ``/healthz`` answers ``status``; the seconds it took."""
        started = time.monotonic()
        seen: int | None = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while True:
                    if (seen := await self.health(i)) == status:
                        return time.monotonic() - started
                    await asyncio.sleep(0.05)
        raise AssertionError(
            f"node {self.node(i).index}: /healthz answered {seen}, not {status}, for "
            f"{within:g} s\n{self.describe()}"
        )

    async def close(self) -> None:
        """Kill every node and Redis, close the proxies."""
        for node in self.nodes:
            if node.hub is not None:
                await node.hub.kill()
            for proxy in node.proxies:
                await proxy.close()
        if self.redis is not None:
            self.redis.stop()


def via(url: str, port: int) -> str:
    """``url`` with its host and port replaced by 127.0.0.1:``port`` (user, path, query kept)."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    netloc = f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def target(url: str) -> tuple[str, int]:
    """The host and port a database or Redis URL points at."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    return parts.hostname, parts.port


@contextlib.asynccontextmanager
async def cluster(
    workdir: Path,
    *,
    nodes: int | None = None,
    broker: bool | None = None,
    slots: int = 3,
    proxied: bool = False,
    args: Sequence[str] = (),
) -> AsyncIterator[Cluster]:
    """Start a cluster on a fresh schema (and a private Redis); everything is gone on exit.

    ``nodes`` and ``broker`` default to ``shape()``.  ``args`` go to every ``serve`` (such as
    ``--round-deadline 2 --grace 1``); the harness adds ``--port``, ``--db`` and ``--broker``.
    """
    default_nodes, default_broker = shape()
    nodes = default_nodes if nodes is None else nodes
    broker = default_broker if broker is None else broker
    assert broker or nodes == 1, "several nodes without a broker are several hubs"
    async with fresh_schema() as schema:
        redis = RedisServer() if broker else None
        if redis is not None:
            redis.start()
        made = Cluster(
            workdir, schema_url(schema), redis, f"t{secrets.token_hex(4)}", [], slots,
            tuple(args),
        )  # fmt: skip
        try:
            for i in range(nodes):
                proxies: list[TcpProxy] = []
                if proxied:
                    proxies.append(await TcpProxy(*target(SERVER)).start())
                    if redis is not None:
                        proxies.append(await TcpProxy("127.0.0.1", redis.port).start())
                made.nodes.append(Node(i, free_port(), workdir, proxies))
            launched = await asyncio.gather(
                *(made._launch(n) for n in made.nodes), return_exceptions=True
            )
            for failure in launched:
                if isinstance(failure, BaseException):
                    raise failure
            yield made
        finally:
            await made.close()
