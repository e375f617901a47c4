"""The ``rps-hub`` command: ``serve``, ``check-rules``, and the terminal client's commands.

Only ``serve`` reads ``RPS_HUB_*`` variables, and only after its command line is parsed
(``hub.options``: its options, their checks and their variables).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from hub import __version__
from hub.loops import loop_factory
from hub.options import SERVE_OPTIONS, UsageError, boolean, config_of, serve_settings
from protocol.errors import InvalidRuleTable
from protocol.rules import parse_table


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` as one line and exit 2."""
        self.exit(2, f"{self.prog}: {message}; see {self.prog} --help\n")


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
        if option.check is boolean:
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


def _serve(args: argparse.Namespace) -> int:
    settings = serve_settings(args)
    config = config_of(settings)
    logging.basicConfig(
        level=settings["log_level"], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        new_loop = loop_factory(settings["loop"])
    except ImportError:
        raise UsageError("--loop uvloop: uvloop is not installed (pip install uvloop)") from None
    from hub.server import run

    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            return runner.run(run(config))
    except KeyboardInterrupt:
        return 0
