"""Games as the scenarios play them, and the checks every game must pass at the end.

``Seat`` is one player's side of a game on some connection; ``move`` sends a move naming its
round and records it in ``acked`` when the hub answers yes, after checking that the reply came
after the events the move caused on that connection.  ``check_game`` compares what watchers saw
with what the hub stored: every node's ``GET /api/games/{id}`` alike, a replay from seq 0 on every
slot byte for byte equal to the live events, and the rounds and end the events announced equal to
the stored ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from attrs import define, field

from tests.cluster.harness_clients import TIMEOUT, Clients, Conn, Seen

RPS3_BEATS = {"Rock": "Scissors", "Paper": "Rock", "Scissors": "Paper"}
Move = tuple[str, str, int, str]  # player, game, round, roll


@define
class Acks:
    """Every move the hub acknowledged, as (player, game, round, roll)."""

    moves: list[Move] = field(factory=list)

    def add(self, player: str, game: str, round_: int, roll: str) -> None:
        """Record one acknowledged move."""
        self.moves.append((player, game, round_, roll))

    async def lost(self, clients: Clients, slot: int = 0) -> list[Move]:
        """The acknowledged moves that the stored games (read on ``slot``) do not hold."""
        games: dict[str, Any] = {}
        missing = []
        for player, game_id, round_, roll in self.moves:
            if game_id not in games:
                games[game_id] = await clients.get(slot, f"/api/games/{game_id}")
            rounds = games[game_id]["rounds"]
            stored = rounds[round_ - 1]["moves"].get(player) if round_ <= len(rounds) else None
            if stored is None or stored.lower() != roll.lower():
                missing.append((player, game_id, round_, roll))
        return missing


def before(conn: Conn, reply: Seen, topic: str, event: str, match: Any = None) -> Seen:
    """The event of ``topic`` named ``event`` (data matching) that came before ``reply``."""
    for seen in conn.frames[: reply.at]:
        f = seen.frame
        if (
            f["type"] == "event"
            and f["topic"] == topic
            and f["event"] == event
            and (match is None or all(seen.data.get(k) == v for k, v in match.items()))
        ):
            return seen
    raise AssertionError(
        f"{conn.label}: no {event} {match or ''} on {topic} before the reply {reply.raw}"
    )


async def joined(lobby: Conn, *names: str) -> None:
    """Wait until ``lobby`` has had a ``player_joined`` for each of ``names``."""
    want = set(names)
    await lobby.until(
        lambda conn: want <= {s.data["name"] for s in conn.events("lobby", "player_joined")},
        f"player_joined for {sorted(want)}",
    )


async def challenge_and_accept(a: Conn, b: Conn, **play: Any) -> str:
    """``a`` challenges ``b``, ``b`` accepts; checks what came before each reply; the game id."""
    assert a.player and b.player
    challenge = (await a.ok("play", opponent=b.player, **play))["challenge"]
    await b.wait_event(f"player:{b.player}", "challenge", lambda d: d["id"] == challenge)
    reply = await b.request("accept", challenge=challenge)
    assert reply.frame["ok"], reply.raw
    game: str = reply.data["game"]
    before(b, reply, f"player:{b.player}", "game_started", {"id": game})
    before(b, reply, f"game:{game}", "round_open", {"round": 1})
    await a.wait_event(f"player:{a.player}", "game_started", lambda d: d["id"] == game)
    await a.wait_event(f"game:{game}", "round_open", lambda d: d["round"] == 1)
    return game


async def move(
    conn: Conn,
    game: str,
    round_: int,
    roll: str,
    acks: Acks | None = None,
    *,
    check: bool = True,
) -> Seen:
    """Move ``roll`` in round ``round_``; on success checks the reply followed the move's events.

    A move that completed the round must come after that round's ``round`` event; any other
    after its own ``moved`` event.  ``check=False`` for a move sent again (its events may have
    come on a connection that is gone, and a repeat causes none).  The reply is returned.
    """
    reply = await conn.request("move", game=game, roll=roll, round=round_)
    if not reply.frame["ok"]:
        return reply
    assert reply.data == {"round": round_}, reply.raw
    if acks is not None:
        assert conn.player is not None
        acks.add(conn.player, game, round_, roll)
    if not check:
        return reply
    topic = f"game:{game}"
    resolved = [
        s for s in conn.events(topic, "round") if s.data["round"] == round_ and s.at < reply.at
    ]
    if not resolved:
        before(conn, reply, topic, "moved", {"round": round_, "player": conn.player})
    return reply


async def play_round(first: Conn, second: Conn, game: str, round_: int, rolls: tuple[str, str],
                     acks: Acks | None = None) -> Seen:  # fmt: skip
    """Both seats move (``first`` first); the ``round`` event, as ``second`` saw it."""
    for conn, roll in ((first, rolls[0]), (second, rolls[1])):
        reply = await move(conn, game, round_, roll, acks)
        assert reply.frame["ok"], reply.raw
    await first.wait_event(f"game:{game}", "round", lambda d: d["round"] == round_)
    return await second.wait_event(f"game:{game}", "round", lambda d: d["round"] == round_)


async def game_over(conn: Conn, game: str, within: float = TIMEOUT) -> Seen:
    """The ``game_over`` event of ``game`` on ``conn``."""
    return await conn.wait_event(f"game:{game}", "game_over", within=within)


class Watcher(Protocol):
    """A connection, or a player's chain of them: what it saw of a topic, and its name."""

    @property
    def label(self) -> str:
        """Its name in failure messages."""
        ...

    def seen(self, topic: str, event: str | None = None) -> list[Seen]:
        """The events of ``topic`` it had, once each, in order."""
        ...

    async def reach(self, topic: str, seq: int, *, within: float = TIMEOUT) -> None:
        """Wait until it has had ``topic``'s events up to ``seq``."""
        ...


