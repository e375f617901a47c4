"""Clients that never read: let go of, closed with 1013, and no obstacle to a stop."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.harness import Hubs
from tests.reliability.slow import non_reader_run, shutdown_run, stops_reading_then_reads

GAMES = 120  # live games in the lobby: each snapshot ~30 KB, the burst of 40 ~1.2 MB
BOUND = 60.0  # no wait below is longer; the protocol's own bound is the limit plus 10 s


async def test_a_client_that_never_reads_is_disconnected_while_others_are_served(
    hubs: Hubs, tmp_path: Path
) -> None:
    hub = await hubs.start(str(tmp_path / "hub.db"))
    result = await non_reader_run(hub, games=GAMES, frames=1000, bound=BOUND)
    assert result.released_after is not None, result  # the hub no longer holds its socket
    assert result.decided_after is not None, result  # counted as a slow consumer
    assert result.served_meanwhile == result.asked_meanwhile, result


async def test_a_consumer_that_stops_reading_gets_close_1013_when_it_reads_again(
    hubs: Hubs, tmp_path: Path
) -> None:
    hub = await hubs.start(str(tmp_path / "hub.db"))
    assert await stops_reading_then_reads(hub, games=GAMES, frames=1000, bound=BOUND) == 1013


async def test_sigterm_with_non_readers_holding_data_they_do_not_read_exits_0(
    hubs: Hubs, tmp_path: Path
) -> None:
    hub = await hubs.start(str(tmp_path / "hub.db"))
    # 10 snapshots of ~30 KB each: below the outbound limit, so the hub keeps them connected.
    result = await shutdown_run(hub, games=GAMES, non_readers=2, frames=10)
    assert (result.held, result.queued_bytes > 0) == (2, True), result
    assert result.code == 0, hub.log()


async def test_sigterm_after_non_readers_overflowed_their_outbound_limit_exits_0(
    hubs: Hubs, tmp_path: Path
) -> None:
    hub = await hubs.start(str(tmp_path / "hub.db"))
    # 150 snapshots of ~30 KB each (unless the hub lets go first): far past 1 MiB.
    result = await shutdown_run(hub, games=GAMES, non_readers=2, frames=150)
    assert result.code == 0, hub.log()
