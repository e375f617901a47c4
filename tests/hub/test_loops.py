"""``rps-hub serve --loop``: the event loop the hub runs on, chosen and reported, as a real process.

The rest of the suite runs on the loop ``serve`` would choose (``tests/conftest.py``); here each
choice is started for real and asked to serve, and a machine without uvloop is made by hiding the
module from a child interpreter (``sys.modules["uvloop"] = None`` makes its import fail).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import pytest

from tests.hub.test_cli import Run, clean_env, finish, get_json, run, serving_url

__all__ = ["run"]  # the fixture, which ``start`` builds on

Start = Callable[..., Awaitable[asyncio.subprocess.Process]]

# ``python -m hub ARGS`` with uvloop made impossible to import.
WITHOUT_UVLOOP = (
    "import sys; sys.modules['uvloop'] = None; from hub.cli import main;"
    " sys.exit(main(sys.argv[1:]))"
)


@pytest.fixture
def start(run: Run) -> Start:
    """``rps-hub serve --port 0 ARGS`` (``uvloop=False``: on a machine without uvloop)."""

    def spawn(
        *args: str, uvloop: bool = True, env: dict[str, str] | None = None
    ) -> Awaitable[asyncio.subprocess.Process]:
        head = ("-m", "hub") if uvloop else ("-c", WITHOUT_UVLOOP)
        serve = ("serve", "--port", "0", "--db", "hub.db", "--log-level", "info")
        return run(*serve, *args, env=env if env is not None else clean_env(), head=head)

    return spawn


async def serves_on(proc: asyncio.subprocess.Process) -> str:
    """Check that ``proc`` answers ``/healthz``, stop it, and return the loop its log names."""
    url = await serving_url(proc)
    assert await get_json(url + "healthz") == (200, {"status": "ok"})
    proc.send_signal(signal.SIGTERM)
    code, _, err = await finish(proc)
    assert code == 0, err
    loops = [line.rsplit(" ", 1)[-1] for line in err.splitlines() if "event loop: " in line]
    assert len(loops) == 1, err
    return loops[0]


async def test_serve_runs_on_uvloop_by_default_when_it_is_installed(start: Start) -> None:
    assert await serves_on(await start()) == "uvloop"


async def test_loop_asyncio_runs_the_hub_on_pythons_own_loop(start: Start) -> None:
    assert await serves_on(await start("--loop", "asyncio")) == "asyncio"


async def test_the_loop_is_read_from_rps_hub_loop_and_the_flag_wins(start: Start) -> None:
    env = clean_env(RPS_HUB_LOOP="asyncio")
    assert await serves_on(await start(env=env)) == "asyncio"
    assert await serves_on(await start("--loop", "uvloop", env=env)) == "uvloop"


async def test_without_uvloop_auto_falls_back_to_asyncio(start: Start) -> None:
    assert await serves_on(await start(uvloop=False)) == "asyncio"


async def test_loop_uvloop_without_uvloop_is_one_line_and_exit_2(start: Start) -> None:
    code, out, err = await finish(await start("--loop", "uvloop", uvloop=False))
    assert code == 2
    assert out == ""
    assert (
        err.strip() == "rps-hub serve: --loop uvloop: uvloop is not installed (pip install uvloop)"
    )


async def test_an_unknown_loop_is_a_usage_error_naming_the_choices(start: Start) -> None:
    code, _, err = await finish(await start("--loop", "trio"))
    assert code == 2
    assert "'trio' is not an event loop; use auto, uvloop, asyncio" in err
    assert len(err.strip().splitlines()) == 1