async def check_game(
    clients: Clients, game: str, watchers: Sequence[Watcher], slots: Iterable[int]
) -> Any:
    """Every invariant of a finished game; returns the stored game.

    - ``GET /api/games/{id}`` answers the same finished game on every slot;
    - a new spectator on every slot that subscribes with ``since`` 0 gets the whole history,
      seqs 1..N once each, the same bytes as every live connection had (the ledger checks);
    - each of ``watchers`` (following the topic from seq 0) had exactly those events, in the
      end (waiting ``TIMEOUT`` for the last ones);
    - the ``round`` events and ``game_over`` say what the stored rounds and result say.
    """
    slots = list(slots)
    topic = f"game:{game}"
    stored = [await clients.get(s, f"/api/games/{game}") for s in slots]
    assert all(g == stored[0] for g in stored), stored
    final = stored[0]
    assert final["status"] == "finished", final
    replays = []
    for slot in slots:
        spectator = await clients.connect(slot, f"replay[{game}]")
        data = await spectator.subscribe(topic, 0, final["epoch"])
        assert data["recovered"] is True and data["snapshot"] is None, data
        await spectator.reach(topic, data["seq"])
        replays.append([s.raw for s in spectator.events(topic)])
        await spectator.close()
    assert all(r == replays[0] for r in replays), "replays differ between slots"
    history = replays[0]
    events = [json.loads(raw) for raw in history]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), events
    for watcher in watchers:
        await watcher.reach(topic, len(history))
        seen = [s.raw for s in watcher.seen(topic)]
        assert seen == history, f"{watcher.label} saw {seen}, the replay {history}"
    _matches(final, events)
    return final


