"""The WebSocket fuzzer's frames: what it writes (``Spec``, with ``Raw`` and ``Pick`` pieces),
what it has learnt from the hub (``Known``) and the id a reply must carry."""

from __future__ import annotations

import json
from typing import Any

from attrs import define, field, frozen

from tests.hub.wsclient import Frame

OPS = ("auth", "subscribe", "unsubscribe", "play", "accept", "decline", "cancel", "move", "resign")
MAX_FRAME = 65_536


@frozen
class Raw:
    """JSON text as is: numbers ``json.dumps`` never writes (4,400 digits, ``-0``, ``1e999``)."""

    text: str


@frozen
class Pick:
    """An id learnt while the example runs, chosen by ``slot`` when the frame is written.

    Strategies draw the slot, not the id, so what Hypothesis draws never depends on the hub.
    """

    bucket: str  # an attribute of ``Known``
    slot: int
    fallback: str  # used while the bucket is empty
    prefix: str = ""
    part: int | None = None  # of a tuple in the bucket


@frozen
class Spec:
    """A frame to write: a JSON value (with ``Raw`` and ``Pick`` pieces), or raw text."""

    value: Any
    ascii_only: bool = True


MISSING = object()  # a field left out of the frame


@define
class Known:
    """What the test has learnt so far: ids worth reusing in later frames."""

    player: str
    token: str
    other: str
    other_token: str
    games: list[str] = field(factory=list)
    challenges: list[str] = field(factory=list)
    epochs: list[str] = field(factory=list)
    streams: list[tuple[str, str]] = field(factory=list)  # (topic, epoch)
    live: str | None = None  # the player's live game

    def learn(self, frame: Frame) -> None:
        """Remember the ids, epochs and the live game that ``frame`` names."""
        data = frame.get("data")
        if not isinstance(data, dict):
            return
        event, topic = frame.get("event"), frame.get("topic")
        if isinstance(data.get("game"), str):  # a play or accept reply
            self.live = self._add(self.games, data["game"])
        if isinstance(data.get("challenge"), str):
            self._add(self.challenges, data["challenge"])
        if event == "challenge":
            self._add(self.challenges, data["id"])
        elif event == "game_started":
            self._add(self.games, data["id"])
            if topic == f"player:{self.player}":
                self.live = data["id"]
                self._add(self.streams, (f"game:{data['id']}", data["epoch"]))
        elif event == "game_over" and topic == f"game:{self.live}":
            self.live = None
        for sub in data.get("subscribed", []) if frame.get("type") == "reply" else []:
            self._add(self.streams, (sub["topic"], sub["epoch"]))
        if frame.get("type") == "reply" and {"topic", "epoch", "recovered"} <= set(data):
            self._add(self.streams, (data["topic"], data["epoch"]))
            self._add(self.epochs, data["epoch"])

    @staticmethod
    def _add(bucket: list[Any], item: Any) -> Any:
        if item not in bucket:
            bucket.append(item)
        return item

    def resolve(self, pick: Pick) -> str:
        """The id ``pick`` stands for: one of the latest learnt, or its fallback."""
        bucket = getattr(self, pick.bucket)
        if pick.bucket == "live":
            bucket = [bucket] if bucket is not None else self.games[-1:]
        elif isinstance(bucket, str):
            bucket = [bucket]
        if not bucket:
            return pick.prefix + pick.fallback
        item = bucket[-1 - pick.slot % min(len(bucket), 8)]
        return pick.prefix + (item if pick.part is None else item[pick.part])

    def render(self, spec: Spec) -> str:
        """The text of ``spec``'s frame."""
        if isinstance(spec.value, str):
            return spec.value
        text = self._dump(spec.value, spec.ascii_only)
        return text if encodable(text) else self._dump(spec.value, True)

    def _dump(self, value: Any, ascii_only: bool) -> str:
        if isinstance(value, Raw):
            return value.text
        if isinstance(value, Pick):
            value = self.resolve(value)
        if isinstance(value, dict):
            items = (
                f"{json.dumps(k, ensure_ascii=ascii_only)}:{self._dump(v, ascii_only)}"
                for k, v in value.items()
            )
            return "{" + ",".join(items) + "}"
        if isinstance(value, list):
            return "[" + ",".join(self._dump(v, ascii_only) for v in value) + "]"
        return json.dumps(value, ensure_ascii=ascii_only)


def encodable(text: str) -> bool:
    """True when ``text`` has no lone surrogate, so it can travel as UTF-8."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def expected_id(text: str) -> Any:
    """The id a reply to ``text`` must carry: the request's when readable, else None."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    rid = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(rid, bool) or not isinstance(rid, int | str):
        return None
    # A lone surrogate cannot be sent back in a UTF-8 frame: that id is unreadable.
    return rid if not isinstance(rid, str) or encodable(rid) else None
