"""The ``rps-hub`` command: ``serve``, ``check-rules``, and the terminal client's commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from hub import __version__
from hub.config import Config
from protocol.errors import InvalidRuleTable, ProtocolError
from protocol.rules import parse_table

log = logging.getLogger("hub")

TRUE = ("1", "true", "yes", "on")


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get("RPS_HUB_" + name.upper().replace("-", "_"), default)


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"rps-hub: RPS_HUB_{name.upper()} must be a number, not {raw!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="rps-hub", description="A real-time WebSocket hub for Rock-Paper-Scissors games."
    )
    parser.add_argument("--version", action="version", version=f"rps-hub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the hub (every option also reads RPS_HUB_<OPTION>)")
    serve.add_argument("--host", default=_env("host", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(_env("port", "8080") or 8080))
    serve.add_argument(
        "--db",
        default=_env("db", "rps-hub.db"),
        help="a SQLite file path or URL (sqlite:///rel.db, sqlite:////abs.db) or postgresql://…",
    )
    serve.add_argument(
        "--round-deadline",
        type=float,
        default=_env_float("round_deadline", 30.0),
        help="seconds per round, 0 for none (default 30)",
    )
    serve.add_argument(
        "--grace",
        type=float,
        default=_env_float("grace", 10.0),
        help="seconds a player stays active after the last connection closes (default 10)",
    )
    serve.add_argument(
        "--heartbeat",
        type=float,
        default=_env_float("heartbeat", 20.0),
        help="seconds between WebSocket pings (default 20)",
    )
    env_origins = (_env("allow_origin") or "").replace(",", " ").split()
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=None,
        metavar="URL",
        help="another origin allowed to open WebSockets (repeatable)",
    )
    serve.set_defaults(env_origins=env_origins)
    serve.add_argument(
        "--legacy-api",
        action="store_true",
        default=(_env("legacy_api") or "").lower() in TRUE,
        help="also answer the course's original /api/game/... routes",
    )
    serve.add_argument("--log-level", default=_env("log_level", "INFO"))
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
    code: int = args.func(args)
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


def _config(args: argparse.Namespace) -> Config:
    origins = args.allow_origin if args.allow_origin is not None else args.env_origins
    return Config(
        host=args.host,
        port=args.port,
        db=args.db,
        round_deadline=args.round_deadline,
        grace=args.grace,
        heartbeat=args.heartbeat,
        allow_origin=tuple(origins),
        legacy_api=args.legacy_api,
    )


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return asyncio.run(serve(_config(args)))
    except KeyboardInterrupt:
        return 0


async def serve(config: Config) -> int:
    """Run the hub until SIGINT or SIGTERM; 2 when the port or database cannot be had."""
    from hub import keys
    from hub.app import create_app

    runner = web.AppRunner(create_app(config), handle_signals=False)
    try:
        await runner.setup()
    except ProtocolError as exc:
        # The storage's message names the database (any password masked) and what to do.
        print(f"rps-hub: {exc.message}", file=sys.stderr)
        await runner.cleanup()
        return 2
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError as exc:
        print(
            f"rps-hub: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        await runner.cleanup()
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Before the line below: whoever reads it may send SIGTERM at once.
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    port = runner.addresses[0][1] if runner.addresses else config.port  # real port for --port 0
    print(f"rps-hub {__version__} serving on http://{config.host}:{port}/", flush=True)
    await stop.wait()
    log.info("shutting down")
    # /healthz answers 503 and new WebSockets are refused from the first moment of the stop.
    runner.app[keys.HUB].closing = True
    await runner.cleanup()
    return 0
