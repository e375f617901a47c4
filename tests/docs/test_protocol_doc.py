"""docs/protocol.md against the code: its reference tables and the hub name the same things.

The hub's side is read from the code itself, never from a hand-kept list: ops from the decoder's
table, game events from the ``effect_event`` mapping, lobby and player events from every
``_publish`` call in ``hub/``, error codes from the core's exceptions and the REST status table,
and routes from the router of a real app built with the legacy API on.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import WSCloseCode

import hub
import protocol.errors
import protocol.lobby_wire
import protocol.wire
from hub import fanout, rest, ws
from hub.app import create_app
from hub.config import Config
from protocol import PROTOCOL_VERSION
from protocol.messages import OPS
from tests.docs.markdown import tables

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"


def column(first_header: str) -> list[tuple[str, list[str]]]:
    """The code-spans of the first cell of each row of every table headed ``first_header``."""
    found = []
    for header, rows in tables(DOC.read_text("utf-8")):
        if header[0] == first_header:
            for row in rows:
                for name in re.findall(r"`([^`]+)`", row[0]):
                    found.append((name, row))
    assert found, f"docs/protocol.md has no table headed {first_header!r}"
    return found


def documented(first_header: str) -> set[str]:
    """The names a reference table lists."""
    return {name for name, _ in column(first_header)}


def _hub_sources() -> Iterator[Path]:
    yield from Path(inspect.getfile(hub)).parent.rglob("*.py")


def published_events() -> set[str]:
    """Every lobby and player event name: those ``protocol.lobby_wire.lobby_event`` returns for
    the lobby core's effects, and those passed to ``_publish`` by name anywhere in ``hub/``."""
    names = set()
    tree = ast.parse(inspect.getsource(protocol.lobby_wire.lobby_event))
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            second = node.value.elts[1]
            assert isinstance(second, ast.Constant) and isinstance(second.value, str)
            names.add(second.value)
    assert names, "lobby_event returns no literal event names"
    for path in _hub_sources():
        tree = ast.parse(path.read_text("utf-8"))
        sink = {  # the one call that publishes the core's events, by the names above
            id(call)
            for fn in ast.walk(tree)
            if isinstance(fn, ast.FunctionDef) and fn.name == "_publish_effects"
            for call in ast.walk(fn)
        }
        for node in ast.walk(tree):
            if (
                not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "_publish"
                )
                or id(node) in sink
            ):
                continue
            event = node.args[1] if len(node.args) > 1 else None
            # A name computed at run time could not be listed here: keep every name a literal.
            assert isinstance(event, ast.Constant) and isinstance(event.value, str), (
                f"{path.name}:{node.lineno}: _publish with an event name that is not a literal"
            )
            names.add(event.value)
    return names


def game_events() -> set[str]:
    """Every event name ``protocol.wire.effect_event`` returns (game topics)."""
    tree = ast.parse(inspect.getsource(protocol.wire.effect_event))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            first = node.value.elts[0]
            assert isinstance(first, ast.Constant) and isinstance(first.value, str)
            names.add(first.value)
    assert names, "effect_event returns no literal event names"
    return names


def error_codes() -> set[str]:
    """Every code of the core's exceptions and of the REST status table."""
    codes = {
        cls.code
        for _, cls in inspect.getmembers(protocol.errors, inspect.isclass)
        if issubclass(cls, protocol.errors.ProtocolError)
    }
    return codes | set(rest.STATUS)


def app_routes() -> set[str]:
    """``METHOD /path`` of every route a hub with the legacy API registers (HEAD left out)."""
    app = create_app(Config(legacy_api=True))
    routes = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        resource = route.resource
        assert resource is not None
        path = resource.canonical
        if "prefix" in resource.get_info():  # a static directory serves the files below it
            path = path.rstrip("/") + "/{filename}"
        routes.add(f"{route.method} {path}")
    return routes


def test_the_doc_names_the_protocol_version_the_hub_sends() -> None:
    text = DOC.read_text("utf-8")
    assert text.startswith(f"# rps-hub protocol, version {PROTOCOL_VERSION}\n")
    assert f'"protocol":{PROTOCOL_VERSION},' in text


def test_every_op_the_hub_decodes_is_in_the_requests_table() -> None:
    assert set(OPS) - documented("op") == set()


def test_every_op_in_the_requests_table_is_decoded_by_the_hub() -> None:
    assert documented("op") - set(OPS) == set()


def test_every_event_the_hub_emits_is_in_the_events_table() -> None:
    assert (game_events() | published_events()) - documented("event") == set()


def test_every_event_in_the_events_table_is_emitted_by_the_hub() -> None:
    assert documented("event") - (game_events() | published_events()) == set()


def test_every_game_event_is_documented_on_the_game_topic() -> None:
    topics = {name: row[1] for name, row in column("event") if name in game_events()}
    assert topics == dict.fromkeys(game_events(), "`game:<id>`")


def test_every_error_code_is_in_the_errors_table() -> None:
    assert error_codes() - documented("code") == set()


def test_every_code_in_the_errors_table_is_one_the_hub_uses() -> None:
    assert documented("code") - error_codes() == set()


@pytest.mark.parametrize("code", sorted(rest.STATUS))
def test_the_errors_table_gives_the_http_status_the_hub_answers_with(code: str) -> None:
    rows = [row for name, row in column("code") if name == code]
    assert len(rows) == 1
    assert re.match(r"\d{3}", rows[0][1]) and int(rows[0][1][:3]) == rest.STATUS[code]


def test_every_route_the_hub_registers_is_in_a_routes_table() -> None:
    assert app_routes() - documented("route") == set()


def test_every_route_in_a_routes_table_is_registered_by_the_hub() -> None:
    assert documented("route") - app_routes() == set()


def test_the_close_codes_the_hub_sends_itself_are_in_the_close_codes_table() -> None:
    own = {ws.UNSUPPORTED_DATA, ws.POLICY_VIOLATION, fanout.SLOW_CONSUMER}
    own |= {WSCloseCode.GOING_AWAY.value, WSCloseCode.INTERNAL_ERROR.value}
    listed = {
        int(row[0])
        for header, rows in tables(DOC.read_text("utf-8"))
        if header[0] == "close code"
        for row in rows
    }
    assert own - listed == set()
