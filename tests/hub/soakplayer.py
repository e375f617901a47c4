"""The soak session's scripted player: games, challenges, the queue, REST moves and reconnects."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from tests.hub.soakwire import TIMEOUT, Refused, Wire, World
from tests.hub.wsclient import Frame

STEPS = 18  # per player


class Player:
    """A scripted player: one step at a time, each decided by its own random generator."""

    def __init__(self, world: World, name: str, token: str, rng: random.Random) -> None:
        self.world, self.name, self.token, self.rng = world, name, token, rng
        self.topic = f"player:{name}"
        self.lazy = (
            0.45 if rng.random() < 0.3 else 0.1
        )  # how often it leaves a round to the deadline
        self.others: list[str] = []
        self.game: dict[str, Any] | None = None  # the live game: id, epoch, rules
        self.round: int | None = None  # its open round
        self.moved: set[tuple[str, int]] = set()
        self.over: set[str] = set()  # games seen to end
        self.challenges: dict[str, str] = {}  # open challenges to this player: id -> from
        self.left = False  # the lobby said this player left (while it was away)
        self.changed = asyncio.Event()
        self.logs: dict[str, list[Frame]] = {}
        self.wires: list[Wire] = []

    @property
    def wire(self) -> Wire:
        """The current connection."""
        return self.wires[-1]

    async def open(self) -> Wire:
        """A new connection (not yet authenticated)."""
        wire = await Wire.open(
            self.world.url,
            self.on_event,
            logs=self.logs,
            logged=lambda topic: topic.startswith("game:"),
        )
        self.wires.append(wire)
        return wire

    async def connect(self) -> None:
        """The first connection."""
        await (await self.open()).ok("auth", token=self.token)

    def on_event(self, frame: Frame) -> None:
        """Follow the player's own topic, its game's topic, and (while away) the lobby."""
        topic, event, data = frame["topic"], frame["event"], frame["data"]
        if topic == self.topic:
            if event == "challenge":
                self.challenges[data["id"]] = data["from"]
            elif event == "challenge_withdrawn":
                self.challenges.pop(data["id"], None)
            elif event == "game_started" and data["id"] not in self.over:
                self.adopt(data)
        elif self.game is not None and topic == f"game:{self.game['id']}":
            if event == "round_open":
                self.round = data["round"]
            elif event == "game_over":
                self.over.add(self.game["id"])
                self.game, self.round = None, None
        elif topic == "lobby" and event == "player_left" and data["name"] == self.name:
            self.left = True
        self.changed.set()

    def adopt(self, game: dict[str, Any]) -> None:
        """Take ``game`` (as the hub shows it) as the live one, unless it is already known."""
        if self.game is not None and self.game["id"] == game["id"]:
            return
        self.game = {k: game[k] for k in ("id", "epoch", "rules")}
        self.round = game["round"]

    async def wait(self, predicate: Callable[[], bool], within: float = TIMEOUT) -> bool:
        """Wait until ``predicate`` holds; False when ``within`` seconds pass first."""
        try:
            async with asyncio.timeout(within):
                while not predicate():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """The player's steps."""
        for _ in range(STEPS):
            try:
                if self.game is not None:
                    await self.play_round()
                else:
                    await self.idle_step()
            except Refused as refused:
                self.world.tally[f"refused {refused.code}"] += 1

    async def idle_step(self) -> None:
        """One action between games."""
        rng = self.rng
        actions = ["computer", "challenge", "queue", "rest", "reconnect"]
        weights = [3, 3, 2, 1, 1]
        if self.challenges:
            actions.append("answer")
            weights.append(6)
        action = rng.choices(actions, weights)[0]
        self.world.tally[action] += 1
        wire = self.wire
        if action == "computer":
            rules = rng.choice(list(self.world.rolls))
            await wire.ok("play", opponent="computer", best_of=rng.choice([1, 3]), rules=rules)
        elif action == "challenge":
            await wire.ok("play", opponent=rng.choice(self.others), best_of=rng.choice([1, 3]))
            # Give the other side a moment to answer; an unanswered challenge is withdrawn.
            if not await self.wait(lambda: self.game is not None, 1.0):
                await wire.ok("cancel")
        elif action == "queue":
            await wire.ok("play", opponent="*", best_of=1, rules="rps3")
            if not await self.wait(lambda: self.game is not None, 0.5):
                await wire.ok("cancel")
        elif action == "rest":
            status, game = await self.world.rest.call(
                "POST", "/api/games", {"best_of": rng.choice([1, 3])}, token=self.token
            )
            assert status in (201, 409), (status, game)
            if status == 201:  # the seat's connections hear of it on the player's topic
                assert await self.wait(lambda: game["id"] in self.over or self.game is not None)
        elif action == "reconnect":
            await self.reconnect(away=rng.random() < 0.5)
        else:
            challenge = rng.choice(sorted(self.challenges))
            del self.challenges[challenge]
            if rng.random() < 0.7:
                await wire.ok("accept", challenge=challenge)
            else:
                await wire.ok("decline", challenge=challenge)

    async def play_round(self) -> None:
        """One step in the live game: move, move late, move over REST, reconnect or resign."""
        assert self.game is not None
        game_id, n = self.game["id"], self.round
        assert n is not None

        def moved_on() -> bool:
            return self.game is None or self.game["id"] != game_id or self.round != n

        if (game_id, n) in self.moved:
            assert await self.wait(moved_on), f"{self.name}: round {n} of {game_id} never ended"
            return
        roll = self.rng.choice(self.world.rolls[self.game["rules"]])
        r = self.rng.random()
        if r < self.lazy:
            self.world.tally["late"] += 1
            self.moved.add((game_id, n))  # it will not move in this round
        elif r < self.lazy + 0.1:
            await self.reconnect(away=self.rng.random() < 0.4)
        elif r < self.lazy + 0.2:
            self.world.tally["rest move"] += 1
            await self.rest_move(game_id, n, roll)
        elif r < self.lazy + 0.23:
            self.world.tally["resign"] += 1
            await self.refresh_after(self.wire.ok("resign", game=game_id), game_id)
        else:
            self.moved.add((game_id, n))
            await self.refresh_after(
                self.wire.ok("move", game=game_id, roll=roll, round=n), game_id
            )

    async def rest_move(self, game_id: str, n: int, roll: str) -> None:
        """Move over REST; the result comes to the seat's connection as events all the same."""
        self.moved.add((game_id, n))
        status, answer = await self.world.rest.call(
            "POST", f"/api/games/{game_id}/moves", {"roll": roll, "round": n}, token=self.token
        )
        assert status in (200, 409), (status, answer)
        if status == 409:
            self.world.tally["refused conflict"] += 1
            await self.refresh(game_id)

    async def refresh_after(self, request: Any, game_id: str) -> None:
        """Send ``request``; after a conflict, learn the game's state from REST."""
        try:
            await request
        except Refused:
            self.world.tally["refused conflict"] += 1
            await self.refresh(game_id)

    async def refresh(self, game_id: str) -> None:
        """The round moved on, or the game ended, before the request arrived."""
        game = await self.world.rest.ok("GET", f"/api/games/{game_id}")
        if self.game is None or self.game["id"] != game_id:
            return
        if game["status"] == "finished":
            self.over.add(game_id)
            self.game, self.round = None, None
        else:
            self.round = max(self.round or 0, game["round"])

    async def reconnect(self, *, away: bool) -> None:
        """Drop the connection and come back, recovering the live game's topic.

        Away, the player first waits (on a fresh connection, as a spectator of the lobby) until
        the lobby says it left, moving over REST meanwhile; otherwise it is back within the grace.
        """
        self.world.tally["away" if away else "reconnect"] += 1
        old = self.wire
        await old.close()
        wire = await self.open()
        if away:
            self.left = False
            data = await wire.ok("subscribe", topic="lobby")
            self.world.snapshots.append(data["snapshot"])
            if self.name in {p["name"] for p in data["snapshot"]["players"]}:
                game, n = self.game, self.round
                if game is not None and n is not None and (game["id"], n) not in self.moved:
                    roll = self.rng.choice(self.world.rolls[game["rules"]])
                    await self.rest_move(game["id"], n, roll)
                assert await self.wait(lambda: self.left), f"{self.name} never left"
        if self.game is not None:
            # Before auth, so every event of the game comes exactly once: the missed ones now,
            # then the live ones.
            topic = f"game:{self.game['id']}"
            since = old.seqs.get(topic, 0)
            data = await wire.ok("subscribe", topic=topic, since=since, epoch=self.game["epoch"])
            assert data["recovered"], data
            self.world.tally["recovered"] += 1
        data = await wire.ok("auth", token=self.token)
        for sub in data["subscribed"]:
            live = sub["topic"].removeprefix("game:")
            if sub["topic"].startswith("game:") and live not in self.over:
                self.adopt(await self.world.rest.ok("GET", f"/api/games/{live}"))
        if self.topic in old.seqs:
            data = await wire.ok(
                "subscribe",
                topic=self.topic,
                since=old.seqs[self.topic],
                epoch=old.epochs[self.topic],
            )
            # Back within the grace the topic's history is still there; after leaving it is not.
            self.world.tally[f"player topic recovered {data['recovered']}"] += 1

    async def finish(self) -> None:
        """Resign what is live, withdraw what is open, close."""
        if self.game is not None:
            await self.refresh_after(self.wire.ok("resign", game=self.game["id"]), self.game["id"])
        await self.wire.ok("cancel")
        await self.wire.close()
