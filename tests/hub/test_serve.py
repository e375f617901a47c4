"""``rps-hub serve`` as a real process: its connection cap, deadlines, log, port and drain.

Limits are set through ``RPS_HUB_*`` variables (the flags' twins), so the same test runs against a
hub that does not know them and shows what it does instead.
"""

from __future__ import annotations

import asyncio
import errno
import json
import resource
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from hub.listener import Listener
from hub.server import bind
from tests.conftest import eventually
from tests.hub import test_cli
from tests.hub.test_cli import TIMEOUT, Run, clean_env, finish, get_json, serving_url
from tests.hub.wsclient import Peer, register

run = test_cli.run  # the fixture that starts ``python -m hub`` processes

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Answer = tuple[int, dict[str, str], bytes]


class Hub:
    """What the test helpers need of a hub process: its URLs."""

    def __init__(self, url: str) -> None:
        self.url = URL(url)

    def make_url(self, path: str) -> URL:
        """The URL of ``path`` on the hub."""
        return self.url.join(URL(path))


@pytest.fixture
async def connections() -> AsyncIterator[Callable[[str], Any]]:
    """Open raw TCP connections to a hub; all are closed at the end of the test."""
    opened: list[asyncio.StreamWriter] = []

    async def connect(url: str) -> Connection:
        target = URL(url)
        async with asyncio.timeout(TIMEOUT):
            reader, writer = await asyncio.open_connection(target.host, target.port)
        opened.append(writer)
        return reader, writer

    yield connect
    for writer in opened:
        writer.close()


async def ask(conn: Connection, path: str, *, host: str = "127.0.0.1", extra: str = "") -> Answer:
    """One keep-alive GET on a raw connection: status, headers (lower-case names) and body."""
    reader, writer = conn
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())
    async with asyncio.timeout(TIMEOUT):
        status = int((await reader.readline()).split()[1])
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def closed_by_hub(conn: Connection) -> bool:
    """Read until the hub closes the connection; true when it did (what came before is dropped)."""
    reader, _ = conn
    async with asyncio.timeout(TIMEOUT):
        while await reader.read(65536):
            pass
    return True


async def start(run: Run, **env: str) -> tuple[asyncio.subprocess.Process, str]:
    """A hub on a free port with these ``RPS_HUB_*`` settings; the process and its URL."""
    proc = await run("serve", "--db", "hub.db", env=clean_env(RPS_HUB_PORT="0", **env))
    return proc, await serving_url(proc)


async def stopped(proc: asyncio.subprocess.Process) -> tuple[int, list[str]]:
    """SIGTERM; the exit code and the lines of stderr."""
    proc.send_signal(signal.SIGTERM)
    code, _, err = await finish(proc)
    return code, err.splitlines()


def refusal(answer: Answer) -> dict[str, Any]:
    """The JSON error of a 503 ``Connection: close`` answer."""
    status, headers, body = answer
    assert status == 503, answer
    assert headers["connection"].lower() == "close"
    assert headers["content-type"].startswith("application/json")
    error: dict[str, Any] = json.loads(body)["error"]
    return error


# -- the connection cap -------------------------------------------------------------------------


async def test_the_connection_beyond_the_cap_gets_503_unavailable_and_the_first_five_still_work(
    run: Run, connections: Callable[[str], Any]
) -> None:
    proc, url = await start(run, RPS_HUB_MAX_CONNECTIONS="5")
    held = [await connections(url) for _ in range(5)]
    for conn in held:
        assert (await ask(conn, "/healthz"))[0] == 200
    sixth = await connections(url)
    error = refusal(await ask(sixth, "/healthz"))
    assert error["code"] == "unavailable"
    assert await closed_by_hub(sixth)
    for conn in held:
        assert (await ask(conn, "/api/rules"))[0] == 200
    assert (await stopped(proc))[0] == 0


async def test_a_flood_beyond_the_cap_is_refused_quietly_and_a_client_is_served_once_some_close(
    run: Run, connections: Callable[[str], Any]
) -> None:
    proc, url = await start(run, RPS_HUB_MAX_CONNECTIONS="5")
    held = [await connections(url) for _ in range(5)]
    for conn in held:
        assert (await ask(conn, "/healthz"))[0] == 200

    async def knock() -> int:
        conn = await connections(url)
        status = (await ask(conn, "/healthz"))[0]
        conn[1].close()
        return status

    for _ in range(15):
        assert await asyncio.gather(*(knock() for _ in range(20))) == [503] * 20
    held.pop()[1].close()

    async def served() -> bool:
        return await knock() == 200

    await eventually(served)
    code, lines = await stopped(proc)
    assert code == 0
    assert len([line for line in lines if "connection limit" in line]) == 1
    assert len(lines) < 20, lines


