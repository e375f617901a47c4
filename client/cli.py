"""The terminal client's commands: ``play``, ``watch`` and ``lobby``."""

from __future__ import annotations

import argparse
import sys

from client.address import DEFAULT_SERVER


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``play``, ``watch`` and ``lobby`` to an ``rps-hub`` subparsers object."""
    play = subparsers.add_parser("play", help="play the computer or another player")
    _server(play)
    play.add_argument("--name", help="your player name (registered on first use)")
    play.add_argument("--opponent", default="computer", help="computer, a player's name, or *")
    play.add_argument("--best-of", type=int, default=5, metavar="N", help="odd, 1..15 (default 5)")
    play.add_argument("--rules", default=None, help="rps15 (default), rps3 or rpsls")
    play.add_argument("--json", action="store_true", help="print raw events as JSON lines")
    play.set_defaults(func=_pending)

    watch = subparsers.add_parser("watch", help="watch one game live")
    watch.add_argument("game", metavar="GAME_ID")
    _server(watch)
    watch.add_argument("--json", action="store_true", help="print raw events as JSON lines")
    watch.set_defaults(func=_pending)

    lobby = subparsers.add_parser("lobby", help="follow the lobby: players, live games, leaders")
    _server(lobby)
    lobby.add_argument("--json", action="store_true", help="print raw events as JSON lines")
    lobby.set_defaults(func=_pending)


def _server(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server", default=DEFAULT_SERVER, metavar="URL", help=f"default {DEFAULT_SERVER}"
    )


def _pending(args: argparse.Namespace) -> int:
    print(f"rps-hub: {args.command} is not ready yet", file=sys.stderr)
    return 2
