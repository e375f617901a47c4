"""The SQLite backup commands of docs/deploy.md, run as written against a running hub process.

Each command copies the live database; a second hub started on the copy serves what the first
stored, so the copy is a working backup, not merely a file.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy.md"
TIMEOUT = 30
SERVING = re.compile(r"serving on (http://[^/\s]+)/")

Hub = Callable[[Path], Awaitable[str]]


def backup_commands() -> list[str]:
    """The ``python3 -c`` programs that the SQLite part of "Backups while running" shows."""
    text = DEPLOY.read_text("utf-8")
    section = text[text.index("## Backups while running") :]
    section = section[: section.index("**PostgreSQL.**")]
    programs = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL):
        words = shlex.split(block.replace("\\\n", " "), comments=True)
        assert words[:2] == ["python3", "-c"], block
        programs.append(words[2])
    assert len(programs) == 2, "docs/deploy.md should show two SQLite backup commands"
    return programs


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """Start ``python -m hub serve --port 0`` on a database; every process stops after the test."""
    procs: list[asyncio.subprocess.Process] = []

    async def start(db: Path) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RPS_HUB_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub", "serve", "--port", "0", "--db", str(db),
            "--round-deadline", "0",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        procs.append(proc)
        assert proc.stdout is not None
        async with asyncio.timeout(TIMEOUT):
            line = (await proc.stdout.readline()).decode()
        found = SERVING.search(line)
        assert found, line
        return found.group(1)

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()
        async with asyncio.timeout(TIMEOUT):
            await proc.communicate()


async def call(url: str, method: str = "GET", body: object = None, token: str = "") -> Any:
    """One JSON call; the body of a 2xx answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
        session.request(method, url, json=body, headers=headers) as answer,
    ):
        assert answer.status < 300, await answer.text()
        return await answer.json()


async def finished_game(base: str) -> str:
    """Register a player and play the computer over REST until the game ends; its id."""
    token = (await call(f"{base}/api/players", "POST", {"name": "ann"}))["token"]
    game = await call(f"{base}/api/games", "POST", {"best_of": 1, "rules": "rps3"}, token)
    while game["status"] == "playing":
        move = {"roll": "Rock", "round": game["round"]}
        game = await call(f"{base}/api/games/{game['id']}/moves", "POST", move, token)
    return str(game["id"])


@pytest.mark.parametrize("program", backup_commands(), ids=["backup", "vacuum-into"])
async def test_a_documented_backup_of_a_running_hub_serves_its_games_from_a_new_hub(
    tmp_path: Path, hub: Hub, program: str
) -> None:
    live, copy = tmp_path / "live.db", tmp_path / "copy.db"
    game = await finished_game(await hub(live))
    backup = await asyncio.create_subprocess_exec(
        sys.executable, "-c", program, str(live), str(copy)
    )
    async with asyncio.timeout(TIMEOUT):
        assert await backup.wait() == 0
    restored = await hub(copy)
    stored = await call(f"{restored}/api/games/{game}")
    assert (stored["status"], stored["players"]) == ("finished", ["ann", "computer"])
