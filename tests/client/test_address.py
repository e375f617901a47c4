"""Hub addresses: one --server string gives the WebSocket URL and the REST base."""

from __future__ import annotations

import pytest

from client.address import http_url, ws_url
from client.errors import ClientError


@pytest.mark.parametrize(
    ("server", "ws"),
    [
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/ws"),
        ("http://127.0.0.1:8080/", "ws://127.0.0.1:8080/ws"),
        ("https://hub.example", "wss://hub.example/ws"),
        ("ws://127.0.0.1:8080/ws", "ws://127.0.0.1:8080/ws"),
        ("ws://127.0.0.1:8080", "ws://127.0.0.1:8080/ws"),
        ("localhost:9000", "ws://localhost:9000/ws"),
        ("http://example.org/rps/", "ws://example.org/rps/ws"),
    ],
)
def test_an_http_or_ws_address_becomes_the_hubs_websocket_url(server: str, ws: str) -> None:
    assert ws_url(server) == ws


@pytest.mark.parametrize(
    ("server", "base"),
    [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("ws://127.0.0.1:8080/ws", "http://127.0.0.1:8080"),
        ("wss://hub.example/rps/ws", "https://hub.example/rps"),
    ],
)
def test_a_websocket_address_gives_the_rest_base_too(server: str, base: str) -> None:
    assert http_url(server) == base


@pytest.mark.parametrize("server", ["ftp://host", "http://", "http://host:notaport", ""])
def test_an_unusable_address_is_a_bad_request_that_shows_the_expected_form(server: str) -> None:
    with pytest.raises(ClientError) as caught:
        ws_url(server)
    assert caught.value.code == "bad_request"
    assert "http://host:port" in caught.value.message
