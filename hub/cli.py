"""The ``rps-hub`` command: ``serve``, ``check-rules``, and the terminal client's commands.

Only ``serve`` reads ``RPS_HUB_*`` variables, and only after its command line is parsed: a value
given on the command line wins, then the variable, then the default. A variable is checked by the
same function as its option, so a bad one is a usage error that names it (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from attrs import frozen

from hub import __version__
from hub.cluster.address import parse_broker
from hub.config import Config
from protocol.errors import InvalidRuleTable
from protocol.rules import parse_table

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


class UsageError(Exception):
    """A bad option or ``RPS_HUB_*`` value; the message names it."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` as one line and exit 2."""
        self.exit(2, f"{self.prog}: {message}; see {self.prog} --help\n")


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


def _boolean(text: str) -> bool:
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
        "--legacy-api", _boolean, False, "also answer the course's original /api/game/... routes"
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
        "--log-level",
        _level,
        "INFO",
        "debug, info (default), warning, error or critical",
        metavar="LEVEL",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand; it reads no environment variable."""
    parser = Parser(
        prog="rps-hub", description="A real-time WebSocket hub for Rock-Paper-Scissors games."
    )
    parser.add_argument("--version", action="version", version=f"rps-hub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the hub (every option also reads RPS_HUB_<OPTION>)",
        description="Run the hub. Every option also reads RPS_HUB_<OPTION> (upper case, - as _);"
        " a list takes commas or spaces, a boolean 1/true/yes/on or 0/false/no/off.",
    )
    for option in SERVE_OPTIONS:
        if option.check is _boolean:
            serve.add_argument(
                option.flag, action=argparse.BooleanOptionalAction, default=None, help=option.help
            )
        else:
            serve.add_argument(
                option.flag,
                type=option.check,
                action="append" if option.many else "store",
                default=None,
                metavar=option.metavar,
                help=option.help,
            )
    serve.set_defaults(func=_serve)

    check = sub.add_parser("check-rules", help="validate a battle-table CSV")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_check_rules)

    from client.cli import register

    register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rps-hub`` and ``python -m hub``."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(f"rps-hub {args.command}: {exc}", file=sys.stderr)
        return 2
    return code


def _check_rules(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"rps-hub: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        rules = parse_table(text, args.file.stem)
    except InvalidRuleTable as exc:
        for pair in exc.bad_pairs:
            print(pair)
        if not exc.bad_pairs:
            print(exc.message)
        print(f"{args.file}: invalid: {exc.message}", file=sys.stderr)
        return 1
    print(
        f"{args.file}: ok, {len(rules.rolls)} rolls, each beats {len(rules.beats[rules.rolls[0]])}"
    )
    return 0


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
    values = {k: v for k, v in settings.items() if k not in ("log_level", "ws_rate")}
    if values.get("broker") and not str(values["db"]).startswith(("postgresql:", "postgres:")):
        raise UsageError("--broker needs --db postgresql://… (every node shares the database)")
    rate = settings["ws_rate"]
    return Config(**values, rate=rate, burst=math.ceil(2 * rate))


def _serve(args: argparse.Namespace) -> int:
    settings = serve_settings(args)
    config = config_of(settings)
    logging.basicConfig(
        level=settings["log_level"], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from hub.server import run

    try:
        return asyncio.run(run(config))
    except KeyboardInterrupt:
        return 0
