"""The options of ``rps-hub serve``: each one's flag, check, default and ``RPS_HUB_*`` variable.

A value given on the command line wins, then the variable, then the default. A variable is checked
by the same function as its option, so a bad one is a usage error that names it (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from attrs import frozen

from hub.cluster.address import parse_broker
from hub.config import Config
from hub.loops import LOOPS

__all__ = ["SERVE_OPTIONS", "Option", "UsageError", "boolean", "config_of", "serve_settings"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


class UsageError(Exception):
    """A bad option or ``RPS_HUB_*`` value; the message names it."""


# -- values: one check per option, shared by the flag and its variable --------------------------


def _text(text: str) -> str:
    value = text.strip()
    if not value:
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return value


def _not_negative(what: str) -> Callable[[str], float]:
    """The check of an option that takes ``what``: a finite number, 0 or more."""

    def check(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be {what}, 0 or more")
        return value

    return check


_seconds = _not_negative("a number of seconds")
_rate = _not_negative("a number of requests per second")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def _level(text: str) -> str:
    value = text.strip().upper()
    if value not in LEVELS:
        choices = ", ".join(level.lower() for level in LEVELS)
        raise argparse.ArgumentTypeError(f"{text!r} is not a log level; use one of {choices}")
    return value


def _proxy(text: str) -> str:
    value = text.strip()
    try:
        if "/" in value:
            return str(ipaddress.ip_network(value, strict=False))
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IP address or network (such as 10.0.0.5 or 10.0.0.0/8)"
        ) from None


def _broker(text: str) -> str:
    try:
        parse_broker(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _loop(text: str) -> str:
    value = text.strip().lower()
    if value not in LOOPS:
        raise argparse.ArgumentTypeError(f"{text!r} is not an event loop; use {', '.join(LOOPS)}")
    return value


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a boolean; use 1/true/yes/on or 0/false/no/off"
    )


@frozen
class Option:
    """One ``serve`` option: its flag, how its value is checked, its default and its help."""

    flag: str
    check: Callable[[str], Any]
    default: Any
    help: str
    many: bool = False  # repeatable; the variable holds a comma- or space-separated list
    metavar: str | None = None

    @property
    def dest(self) -> str:
        """The attribute name argparse gives the value."""
        return self.flag[2:].replace("-", "_")

    @property
    def variable(self) -> str:
        """The ``RPS_HUB_*`` variable that stands in for the flag."""
        return "RPS_HUB_" + self.dest.upper()

    def from_environment(self, raw: str) -> Any:
        """The variable's value, checked like the flag's; ``UsageError`` naming the variable."""
        try:
            if self.many:
                return tuple(self.check(item) for item in raw.replace(",", " ").split())
            return self.check(raw)
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"{self.variable}: {exc}") from None


SERVE_OPTIONS = (
    Option("--host", _text, "127.0.0.1", "the address to listen on (default 127.0.0.1)"),
    Option("--port", _port, 8080, "the port to listen on, 0 for any free one (default 8080)"),
    Option(
        "--db",
        _text,
        "rps-hub.db",
        "a SQLite file path or URL (sqlite:///rel.db, sqlite:////abs.db) or postgresql://…",
        metavar="PATH_OR_URL",
    ),
    Option(
        "--broker",
        _broker,
        None,
        "redis://host:port/db[?prefix=NAME]: join the hub of every node with the same --db"
        " (postgresql://…) and --broker (default: none, one process)",
        metavar="URL",
    ),
    Option(
        "--round-deadline",
        _seconds,
        30.0,
        "seconds per round, 0 for none (default 30)",
        metavar="S",
    ),
    Option(
        "--grace",
        _seconds,
        10.0,
        "seconds a player stays active after the last connection closes (default 10)",
        metavar="S",
    ),
    Option(
        "--heartbeat",
        _seconds,
        20.0,
        "seconds between WebSocket pings (default 20)",
        metavar="S",
    ),
    Option(
        "--allow-origin",
        _text,
        (),
        "another origin allowed to open WebSockets (repeatable)",
        many=True,
        metavar="URL",
    ),
    Option(
        "--allow-host",
        _text,
        (),
        "another Host name a hub on a loopback address serves (repeatable)",
        many=True,
        metavar="HOST",
    ),
    Option(
        "--trusted-proxy",
        _proxy,
        (),
        "a proxy address or network whose X-Forwarded-For names the client (repeatable)",
        many=True,
        metavar="ADDR",
    ),
    Option(
        "--legacy-api", boolean, False, "also answer the course's original /api/game/... routes"
    ),
    Option(
        "--max-connections",
        _count,
        10_000,
        "open connections the hub holds at most; 503 beyond (default 10000)",
        metavar="N",
    ),
    Option(
        "--drain",
        _seconds,
        0.0,
        "on SIGTERM, seconds /healthz answers 503 while everything is still served (default 0)",
        metavar="S",
    ),
    Option(
        "--header-timeout",
        _seconds,
        10.0,
        "seconds a new connection has to send its request headers (default 10)",
        metavar="S",
    ),
    Option(
        "--keepalive-timeout",
        _seconds,
        75.0,
        "seconds an idle keep-alive connection stays open (default 75)",
        metavar="S",
    ),
    Option(
        "--summary-interval",
        _seconds,
        1.0,
        "seconds between a live game's lobby summaries; 0 for one after every round (default 1)",
        metavar="S",
    ),
    Option(
        "--ws-rate",
        _rate,
        20.0,
        "requests/s per WebSocket connection, bursts of twice that; 0 for no limit (default 20)",
        metavar="R",
    ),
    Option(
        "--loop",
        _loop,
        "auto",
        "the event loop: uvloop, asyncio, or auto (default: uvloop when installed)",
        metavar="LOOP",
    ),
    Option(
        "--log-level",
        _level,
        "INFO",
        "debug, info (default), warning, error or critical",
        metavar="LEVEL",
    ),
)


def serve_settings(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Every ``serve`` option's value: the flag's, else its variable's, else the default."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for option in SERVE_OPTIONS:
        given = getattr(args, option.dest, None)
        raw = environ.get(option.variable)
        if given is not None:
            values[option.dest] = tuple(given) if option.many else given
        elif raw is not None:
            values[option.dest] = option.from_environment(raw)
        else:
            values[option.dest] = option.default
    return values


def config_of(settings: Mapping[str, Any]) -> Config:
    """The hub's ``Config`` from ``serve_settings``: ``--ws-rate R`` is a rate of R with bursts
    of 2R (0 for none)."""
    values = {k: v for k, v in settings.items() if k not in ("log_level", "ws_rate", "loop")}
    if values.get("broker") and not str(values["db"]).startswith(("postgresql:", "postgres:")):
        raise UsageError("--broker needs --db postgresql://… (every node shares the database)")
    rate = settings["ws_rate"]
    return Config(**values, rate=rate, burst=math.ceil(2 * rate))
