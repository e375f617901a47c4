"""The example bots (examples/) as real processes against a real hub process, to a finished game."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.client.proxy import Proxy

ROOT = Path(__file__).resolve().parents[2]
BOTS = {name: ROOT / "examples" / f"{name}.py" for name in ("bot_websockets", "bot_client")}
TIMEOUT = 60
SERVING = re.compile(r"serving on (http://[^/\s]+)/")
FINISHED = re.compile(r"^game (\S+) finished: (\w+), winner (\S+)$", re.MULTILINE)

Frame = dict[str, Any]


def clean_env() -> dict[str, str]:
    """This environment without any ``RPS_HUB_*`` variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RPS_HUB_")}


@pytest.fixture
async def hub_url(tmp_path: Path) -> AsyncIterator[str]:
    """A hub process (``python -m hub serve --port 0``), a fresh SQLite file, no round deadlines."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "serve", "--port", "0", "--db", str(tmp_path / "hub.db"),
        "--round-deadline", "0",
        cwd=ROOT, env=clean_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(TIMEOUT):
            line = (await proc.stdout.readline()).decode()
        found = SERVING.search(line)
        assert found, line
        yield found.group(1)
    finally:
        if proc.returncode is None:
            proc.terminate()
        async with asyncio.timeout(TIMEOUT):
            await proc.communicate()


async def run_bot(bot: str, server: str, name: str, *options: str) -> tuple[int, str, str]:
    """Run an example bot from another directory (as a reader would) until it exits."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(BOTS[bot]), "--server", server, "--name", name, *options,
        cwd=ROOT / "examples", env=clean_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(TIMEOUT):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def rest(url: str, method: str = "GET", body: object = None) -> Any:
    """One JSON call to the hub; the body of a 2xx answer."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
        session.request(method, url, json=body) as answer,
    ):
        assert answer.status < 300, await answer.text()
        return await answer.json()


def finished_game(stdout: str) -> str:
    """The id of the game a bot says it finished."""
    found = FINISHED.search(stdout)
    assert found, stdout
    return found.group(1)


@pytest.mark.parametrize("bot", sorted(BOTS))
async def test_a_bot_plays_the_computer_until_its_game_is_stored_finished(
    hub_url: str, bot: str
) -> None:
    code, out, err = await run_bot(bot, hub_url, "solo", "--opponent", "computer")
    assert (code, err) == (0, "")
    game = await rest(f"{hub_url}/api/games/{finished_game(out)}")
    assert (game["status"], game["players"]) == ("finished", ["solo", "computer"])


async def test_two_bots_in_the_queue_play_each_other_until_their_game_is_stored_finished(
    hub_url: str,
) -> None:
    options = ("--opponent", "*", "--best-of", "3", "--rules", "rps3")
    (code_a, out_a, _), (code_b, out_b, _) = await asyncio.gather(
        run_bot("bot_websockets", hub_url, "wsbot", *options),
        run_bot("bot_client", hub_url, "libbot", *options),
    )
    assert (code_a, code_b) == (0, 0)
    assert finished_game(out_a) == finished_game(out_b)
    game = await rest(f"{hub_url}/api/games/{finished_game(out_a)}")
    assert (game["status"], game["rules"], sorted(game["players"])) == (
        "finished",
        "rps3",
        ["libbot", "wsbot"],
    )


async def until(ws: ClientConnection, wanted: Callable[[Frame], bool]) -> Frame:
    """Read frames until one is ``wanted``."""
    while not wanted(frame := json.loads(await ws.recv())):
        pass
    return frame


def event(name: str, **data: object) -> Callable[[Frame], bool]:
    """Matches an event called ``name`` whose data has ``data``."""
    return lambda f: f.get("event") == name and data.items() <= f["data"].items()


@pytest.mark.parametrize("bot", sorted(BOTS))
async def test_a_bot_cut_off_mid_game_recovers_the_round_it_missed_and_finishes(
    hub_url: str, bot: str
) -> None:
    proxy = Proxy("127.0.0.1", int(hub_url.rsplit(":", 1)[1]))
    await proxy.start()
    token = (await rest(f"{hub_url}/api/players", "POST", {"name": "tester"}))["token"]
    options = ("--opponent", "*", "--best-of", "3", "--rules", "rps3")
    queue = {"type": "play", "id": 2, "opponent": "*", "best_of": 3, "rules": "rps3"}
    try:
        async with asyncio.timeout(TIMEOUT), connect(hub_url.replace("http", "ws") + "/ws") as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "auth", "id": 1, "token": token}))
            await ws.send(json.dumps(queue))
            await until(ws, lambda f: f.get("id") == 2)
            bot_run = asyncio.create_task(run_bot(bot, proxy.url, "cutbot", *options))
            game = (await until(ws, event("game_started")))["data"]["id"]
            await until(ws, event("moved", round=1, player="cutbot"))
            proxy.cut(block=True)
            # Round 1 resolves and round 2 opens while the bot is cut off: only recovery tells it.
            round_ = 1
            while True:
                move = {"type": "move", "id": 2 + round_, "game": game, "round": round_}
                await ws.send(json.dumps({**move, "roll": "Rock"}))
                frame = await until(ws, lambda f: f.get("event") in ("round_open", "game_over"))
                proxy.unblock()
                if frame["event"] == "game_over":
                    break
                round_ = frame["data"]["round"]
            code, out, err = await bot_run
    finally:
        await proxy.close()
    assert (code, err, finished_game(out)) == (0, "", game)
    assert proxy.accepted >= 2  # the bot did connect again
    stored = await rest(f"{hub_url}/api/games/{game}")
    assert stored["status"] == "finished"
    assert stored["rounds"][1]["moves"]["cutbot"] is not None  # it moved in the round it missed


@pytest.mark.parametrize("bot", sorted(BOTS))
async def test_a_bot_given_a_taken_name_exits_1_with_one_line_saying_so(
    hub_url: str, bot: str
) -> None:
    await rest(f"{hub_url}/api/players", "POST", {"name": "taken"})
    code, out, err = await run_bot(bot, hub_url, "TAKEN")
    assert (code, out, len(err.splitlines())) == (1, "", 1)
    assert "taken" in err


@pytest.mark.parametrize("bot", sorted(BOTS))
async def test_a_bot_that_cannot_reach_its_hub_exits_1_with_one_line_saying_so(bot: str) -> None:
    code, out, err = await run_bot(bot, "http://127.0.0.1:9", "lonely")
    assert (code, out, len(err.splitlines())) == (1, "", 1)
    assert "cannot reach" in err
