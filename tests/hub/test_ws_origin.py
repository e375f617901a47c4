"""The ``Origin`` rule: the request's own host in any scheme, or an allowed origin.

A hub behind a TLS-terminating proxy is reached as ``https://host`` while it speaks plain HTTP
itself, so only the host and port of an ``Origin`` are compared with the request's ``Host``.
The connections here name a host of their own (``Host: hub.example``) and reach the test hub by
its address, the way a browser reaches a hub through a proxy.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import HubFactory
from tests.hub.wsclient import Peer

HOST = "hub.example"


@pytest.fixture
async def hub(start_hub: HubFactory) -> Any:
    """A hub that serves ``hub.example`` and also allows ``https://lobby.example``."""
    return await start_hub(allow_host=(HOST,), allow_origin=("https://lobby.example",))


@pytest.fixture
async def open_as(hub: Any) -> AsyncIterator[Any]:
    """Open a connection whose request says ``Host: <host>`` and ``Origin: <origin>``."""
    opened: list[Peer] = []

    async def open_(host: str, origin: str | None) -> Peer:
        addr, port = hub.host, hub.port
        kwargs: dict[str, Any] = {"host": addr, "port": port}
        if origin is not None:
            kwargs["origin"] = origin
        peer = await Peer.open(f"ws://{host}/ws", **kwargs)
        opened.append(peer)
        return peer

    yield open_
    for peer in opened:
        await peer.close()


async def refused(open_as: Any, host: str, origin: str) -> int:
    """The HTTP status of an upgrade that must fail; its body must be a ``forbidden`` error."""
    with pytest.raises(InvalidStatus) as exc:
        await open_as(host, origin)
    response = exc.value.response
    assert json.loads(response.body)["error"]["code"] == "forbidden"
    return int(response.status_code)


async def accepted(open_as: Any, host: str, origin: str | None) -> None:
    """The upgrade succeeds and the connection answers a request."""
    peer = await open_as(host, origin)
    assert (await peer.ok("subscribe", topic="lobby"))["topic"] == "lobby"


async def test_an_https_origin_naming_the_requests_own_host_is_accepted(open_as: Any) -> None:
    await accepted(open_as, HOST, f"https://{HOST}")


async def test_an_http_origin_naming_the_requests_own_host_is_accepted(open_as: Any) -> None:
    await accepted(open_as, HOST, f"http://{HOST}")


async def test_an_https_origin_with_the_same_explicit_port_as_the_host_is_accepted(
    open_as: Any,
) -> None:
    await accepted(open_as, f"{HOST}:8443", f"https://{HOST}:8443")


async def test_an_https_origin_without_a_port_matches_a_host_naming_port_443(
    open_as: Any,
) -> None:
    await accepted(open_as, f"{HOST}:443", f"https://{HOST}")


async def test_the_host_is_compared_without_regard_to_case(open_as: Any) -> None:
    await accepted(open_as, HOST, "https://HUB.Example")


async def test_no_origin_header_is_accepted(open_as: Any) -> None:
    await accepted(open_as, HOST, None)


async def test_an_origin_naming_another_port_of_the_same_host_is_refused_with_403(
    open_as: Any,
) -> None:
    assert await refused(open_as, f"{HOST}:8443", f"https://{HOST}:9443") == 403


async def test_an_http_origin_without_a_port_does_not_match_a_host_naming_port_443(
    open_as: Any,
) -> None:
    assert await refused(open_as, f"{HOST}:443", f"http://{HOST}") == 403


async def test_an_origin_naming_another_host_is_refused_with_403(open_as: Any) -> None:
    assert await refused(open_as, HOST, "https://evil.example") == 403


async def test_an_origin_whose_host_only_begins_like_the_hubs_is_refused_with_403(
    open_as: Any,
) -> None:
    assert await refused(open_as, HOST, f"https://{HOST}.evil.example") == 403


async def test_origin_null_is_refused_with_403(open_as: Any) -> None:
    assert await refused(open_as, HOST, "null") == 403


async def test_an_unreadable_origin_is_refused_with_403(open_as: Any) -> None:
    assert await refused(open_as, HOST, "https://hub.example:99999") == 403


async def test_an_allowed_origin_is_accepted_from_any_host(open_as: Any) -> None:
    await accepted(open_as, HOST, "https://lobby.example")


async def test_an_allowed_origin_keeps_its_scheme(open_as: Any) -> None:
    assert await refused(open_as, HOST, "http://lobby.example") == 403


async def test_origin_null_is_accepted_when_allowed(start_hub: HubFactory) -> None:
    server = await start_hub(allow_host=(HOST,), allow_origin=("null",))
    peer = await Peer.open(f"ws://{HOST}/ws", host=server.host, port=server.port, origin="null")
    try:
        assert (await peer.ok("subscribe", topic="lobby"))["topic"] == "lobby"
    finally:
        await peer.close()
