"""The terminal client's commands, ``play``, ``watch``, ``lobby``, ``login`` and ``logout``:
arguments and exit codes.

``hub.cli`` adds them to ``rps-hub`` with ``register(subparsers)``; each runs one asyncio loop
(``client.play``, ``client.spectate``). Exit codes:
0 done, 1 the hub said no (name taken, no such game, challenge declined), 2 a bad address or
argument or an unreachable hub, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from client.address import DEFAULT_SERVER
from client.errors import ClientError
from client.login import login, logout
from client.play import Player
from client.spectate import lobby, watch
from client.terminal import Terminal
from protocol.errors import BadMessage
from protocol.game import MAX_BEST_OF, check_best_of
from protocol.rules import BUILTIN, DEFAULT_RULES

__all__ = [
    "lobby",
    "lobby_command",
    "login_command",
    "logout_command",
    "play_command",
    "register",
    "watch",
    "watch_command",
]

LEVELS = ("random", "reader")

USAGE_CODES = ("unavailable", "bad_request")

P = TypeVar("P", bound=argparse.ArgumentParser)


def register(subparsers: argparse._SubParsersAction[P]) -> None:
    """Add ``play``, ``watch``, ``lobby``, ``login`` and ``logout`` to an ``rps-hub`` subparsers
    object."""
    play = subparsers.add_parser(
        "play",
        help="play the computer or another player",
        description="Play a game: against the computer, a player by name, or whoever is queued.",
    )
    _server(play)
    play.add_argument("--name", help="your player name (registered on first use)")
    play.add_argument(
        "--opponent", default="computer", help="computer (default), a player's name, or * to queue"
    )
    play.add_argument(
        "--best-of",
        type=_best_of,
        default=5,
        metavar="N",
        help=f"odd, 1..{MAX_BEST_OF} (default 5)",
    )
    builtin = ", ".join(
        f"{name} (the default)" if name == DEFAULT_RULES else name for name in BUILTIN
    )
    play.add_argument("--rules", default=None, help=f"a rule set of the hub; built in: {builtin}")
    play.add_argument(
        "--level",
        choices=LEVELS,
        default=None,
        help="against the computer: random (the default) or reader, which reads your habits",
    )
    play.add_argument(
        "--wait",
        action="store_true",
        help="start nothing: wait for a player's challenge and accept it",
    )
    _json(play)
    play.set_defaults(func=play_command)

    watch = subparsers.add_parser("watch", help="watch one game live")
    watch.add_argument("game", metavar="GAME_ID")
    _server(watch)
    _json(watch)
    watch.set_defaults(func=watch_command)

    lobby = subparsers.add_parser(
        "lobby",
        help="follow the lobby: players, live games, leaders",
        description="Follow the lobby. With a token saved for the hub (rps-hub play saves one)"
        " you are online there: a challenge asks y/n, and accepting it plays the game.",
    )
    _server(lobby)
    lobby.add_argument("--name", help="the player to be (default: the last one on this hub)")
    _json(lobby)
    lobby.set_defaults(func=lobby_command)

    login = subparsers.add_parser(
        "login",
        help="play as the same player on another device",
        description="Without TOKEN: print a new token of the player you play as here, for another"
        " device. With TOKEN (printed by another device): play as its player on this device.",
    )
    login.add_argument(
        "token",
        metavar="TOKEN",
        nargs="?",
        help="a token from another device (one that starts with '-', which hubs before"
        " 2026-12-06 could give, goes last, after '--')",
    )
    _server(login)
    login.add_argument("--name", help="the player to make a token for (default: the last one)")
    login.set_defaults(func=login_command, json=False)

    logout = subparsers.add_parser(
        "logout",
        help="revoke and forget this device's token",
        description="Revoke this device's token on the hub and forget it here; the player's other"
        " devices keep theirs.",
    )
    _server(logout)
    logout.add_argument("--name", help="the player to sign out (default: the last one)")
    logout.set_defaults(func=logout_command, json=False)


def _server(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        default=DEFAULT_SERVER,
        metavar="URL",
        help=f"the hub: http://host:port or ws://host:port/ws (default {DEFAULT_SERVER})",
    )


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the raw events as JSON lines")


def _best_of(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    try:
        return check_best_of(value)
    except BadMessage:
        raise argparse.ArgumentTypeError(
            f"must be odd and from 1 to {MAX_BEST_OF}, not {value}"
        ) from None


# -- running a command --------------------------------------------------------------------------


def play_command(args: argparse.Namespace) -> int:
    """``rps-hub play``."""
    return _run(lambda term: Player(args, term).run(), args, interrupted=130)


def watch_command(args: argparse.Namespace) -> int:
    """``rps-hub watch GAME_ID``."""
    return _run(lambda term: watch(args, term), args, interrupted=0)


def lobby_command(args: argparse.Namespace) -> int:
    """``rps-hub lobby``."""
    return _run(lambda term: lobby(args, term), args, interrupted=0)


def login_command(args: argparse.Namespace) -> int:
    """``rps-hub login [TOKEN]``."""
    return _run(lambda term: login(args, term), args, interrupted=130)


def logout_command(args: argparse.Namespace) -> int:
    """``rps-hub logout``."""
    return _run(lambda term: logout(args, term), args, interrupted=130)


def _run(
    main: Callable[[Terminal], Awaitable[int]], args: argparse.Namespace, *, interrupted: int
) -> int:
    term = Terminal()
    if args.json:
        term.muted = True
        term.interactive = False
    try:
        return asyncio.run(_guard(main(term), term))
    except KeyboardInterrupt:
        term.stop()
        return interrupted


async def _guard(main: Awaitable[int], term: Terminal) -> int:
    try:
        return await main
    except ClientError as exc:
        term.stop()
        print(f"rps-hub: {exc.message}", file=sys.stderr)
        return 2 if exc.code in USAGE_CODES else 1
    finally:
        term.stop()
