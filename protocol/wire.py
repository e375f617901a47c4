"""JSON forms of games, summaries and game events (docs/protocol.md, "The game object", events)."""

from __future__ import annotations

import json.encoder
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from protocol.game import Effect, Game, GameOver, Moved, Round, RoundOpened, RoundPlayed
from protocol.messages import encode_data

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A JSON string as ``encode_data`` writes one (``ensure_ascii=False``).
json_string: Callable[[str], str] = json.encoder.encode_basestring


def iso(ms: int | None) -> str | None:
    """Unix milliseconds as ISO-8601 UTC with ``Z`` (millisecond precision)."""
    if ms is None:
        return None
    # Integer arithmetic: ms / 1000 as a float loses the milliseconds for far-off dates.
    stamp = (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def round_json(r: Round) -> dict[str, Any]:
    """One resolved round as stored in a game's ``rounds``."""
    out: dict[str, Any] = {"round": r.round, "moves": dict(r.moves), "winner": r.winner}
    if r.commitment is not None:
        out["commitment"] = r.commitment
        out["nonce"] = r.nonce
    return out


def summary_json(game: Game) -> dict[str, Any]:
    """A game without its rounds, deadline, commitment and epoch (``level`` only against the
    computer)."""
    return {
        "id": game.id,
        "rules": game.rules.name,
        "best_of": game.best_of,
        "players": list(game.players),
        "status": game.status.value,
        "reason": game.reason.value if game.reason else None,
        "winner": game.winner,
        "score": dict(game.score),
        "round": game.round,
        "started": iso(game.started),
        "finished": iso(game.finished),
        **({"level": game.level} if game.against_computer else {}),
    }


def game_json(game: Game) -> dict[str, Any]:
    """The whole game as REST and snapshots show it."""
    out = summary_json(game)
    out["deadline"] = iso(game.deadline)
    out["commitment"] = game.commitment
    out["epoch"] = game.epoch
    out["rounds"] = [round_json(r) for r in game.rounds]
    if game.rating_change is not None:
        out["rating_change"] = dict(game.rating_change)
    return out


def effect_event(effect: Effect) -> tuple[str, dict[str, Any]]:
    """The game-topic event (name, data) that announces an effect."""
    if isinstance(effect, RoundOpened):
        deadline = None if effect.deadline is None else iso(effect.deadline)
        data: dict[str, Any] = {"round": effect.round, "deadline": deadline}
        if effect.commitment is not None:
            data["commitment"] = effect.commitment
        return "round_open", data
    if isinstance(effect, Moved):
        return "moved", {"round": effect.round, "player": effect.player}
    if isinstance(effect, RoundPlayed):
        r = effect.result
        data = {"round": r.round, "moves": dict(r.moves), "winner": r.winner, "score": effect.score}
        if r.nonce is not None:
            data["nonce"] = r.nonce
        return "round", data
    assert isinstance(effect, GameOver)
    return "game_over", {
        "winner": effect.winner,
        "reason": effect.reason.value,
        "score": effect.score,
    }


def effect_event_text(effect: Effect) -> tuple[str, dict[str, Any], str]:
    """``effect_event`` with its data's JSON text (``encode_data``'s bytes): the three events of
    every move (``moved``, ``round``, ``round_open``) are written without the JSON encoder."""
    if isinstance(effect, Moved):
        data: dict[str, Any] = {"round": effect.round, "player": effect.player}
        return "moved", data, f'{{"round":{effect.round},"player":{json_string(effect.player)}}}'
    if isinstance(effect, RoundOpened):
        deadline = None if effect.deadline is None else iso(effect.deadline)
        data = {"round": effect.round, "deadline": deadline}
        text = f'{{"round":{effect.round},"deadline":'
        text += "null" if deadline is None else json_string(deadline)
        if effect.commitment is None:
            return "round_open", data, text + "}"
        data["commitment"] = effect.commitment
        return "round_open", data, f'{text},"commitment":{json_string(effect.commitment)}}}'
    if isinstance(effect, RoundPlayed):
        r, score = effect.result, effect.score
        data = {"round": r.round, "moves": dict(r.moves), "winner": r.winner, "score": score}
        if r.nonce is not None:
            data["nonce"] = r.nonce
        return "round", data, _played_text(r, score) or encode_data(data)
    name, data = effect_event(effect)
    return name, data, encode_data(data)


def _played_text(r: Round, score: dict[str, int]) -> str | None:
    """A ``round`` event's data as ``encode_data`` writes it, written directly when its moves
    and score are two seats' (always, from the core): 0.9 us against the encoder's 1.8; else
    None."""
    if len(r.moves) != 2 or len(score) != 2:
        return None
    (a, ra), (b, rb) = r.moves.items()
    (sa, na), (sb, nb) = score.items()
    if type(na) is not int or type(nb) is not int:  # a bool (or an int subclass) is not
        return None  # written as the encoder would
    ma = "null" if ra is None else json_string(ra)
    mb = "null" if rb is None else json_string(rb)
    winner = "null" if r.winner is None else json_string(r.winner)
    text = (
        f'{{"round":{r.round},"moves":{{{json_string(a)}:{ma},{json_string(b)}:{mb}}},'
        f'"winner":{winner},"score":{{{json_string(sa)}:{na},{json_string(sb)}:{nb}}}'
    )
    return text + ("}" if r.nonce is None else f',"nonce":{json_string(r.nonce)}}}')


class TextEvent(Protocol):
    """An event with its data already encoded (``storage.base.StoredEvent``)."""

    @property
    def seq(self) -> int: ...
    @property
    def ts(self) -> int: ...
    @property
    def event(self) -> str: ...
    @property
    def text(self) -> str: ...


def encode_events_text(topic: str, events: Iterable[TextEvent]) -> list[bytes]:
    """``encode_event_text`` of each of a topic's events, the topic encoded once: a move's
    events in one call (the same bytes)."""
    head = f'{{"type":"event","topic":{json_string(topic)},"seq":'
    out = []  # a loop, not a list comprehension: one Python call less
    for e in events:
        out.append(
            f'{head}{e.seq},"ts":{e.ts},"event":{json_string(e.event)},"data":{e.text}}}'.encode()
        )
    return out
