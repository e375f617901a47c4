"""SIGKILL during play, on SQLite and on PostgreSQL: every acknowledged move is stored."""

from __future__ import annotations

from pathlib import Path

from tests.postgres import fresh_schema, schema_url
from tests.reliability.crash import crash_run
from tests.reliability.harness import Hubs

KILLS = 3


async def test_no_acknowledged_move_is_lost_when_the_hub_is_killed_on_sqlite(
    hubs: Hubs, tmp_path: Path
) -> None:
    result = await crash_run(
        hubs, str(tmp_path / "hub.db"), kills=KILLS, players=2, moves_between=(5, 25),
        seed=1, backend="sqlite",
    )  # fmt: skip
    assert result.kills == KILLS
    assert result.acked["ws"] > 0 and result.acked["rest"] > 0, result
    assert result.lost_moves == []


async def test_no_acknowledged_move_is_lost_when_the_hub_is_killed_on_postgresql(
    hubs: Hubs,
) -> None:
    async with fresh_schema() as schema:
        result = await crash_run(
            hubs, schema_url(schema), kills=KILLS, players=2, moves_between=(5, 25),
            seed=2, backend="postgresql",
        )  # fmt: skip
    assert result.kills == KILLS
    assert result.acked["ws"] > 0 and result.acked["rest"] > 0, result
    assert result.lost_moves == []
