"""The ``rps-hub`` command (``python -m hub``) run as a real process."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
import pytest

from hub.cli import build_parser
from hub.cluster.address import BrokerAddress, parse_broker
from hub.config import Config
from hub.options import config_of, serve_settings

DATA = Path(__file__).resolve().parents[2] / "protocol" / "data"
TIMEOUT = 20
SERVING = re.compile(r"serving on (http://[^/\s]+/)")

Run = Callable[..., Awaitable[asyncio.subprocess.Process]]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any ``RPS_HUB_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPS_HUB_")}
    env.update(extra)
    return env


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Run]:
    """Start ``python -m hub ARGS`` in ``tmp_path`` (``head``: what stands for ``-m hub``);
    every process is gone after the test."""
    started: list[asyncio.subprocess.Process] = []

    async def start(
        *args: str, env: dict[str, str] | None = None, head: Sequence[str] = ("-m", "hub")
    ) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *head,
            *args,
            cwd=tmp_path,
            env=env if env is not None else clean_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def finish(proc: asyncio.subprocess.Process) -> tuple[int, str, str]:
    """Wait for the process to exit; its code, stdout and stderr."""
    async with asyncio.timeout(TIMEOUT):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def serving_url(proc: asyncio.subprocess.Process) -> str:
    """The base URL that ``serve`` prints once it listens."""
    assert proc.stdout is not None
    async with asyncio.timeout(TIMEOUT):
        line = (await proc.stdout.readline()).decode()
    found = SERVING.search(line)
    assert found, line
    return found.group(1)


async def get_json(url: str) -> tuple[int, object]:
    """One GET; its status and JSON body."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
        session.get(url) as response,
    ):
        return response.status, await response.json()


async def stop(proc: asyncio.subprocess.Process) -> int:
    """SIGTERM, then the exit code."""
    proc.send_signal(signal.SIGTERM)
    code, _, _ = await finish(proc)
    return code


# -- check-rules --------------------------------------------------------------------------


async def test_check_rules_prints_the_nine_bad_pairs_of_the_inconsistent_table_and_exits_1(
    run: Run,
) -> None:
    code, out, _ = await finish(
        await run("check-rules", str(DATA / "battle-table-inconsistent.csv"))
    )
    assert code == 1
    pairs = {frozenset(line.split(" vs ")) for line in out.splitlines()}
    assert len(out.splitlines()) == 9
    assert pairs == {
        frozenset(p.split("-"))
        for p in (
            "Human-Tree", "Human-Snake", "Human-Scissors", "Snake-Tree", "Scissors-Tree",
            "Scissors-Snake", "Fire-Tree", "Fire-Human", "Fire-Snake",
        )
    }  # fmt: skip


async def test_check_rules_accepts_the_battle_table_with_exit_0(run: Run) -> None:
    code, _, _ = await finish(await run("check-rules", str(DATA / "battle-table.csv")))
    assert code == 0


# -- serve --------------------------------------------------------------------------------