async def test_a_hub_that_cannot_raise_its_open_files_limit_lowers_its_cap_and_says_so_once(
    tmp_path: Path, connections: Callable[[str], Any]
) -> None:
    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300))

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "hub", "serve", "--db", "hub.db"),
        cwd=tmp_path,
        env=clean_env(RPS_HUB_PORT="0"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=low_limit,
    )
    try:
        url = await serving_url(proc)
        held = [await connections(url) for _ in range(172)]  # 300 less the 128 kept in reserve
        for conn in held:
            assert (await ask(conn, "/healthz"))[0] == 200
        statuses = []
        for _ in range(10):
            batch = [await connections(url) for _ in range(20)]
            statuses += [(await ask(conn, "/healthz"))[0] for conn in batch]
            for _, writer in batch:
                writer.close()
        assert statuses == [503] * 200
        assert (await ask(held[0], "/api/rules"))[0] == 200
        code, lines = await stopped(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0
    assert [line for line in lines if "open-files limit" in line] == [
        next(line for line in lines if "serving at most 172 connections, not 10000" in line)
    ]
    assert not [line for line in lines if "Too many open files" in line]


# -- deadlines ----------------------------------------------------------------------------------


async def test_a_connection_that_sends_half_a_header_is_closed_by_the_hub(
    run: Run, connections: Callable[[str], Any]
) -> None:
    proc, url = await start(run, RPS_HUB_HEADER_TIMEOUT="0.5")
    conn = await connections(url)
    conn[1].write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    assert await closed_by_hub(conn)
    assert (await stopped(proc))[0] == 0


async def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(
    run: Run, connections: Callable[[str], Any]
) -> None:
    proc, url = await start(run, RPS_HUB_KEEPALIVE_TIMEOUT="0.5")
    conn = await connections(url)
    status, headers, _ = await ask(conn, "/healthz")
    assert (status, headers.get("connection", "keep-alive").lower()) == (200, "keep-alive")
    assert await closed_by_hub(conn)
    assert (await stopped(proc))[0] == 0


async def test_oversized_request_headers_get_400_without_a_traceback_in_the_log(
    run: Run, connections: Callable[[str], Any]
) -> None:
    proc, url = await start(run)
    for _ in range(30):
        conn = await connections(url)
        status, _, _ = await ask(conn, "/healthz", extra=f"X-Big: {'a' * 10_000}\r\n")
        assert status == 400
        conn[1].close()
    code, lines = await stopped(proc)
    assert code == 0
    assert not [line for line in lines if "Traceback" in line]
    assert len(lines) <= 30 + 3, lines  # at most the access log's line per request


# -- the port -----------------------------------------------------------------------------------


async def test_serve_on_a_busy_port_exits_2_before_opening_the_database(
    run: Run, tmp_path: Path
) -> None:
    first, url = await start(run)
    port = str(URL(url).port)
    code, _, err = await finish(await run("serve", "--port", port, "--db", "second.db"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "second.db").exists()
    assert (await stopped(first))[0] == 0


# -- drain --------------------------------------------------------------------------------------


async def healthz_status(url: str) -> int:
    """The status of ``GET /healthz``."""
    return (await get_json(url + "healthz"))[0]


async def until_draining(url: str) -> None:
    """Poll until ``/healthz`` says 503: the hub has taken the SIGTERM."""

    async def draining() -> bool:
        return await healthz_status(url) == 503

    await eventually(draining)


async def seated(hub: Hub, name: str) -> tuple[Peer, str]:
    """A player's connection with a game against the computer; the game id."""
    token = await register(hub, name)
    peer = await Peer.open(str(hub.make_url("/ws")).replace("http://", "ws://", 1))
    await peer.ok("auth", token=token)
    game = (await peer.ok("play", opponent="computer", best_of=3))["game"]
    return peer, str(game)


async def test_during_the_drain_healthz_is_503_while_rest_new_sockets_and_moves_are_served(
    run: Run,
) -> None:
    proc, url = await start(run, RPS_HUB_DRAIN="600")
    hub = Hub(url)
    peer, game = await seated(hub, "ann")
    proc.send_signal(signal.SIGTERM)
    await until_draining(url)
    assert (await get_json(url + "api/rules"))[0] == 200
    reply, frames = await peer.request("move", game=game, roll="Rock", round=1)
    assert (reply["ok"], reply["data"]) == (True, {"round": 1})
    assert "round" in [f.get("event") for f in frames if f.get("topic") == f"game:{game}"]
    newcomer = await Peer.open(str(hub.make_url("/ws")).replace("http://", "ws://", 1))
    await newcomer.ok("subscribe", topic="lobby")
    await newcomer.close()
    proc.send_signal(signal.SIGTERM)  # ends the drain
    code, _, _ = await finish(proc)
    assert code == 0
    assert (await peer.closed())[0] == 1001


async def test_after_the_drain_the_hub_closes_sockets_with_1001_and_exits_0(run: Run) -> None:
    proc, url = await start(run, RPS_HUB_DRAIN="1")
    peer, _ = await seated(Hub(url), "ann")
    proc.send_signal(signal.SIGTERM)
    assert (await peer.closed())[0] == 1001
    assert (await finish(proc))[0] == 0


async def test_a_second_sigterm_ends_the_drain_early_and_says_so(run: Run) -> None:
    proc, url = await start(run, RPS_HUB_DRAIN="600")
    proc.send_signal(signal.SIGTERM)
    await until_draining(url)
    proc.send_signal(signal.SIGTERM)
    code, _, err = await finish(proc)
    assert code == 0
    assert "ended the drain early" in err


# -- the log ------------------------------------------------------------------------------------


async def test_failed_accepts_as_asyncio_reports_them_make_one_log_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = web.AppRunner(web.Application())
    await runner.setup()
    assert runner.server is not None
    listener = Listener(runner.server, cap=5, header_timeout=1.0)
    await listener.start(bind("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    try:
        for _ in range(100):  # what asyncio reports for each accept() that fails with EMFILE
            loop.call_exception_handler(
                {
                    "message": "socket.accept() out of system resource",
                    "exception": OSError(errno.EMFILE, "Too many open files"),
                }
            )
    finally:
        listener.close()
        await runner.cleanup()
    assert [r.getMessage() for r in caplog.records] == [
        "cannot accept connections: [Errno 24] Too many open files; retrying"
    ]
