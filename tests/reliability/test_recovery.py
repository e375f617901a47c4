"""Events across connection cuts and hub restarts: none lost, none twice.

The run happens once for the module (see ``recovery.py``); each test checks one thing it must
leave true.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.reliability.harness import Hubs
from tests.reliability.recovery import RecoveryResult, recovery_run

pytestmark = pytest.mark.asyncio(loop_scope="module")

CUTS = 12
RESTART_EVERY = 4  # so 3 restarts: SIGKILL, SIGTERM, SIGKILL


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RecoveryResult]:
    """Three players, two spectators, three seats; twelve cuts and three restarts."""
    workdir = tmp_path_factory.mktemp("recovery")
    started = Hubs(workdir)
    try:
        yield await recovery_run(
            started, str(workdir / "hub.db"), players=3, spectators=2, cuts=CUTS,
            cut_every=0.3, restart_every=RESTART_EVERY, seed=20_261_205,
        )  # fmt: skip
    finally:
        await started.close()


async def test_the_run_cut_connections_and_restarted_the_hub_both_ways(
    run: RecoveryResult,
) -> None:
    assert run.cuts > 0 and run.reconnects >= run.cuts, run
    assert (run.kills, run.terms) == (2, 1), run
    assert run.topics > 0 and run.moves > 0, run


async def test_no_game_event_is_lost_across_cuts_and_restarts(run: RecoveryResult) -> None:
    assert run.lost == 0, run.traces


async def test_no_event_is_received_twice_across_cuts_and_restarts(run: RecoveryResult) -> None:
    assert run.duplicated == 0, run.traces
