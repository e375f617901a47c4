"""Malformed frames against a real process: every one answered as docs/protocol.md says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.reliability.frames import (
    CLOSES,
    REPLIES,
    close_code,
    malformed_run,
    next_reply,
    open_ws,
    probe,
)
from tests.reliability.harness import Hub, Hubs

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    """One hub process for the module."""
    workdir = tmp_path_factory.mktemp("frames")
    started = Hubs(workdir)
    try:
        yield await started.start(str(workdir / "hub.db"))
    finally:
        await started.close()


@pytest.mark.parametrize(("frame", "rid", "code"), [c[1:] for c in REPLIES],
                         ids=[c[0] for c in REPLIES])  # fmt: skip
async def test_a_malformed_text_frame_gets_one_reply_with_the_protocols_id_and_code_and_the_connection_stays_open(  # noqa: E501
    hub: Hub, frame: str, rid: Any, code: str | None
) -> None:
    ws = await open_ws(hub.ws_url)
    try:
        await ws.send(frame)
        reply = await next_reply(ws)
        assert reply["id"] == rid, reply
        if code is None:
            assert reply["ok"] is True, reply
        else:
            assert reply["ok"] is False and reply["error"]["code"] == code, reply
        assert await probe(ws)
    finally:
        await ws.close()


@pytest.mark.parametrize(("what", "code"), [c[1:] for c in CLOSES], ids=[c[0] for c in CLOSES])
async def test_a_frame_the_protocol_refuses_closes_the_connection_with_its_close_code(
    hub: Hub, what: Any, code: int
) -> None:
    assert await close_code(hub.ws_url, what) == code


async def test_four_hundred_random_malformed_frames_each_get_the_answer_the_protocol_gives(
    hub: Hub,
) -> None:
    result = await malformed_run(hub.ws_url, frames=400, seed=20_261_205, closes=0)
    assert result.wrong == []
    assert result.answered == result.sent == 400 + len(REPLIES)
    assert result.probes_ok == result.connections