def _matches(game: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """The events' rounds and end equal the stored game's."""
    rounds = [e["data"] for e in events if e["event"] == "round"]
    assert [r["round"] for r in rounds] == [r["round"] for r in game["rounds"]], (rounds, game)
    for said, kept in zip(rounds, game["rounds"], strict=True):
        assert said["moves"] == kept["moves"] and said["winner"] == kept["winner"], (said, kept)
    (over,) = [e["data"] for e in events if e["event"] == "game_over"]
    assert (over["winner"], over["reason"], over["score"]) == (
        game["winner"], game["reason"], game["score"],
    ), (over, game)  # fmt: skip
    assert events[-1]["event"] == "game_over", events[-1]


def fold_lobby(snapshot: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The lobby snapshot that ``events`` (in seq order) make of ``snapshot``."""
    players = {p["name"]: p["status"] for p in snapshot["players"]}
    games = {g["id"]: _steady(g) for g in snapshot["games"]}
    pools = {(q["rules"], q["best_of"]): q["waiting"] for q in snapshot.get("queue", [])}
    for e in events:
        name, data = e["event"], e["data"]
        if name in ("player_joined", "player_status"):
            players[data["name"]] = data["status"]
        elif name == "player_left":
            players.pop(data["name"], None)
        elif name in ("game_started", "game_updated"):
            games[data["id"]] = _steady(data)
        elif name == "game_finished":
            games.pop(data["id"], None)
        elif name == "queue":
            pools[(data["rules"], data["best_of"])] = data["waiting"]
    return {
        "players": [{"name": n, "status": players[n]} for n in sorted(players, key=str.casefold)],
        "games": games,
        "queue": [
            {"rules": r, "best_of": b, "waiting": w} for (r, b), w in sorted(pools.items()) if w
        ],
    }


async def check_lobby(clients: Clients, lobbies: list[Conn], slots: Iterable[int]) -> int:
    """Every node's lobby agrees: one epoch, the same events, and snapshots that fit them.

    Each of ``lobbies`` subscribed to ``lobby`` from a snapshot.  A new subscriber on every slot
    takes a snapshot; each is checked against the first lobby's snapshot folded with the events
    up to its seq, once every lobby has had them.  Returns the latest seq checked.
    """
    epochs = {conn.subs["lobby"].epoch for conn in lobbies}
    assert len(epochs) == 1, f"the lobby has several epochs: {epochs}"
    taken = []
    for slot in slots:
        fresh = await clients.connect(slot, "lobby-snapshot")
        taken.append(await fresh.subscribe("lobby"))
        await fresh.close()
    assert {t["epoch"] for t in taken} == epochs, (taken, epochs)
    latest: int = max(t["seq"] for t in taken)
    for conn in lobbies:
        await conn.wait(
            lambda s: s.frame.get("topic") == "lobby" and s.frame["seq"] >= latest,
            f"lobby seq {latest}",
        )
    replies = [conn.frames[reply_of(conn, "lobby")] for conn in lobbies]
    bases = [r.data for r in replies]
    assert bases[0]["snapshot"] is not None, f"{lobbies[0].label} recovered: no snapshot to fold"
    common = max(
        b["seq"] if b["snapshot"] is not None else conn.asked(r.frame["id"])["since"]
        for conn, r, b in zip(lobbies, replies, bases, strict=True)
    )
    upto = [[s for s in conn.events("lobby") if s.frame["seq"] <= latest] for conn in lobbies]
    raws = [[s.raw for s in seen if s.frame["seq"] > common] for seen in upto]
    assert all(r == raws[0] for r in raws), "the lobby's events differ between nodes"
    events = [s.frame for s in upto[0]]
    for t in taken:
        want = fold_lobby(bases[0]["snapshot"], [e for e in events if e["seq"] <= t["seq"]])
        got = fold_lobby(t["snapshot"], [])
        assert got == want, f"the snapshot at seq {t['seq']} {got} != the events' {want}"
    return latest


def _steady(summary: dict[str, Any]) -> dict[str, Any]:
    """What a live game's lobby summary says that no held-back ``game_updated`` changes."""
    return {k: summary[k] for k in ("id", "players", "rules", "best_of", "status")}


def reply_of(conn: Conn, topic: str) -> int:
    """The position of the reply to ``conn``'s first subscription to ``topic``."""
    for seen in conn.frames:
        data = seen.data
        if seen.frame["type"] == "reply" and isinstance(data, dict) and data.get("topic") == topic:
            return seen.at
    raise AssertionError(f"{conn.label} never subscribed to {topic}")
