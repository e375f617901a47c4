"""The soak session's spectator: the lobby and its games, followed across reconnects."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from tests.hub.soakwire import Wire, World
from tests.hub.wsclient import Frame


class Spectator:
    """Follows the lobby and (some) the games, reconnecting now and then with recovery."""

    def __init__(
        self, world: World, rng: random.Random, *, follow_games: bool, from_zero: bool
    ) -> None:
        self.world, self.rng = world, rng
        self.follow_games, self.from_zero = follow_games, from_zero
        self.logs: dict[str, list[Frame]] = {}
        self.wires: list[Wire] = []
        self.new_games: list[str] = []
        self.events = 0
        self.changed = asyncio.Event()
        self.stopping = False
        # The lobby as its events tell it, checked against every later lobby snapshot.
        self.players: dict[str, str] | None = None
        self.games: dict[str, Any] = {}
        self.mismatches: list[str] = []

    async def open(self) -> Wire:
        """A new connection."""
        wire = await Wire.open(
            self.world.url,
            self.on_event,
            logs=self.logs,
            logged=lambda topic: True,
            on_reply=self.on_reply,
        )
        self.wires.append(wire)
        return wire

    def on_event(self, frame: Frame) -> None:
        """Count, note new games, and keep the lobby model."""
        self.events += 1
        if frame["topic"] == "lobby":
            self.apply(frame["event"], frame["data"])
            if frame["event"] == "game_started" and self.follow_games:
                self.new_games.append(frame["data"]["id"])
        self.changed.set()

    def apply(self, event: str, data: dict[str, Any]) -> None:
        """One lobby event on the model."""
        if self.players is None:
            return
        if event in ("player_joined", "player_status"):
            self.players[data["name"]] = data["status"]
        elif event == "player_left":
            self.players.pop(data["name"], None)
        elif event in ("game_started", "game_updated"):
            self.games[data["id"]] = data
        elif event == "game_finished":
            self.games.pop(data["id"], None)

    def on_reply(self, op: str, fields: dict[str, Any], reply: Frame) -> None:
        """A lobby snapshot must match the model built from the events before it."""
        if op != "subscribe" or not reply["ok"] or reply["data"]["topic"] != "lobby":
            return
        snapshot = reply["data"]["snapshot"]
        if snapshot is None:
            return
        self.world.snapshots.append(snapshot)
        players = {p["name"]: p["status"] for p in snapshot["players"]}
        games = {g["id"]: g for g in snapshot["games"]}
        if self.players is not None and (players, games) != (self.players, self.games):
            self.mismatches.append(f"model {self.players} {self.games} != {players} {games}")
        self.players, self.games = players, games

    async def subscribe(self, topic: str) -> None:
        """Follow ``topic``: a game from its first event when ``from_zero``, else from now."""
        wire = self.wires[-1]
        if self.from_zero and topic.startswith("game:"):
            game = await self.world.rest.ok("GET", f"/api/games/{topic.removeprefix('game:')}")
            data = await wire.ok("subscribe", topic=topic, since=0, epoch=game["epoch"])
            assert data["recovered"], data
        else:
            await wire.ok("subscribe", topic=topic)

    async def run(self) -> None:
        """Follow until stopped; reconnect every few dozen events."""
        await self.open()
        await self.subscribe("lobby")
        budget = self.rng.randint(40, 120)
        while not self.stopping:
            while self.new_games:
                await self.subscribe(f"game:{self.new_games.pop(0)}")
            if self.events >= budget:
                await self.reconnect()
                budget = self.events + self.rng.randint(40, 120)
            self.changed.clear()
            if not (self.stopping or self.new_games or self.events >= budget):
                await self.changed.wait()
        await self.subscribe("lobby")  # a last snapshot against the model
        await self.wires[-1].close()

    async def reconnect(self) -> None:
        """Come back on a new connection and recover every topic from where it stopped."""
        old = self.wires[-1]
        await old.close()
        wire = await self.open()
        for topic, seq in old.seqs.items():
            data = await wire.ok("subscribe", topic=topic, since=seq, epoch=old.epochs[topic])
            assert data["recovered"], (topic, data)
            self.world.tally["spectator recovered"] += 1

    def stop(self) -> None:
        """Finish after the current step."""
        self.stopping = True
        self.changed.set()