async def test_serve_on_a_busy_port_prints_one_line_and_exits_2(run: Run) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = await finish(await run("serve", "--port", str(port), "--db", "hub.db"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert str(port) in err


async def test_serve_with_a_database_that_cannot_be_opened_prints_one_line_and_exits_2(
    run: Run,
) -> None:
    code, _, err = await finish(await run("serve", "--port", "0", "--db", "/nonexistent-dir/x.db"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "/nonexistent-dir" in err


async def test_serve_reads_its_port_and_database_from_the_environment(
    run: Run, tmp_path: Path
) -> None:
    db = tmp_path / "from-env.db"
    proc = await run("serve", env=clean_env(RPS_HUB_PORT="0", RPS_HUB_DB=str(db)))
    url = await serving_url(proc)
    assert not url.endswith(":8080/")
    assert await get_json(url + "healthz") == (200, {"status": "ok"})
    assert db.exists()
    assert await stop(proc) == 0


async def test_serve_stops_with_exit_0_on_sigterm(run: Run) -> None:
    proc = await run("serve", "--port", "0", "--db", "hub.db")
    await serving_url(proc)
    assert await stop(proc) == 0


async def test_a_relative_sqlite_url_creates_the_database_in_the_working_directory(
    run: Run, tmp_path: Path
) -> None:
    proc = await run("serve", "--port", "0", "--db", "sqlite:///rel.db")
    await serving_url(proc)
    assert (tmp_path / "rel.db").is_file()
    assert await stop(proc) == 0


async def test_the_legacy_api_is_switched_on_from_the_environment(run: Run) -> None:
    proc = await run("serve", env=clean_env(RPS_HUB_PORT="0", RPS_HUB_LEGACY_API="yes"))
    url = await serving_url(proc)
    status, rolls = await get_json(url + "api/game/rolls")
    assert status == 200
    assert isinstance(rolls, list) and len(rolls) == 15
    assert await stop(proc) == 0


# -- usage errors (one line naming the option or variable, exit 2, no traceback) -------


def assert_usage_error(code: int, err: str, name: str) -> None:
    """Exit 2 and one stderr line that names ``name``, never a traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert name in err


async def test_a_bad_port_in_the_environment_does_not_concern_check_rules(run: Run) -> None:
    proc = await run(
        "check-rules", str(DATA / "battle-table.csv"), env=clean_env(RPS_HUB_PORT="abc")
    )
    code, _, err = await finish(proc)
    assert (code, err) == (0, "")


async def test_a_bad_grace_in_the_environment_does_not_concern_lobby_help(run: Run) -> None:
    code, out, err = await finish(await run("lobby", "--help", env=clean_env(RPS_HUB_GRACE="x")))
    assert (code, err) == (0, "")
    assert "--server" in out


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RPS_HUB_PORT", "abc"),
        ("RPS_HUB_PORT", "70000"),
        ("RPS_HUB_GRACE", "x"),
        ("RPS_HUB_ROUND_DEADLINE", "-1"),
        ("RPS_HUB_HEARTBEAT", "nan"),
        ("RPS_HUB_LEGACY_API", "maybe"),
        ("RPS_HUB_LOG_LEVEL", "LOUD"),
        ("RPS_HUB_MAX_CONNECTIONS", "0"),
        ("RPS_HUB_DRAIN", "soon"),
        ("RPS_HUB_TRUSTED_PROXY", "10.0.0.1 not-an-address"),
        ("RPS_HUB_HEADER_TIMEOUT", "-3"),
        ("RPS_HUB_KEEPALIVE_TIMEOUT", "inf"),
    ],
)
async def test_serve_with_a_bad_environment_value_names_the_variable_in_one_line_and_exits_2(
    run: Run, variable: str, value: str
) -> None:
    env = clean_env(**{"RPS_HUB_PORT": "0", variable: value})
    code, _, err = await finish(await run("serve", "--db", "hub.db", env=env))
    assert_usage_error(code, err, variable)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["--log-level", "LOUD"], "--log-level"),
        (["--port", "abc"], "--port"),
        (["--trusted-proxy", "10.0.0.300"], "--trusted-proxy"),
        (["--trusted-proxy", "10.0.0.0/33"], "--trusted-proxy"),
        (["--max-connections", "0"], "--max-connections"),
        (["--drain", "-1"], "--drain"),
        (["--allow-host", ""], "--allow-host"),
        (["--no-such-option"], "--no-such-option"),
        (["--broker", "http://127.0.0.1:6379/0"], "--broker"),
        (["--broker", "redis://127.0.0.1:6379/zero"], "--broker"),
        (["--broker", "redis://127.0.0.1:6379/0?prefix=a b"], "--broker"),
        (["--broker", "redis://127.0.0.1:6379/0?db=1"], "--broker"),
        # Nodes share the hub through one database: a SQLite file cannot be shared.
        (["--broker", "redis://127.0.0.1:6379/0"], "--broker"),
    ],
)
async def test_serve_with_a_bad_option_names_it_in_one_line_and_exits_2(
    run: Run, args: list[str], name: str
) -> None:
    code, _, err = await finish(await run("serve", "--port", "0", "--db", "hub.db", *args))
    assert_usage_error(code, err, name)


async def test_no_legacy_api_switches_off_what_the_environment_switched_on(run: Run) -> None:
    env = clean_env(RPS_HUB_PORT="0", RPS_HUB_LEGACY_API="1")
    proc = await run("serve", "--no-legacy-api", env=env)
    url = await serving_url(proc)
    status, body = await get_json(url + "api/game/rolls")
    assert status == 404
    assert isinstance(body, dict) and body["error"]["code"] == "not_found"
    assert await stop(proc) == 0


async def test_a_false_boolean_in_the_environment_leaves_the_legacy_api_off(run: Run) -> None:
    proc = await run("serve", env=clean_env(RPS_HUB_PORT="0", RPS_HUB_LEGACY_API="off"))
    url = await serving_url(proc)
    status, _ = await get_json(url + "api/game/rolls")
    assert status == 404
    assert await stop(proc) == 0


def test_serve_flags_and_variables_reach_the_config_with_the_flag_winning() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            *("--allow-host", "hub.example", "--allow-host", "b.example"),
            *("--trusted-proxy", "10.1.2.3/8", "--max-connections", "5", "--drain", "2.5"),
            "--no-legacy-api",
        ]
    )
    environ = {
        "RPS_HUB_ALLOW_HOST": "ignored.example",
        "RPS_HUB_TRUSTED_PROXY": "192.168.1.1",
        "RPS_HUB_ALLOW_ORIGIN": "https://a.example, https://b.example",
        "RPS_HUB_LEGACY_API": "yes",
        "RPS_HUB_HEADER_TIMEOUT": "0.5",
        "RPS_HUB_KEEPALIVE_TIMEOUT": "3",
        "RPS_HUB_PORT": "0",
    }
    assert config_of(serve_settings(args, environ)) == Config(
        port=0,
        allow_host=("hub.example", "b.example"),
        trusted_proxy=("10.0.0.0/8",),
        max_connections=5,
        drain=2.5,
        legacy_api=False,
        allow_origin=("https://a.example", "https://b.example"),
        header_timeout=0.5,
        keepalive_timeout=3.0,
    )


def test_ws_rate_sets_the_per_connection_rate_with_bursts_of_twice_it_and_0_lifts_it() -> None:
    args = build_parser().parse_args(["serve", "--ws-rate", "50"])
    assert config_of(serve_settings(args, {})) == Config(rate=50.0, burst=100)
    unlimited = config_of(
        serve_settings(build_parser().parse_args(["serve"]), {"RPS_HUB_WS_RATE": "0"})
    )
    assert (unlimited.rate, unlimited.burst) == (0.0, 0)
    assert config_of(serve_settings(build_parser().parse_args(["serve"]), {})) == Config()


def test_a_broker_url_reaches_the_config_and_names_the_prefix() -> None:
    args = build_parser().parse_args(
        ["serve", "--db", "postgresql://h/db", "--broker", "redis://r:6380/2?prefix=hub-a"]
    )
    config = config_of(serve_settings(args, {}))
    assert config.broker == "redis://r:6380/2?prefix=hub-a"
    assert parse_broker(config.broker) == BrokerAddress("redis://r:6380/2", "hub-a")
    assert parse_broker("redis://r").prefix == "rps-hub"
    assert config_of(serve_settings(build_parser().parse_args(["serve"]), {})).broker is None


def test_summary_interval_reaches_the_config_from_the_flag_or_the_variable() -> None:
    args = build_parser().parse_args(["serve", "--summary-interval", "0"])
    assert config_of(serve_settings(args, {})).summary_interval == 0.0
    environ = {"RPS_HUB_SUMMARY_INTERVAL": "2.5"}
    from_env = config_of(serve_settings(build_parser().parse_args(["serve"]), environ))
    assert from_env.summary_interval == 2.5


def test_a_trusted_proxy_variable_takes_addresses_and_networks_separated_by_commas_or_spaces() -> (
    None
):
    args = build_parser().parse_args(["serve"])
    environ = {"RPS_HUB_TRUSTED_PROXY": "10.0.0.5, 172.16.0.0/12 ::1"}
    settings = serve_settings(args, environ)
    assert settings["trusted_proxy"] == ("10.0.0.5", "172.16.0.0/12", "::1")
