"""What every command hears in its inbox besides the stream, what it says about the connection,
and its ``--json`` output."""

from __future__ import annotations

import json
import sys

from attrs import frozen

from client.frames import Item
from client.terminal import Terminal

__all__ = ["QUIT", "Closed", "Tick", "Typed", "on_state", "print_json", "state_line"]

QUIT = ("quit", "exit", "/quit", "/q")


@frozen
class Typed:
    """A line typed on stdin; None at the end of the input."""

    line: str | None


@frozen
class Tick:
    """A second passed: the countdown moves."""


@frozen
class Closed:
    """The client's stream ended: the client is closed."""


def print_json(term: Terminal, item: object) -> None:
    """One item as a JSON line (``--json``)."""
    term.write_raw(json.dumps(item, ensure_ascii=False) + "\n")


def state_line(item: Item) -> str | None:
    """The line that says a change of the connection, if it is worth one."""
    state = item.get("state")
    if state == "reconnecting":
        delay = float(item.get("delay", 0))
        if item.get("attempt") == 1:
            return f"connection lost ({item.get('reason')}); reconnecting…"
        return f"still reconnecting: attempt {item.get('attempt')} in {delay:.1f}s…"
    if state == "connected":
        return "reconnected; catching up"
    return None


def on_state(term: Terminal, item: Item) -> int | None:
    """Say a change of the connection; the exit code 1 when the hub is lost for good."""
    if item.get("state") == "closed":
        print(f"rps-hub: lost the hub: {item.get('reason')}", file=sys.stderr)
        return 1
    line = state_line(item)
    if line:
        term.say(term.style(line, "yellow"))
    return None
