"""``rps-hub lobby`` (``client.spectate.lobby``) against a real hub, while many games finish."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io

from client.spectate import lobby
from client.terminal import Terminal
from tests.conftest import HubFactory, eventually
from tests.hub.restclient import Rest, session

GAMES = 20


def kept_lobby_tasks() -> list[asyncio.Task[object]]:
    """Finished tasks of ``client/spectate.py`` that something still holds."""
    gc.collect()
    return [
        task
        for task in gc.get_objects()
        if isinstance(task, asyncio.Task)
        and task.done()
        and task.get_coro().cr_code.co_filename.endswith("client/spectate.py")  # type: ignore[union-attr]
    ]


async def test_the_lobby_keeps_no_task_for_each_finished_game(start_hub: HubFactory) -> None:
    server = await start_hub()
    out = io.StringIO()
    args = argparse.Namespace(server=str(server.make_url("/")), json=False, name=None)
    follower = asyncio.create_task(lobby(args, Terminal(out=out, inp=io.StringIO())))

    async def shown(text: str, times: int = 1) -> bool:
        return out.getvalue().count(text) >= times

    try:
        await eventually(lambda: shown("rps-hub lobby"))
        async with session() as http:
            rest = Rest(http, server)
            token = await rest.register("ann")
            for _ in range(GAMES):
                game = await rest.ok(
                    "POST", "/api/games", {"opponent": "computer", "best_of": 1}, token=token
                )
                await rest.play_to_the_end(game["id"], token)
        await eventually(lambda: shown(" over, ", GAMES))
        assert len(kept_lobby_tasks()) <= 1
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
