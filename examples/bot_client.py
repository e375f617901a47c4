"""An rps-hub bot on this repository's client library (`client/`): one game, then exit 0.

    python examples/bot_client.py --server http://127.0.0.1:8080 --opponent computer

`HubClient` does the hard parts: it reconnects with backoff after a dropped connection,
authenticates again, resumes every topic with `since`/`epoch`, and drops duplicates, so the bot
only answers `round_open` events. docs/bots.md walks through it.
"""

import argparse
import asyncio
import random
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone, uninstalled

from client import rest
from client.connection import HubClient
from client.errors import ClientError


async def main(args: argparse.Namespace) -> int:
    """Register, start one game, answer every round until the game is over."""
    name, token = await rest.register(args.server, args.name)
    rules = await rest.rules(args.server)
    rolls = rules["rules"][args.rules or rules["default"]]["rolls"]
    played: dict[int, str] = {}  # the same roll again if a round is retried
    async with await HubClient.connect(args.server, token=token) as hub:
        reply = await hub.play(args.opponent, best_of=args.best_of, rules=args.rules or None)
        game = reply.get("game")
        async for item in hub.events():
            kind, data = item.get("event") or item["type"], item.get("data")
            if kind == "game_started" and item["topic"] == f"player:{name}":
                game = data["id"]  # paired from the queue
            elif item.get("topic") != f"game:{game}":
                continue  # the state of the connection, or another topic
            elif kind == "round_open" or (kind == "snapshot" and data["status"] == "playing"):
                move = played.setdefault(data["round"], random.choice(rolls))
                await hub.move(game, move, round=data["round"])
            elif kind == "game_over" or kind == "snapshot":  # a snapshot of a finished game
                print(f"game {game} finished: {data['reason']}, winner {data['winner']}")
                return 0
    return 1  # the client gave up reconnecting


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="http://127.0.0.1:8080")
    parser.add_argument("--name", default=f"bot-{secrets.token_hex(3)}")
    parser.add_argument("--opponent", default="computer", help="computer, or * for the queue")
    parser.add_argument("--best-of", type=int, default=5)
    parser.add_argument("--rules", default="")
    try:
        sys.exit(asyncio.run(main(parser.parse_args())))
    except ClientError as exc:
        sys.exit(f"{exc.code}: {exc.message}")
