"""An rps-hub bot on the `websockets` library alone: it plays one game, then exits 0.

    python examples/bot_websockets.py --server http://127.0.0.1:8080 --opponent computer

It registers over REST (stdlib urllib), answers every `round_open` with a random roll, and after a
dropped connection re-authenticates and resubscribes with `since`/`epoch`, so it misses nothing.
docs/bots.md walks through it; docs/protocol.md is the reference.
"""

import argparse
import asyncio
import json
import random
import secrets
import sys
import urllib.error
import urllib.request

import websockets


def rest(server, path, body=None):
    """One JSON request to the hub's REST API."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server + path, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


class Bot:
    """One player's connection state: what it must resume after a reconnect."""

    def __init__(self, args):
        self.args, self.ids = args, iter(range(1, 1 << 62))
        args.server = args.server.rstrip("/")
        self.token = rest(args.server, "/api/players", {"name": args.name})["token"]
        rules = rest(args.server, "/api/rules")
        self.rolls = rules["rules"][args.rules or rules["default"]]["rolls"]
        self.cursors = {}  # topic -> [epoch, last seq handled]
        self.game, self.played, self.result = None, {}, None
        self.asked = False  # whether ``play`` was sent: it must be sent once only

    async def call(self, ws, op, **fields):
        """Send a request; handle frames until its reply, and return the reply's data."""
        rid = next(self.ids)
        await ws.send(json.dumps({"type": op, "id": rid, **fields}))
        while (frame := json.loads(await ws.recv()))["type"] != "reply" or frame["id"] != rid:
            await self.handle(ws, frame)
        if not frame["ok"]:
            raise SystemExit(f"{op}: {frame['error']['code']}: {frame['error']['message']}")
        return frame["data"]

    async def move(self, ws, round_):
        """Play round ``round_``; the same roll again after a reconnect (a safe retry)."""
        roll = self.played.setdefault(round_, random.choice(self.rolls))
        move = {"type": "move", "id": next(self.ids), "game": self.game, "round": round_}
        await ws.send(json.dumps({**move, "roll": roll}))

    async def handle(self, ws, frame):
        """An event (duplicates dropped by seq) or a reply whose answer needs no waiting."""
        if frame["type"] != "event":
            return
        cursor = self.cursors.setdefault(frame["topic"], [None, 0])
        if frame["seq"] <= cursor[1]:
            return  # already handled before the connection dropped
        cursor[1], event, data = frame["seq"], frame["event"], frame["data"]
        if event == "game_started" and frame["topic"].startswith("player:"):
            self.game = data["id"]
            self.cursors.setdefault(f"game:{self.game}", [data["epoch"], 0])
        elif event == "round_open" and frame["topic"] == f"game:{self.game}":
            await self.move(ws, data["round"])
        elif event == "game_over" and frame["topic"] == f"game:{self.game}":
            self.result = data

    async def session(self, url):
        """One connection: authenticate, resume every topic, play until the game is over."""
        async with websockets.connect(url) as ws:
            await ws.recv()  # welcome
            for joined in (await self.call(ws, "auth", token=self.token))["subscribed"]:
                if joined["topic"].startswith("game:"):
                    self.game = joined["topic"].removeprefix("game:")
                # Joined while we were away (paired from the queue): replay it from the start.
                start = 0 if self.asked else joined["seq"]
                self.cursors.setdefault(joined["topic"], [joined["epoch"], start])
            for topic, (epoch, seq) in list(self.cursors.items()) if self.asked else []:
                got = await self.call(ws, "subscribe", topic=topic, since=seq, epoch=epoch)
                if got["recovered"]:
                    continue  # what we missed follows the reply
                self.cursors[topic] = [got["epoch"], got["seq"]]
                game = got["snapshot"] if topic == f"game:{self.game}" else None
                if game and game["status"] == "finished":
                    self.result = game  # it ended while we were away
                elif game:
                    await self.move(ws, game["round"])
            if not self.asked:
                self.asked, a = True, self.args
                reply = await self.call(
                    ws, "play", opponent=a.opponent, best_of=a.best_of, rules=a.rules or None
                )
                self.game = reply.get("game", self.game)
            while self.result is None:
                await self.handle(ws, json.loads(await ws.recv()))


async def main(args):
    bot, failures = Bot(args), 0
    url = "ws" + args.server.removeprefix("http") + "/ws"  # https -> wss
    while bot.result is None:
        try:
            await bot.session(url)
        except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake) as exc:
            failures += 1
            if failures > 60:
                raise SystemExit(f"gave up reconnecting: {exc}") from None
            await asyncio.sleep(min(5, 0.2 * 2 ** min(failures, 5)) * random.uniform(0.5, 1))
    print(f"game {bot.game} finished: {bot.result['reason']}, winner {bot.result['winner']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="http://127.0.0.1:8080")
    parser.add_argument("--name", default=f"bot-{secrets.token_hex(3)}")
    parser.add_argument("--opponent", default="computer", help="computer, or * for the queue")
    parser.add_argument("--best-of", type=int, default=5)
    parser.add_argument("--rules", default="")
    try:
        asyncio.run(main(parser.parse_args()))
    except urllib.error.HTTPError as exc:  # the hub's JSON error, such as 409 for a taken name
        sys.exit(f"{exc.code}: {json.load(exc)['error']['message']}")
    except urllib.error.URLError as exc:
        sys.exit(f"cannot reach the hub: {exc.reason}")
