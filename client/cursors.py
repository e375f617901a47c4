"""Per-topic cursors: the client's recovery as a sans-I/O core (docs/protocol.md "Recovery").

Theory of operation
-------------------
The hub numbers each topic's events: ``seq`` rises by exactly 1 within an ``epoch``. A cursor keeps,
per topic, the epoch and the last seq handed out, and decides for every event frame what to do
with it (``Verdict``): hand it out, drop it as a duplicate, keep it until something it waits for
has come, or report a *gap*, a hole that nothing on its way will fill.

Frames wait in the cursor's buffer while the topic's subscribe is unanswered (its reply says where
the topic starts), while the client is holding everything back (reconnecting), and while a hole
below them is being filled by a catch-up the hub announced (``recovered: true`` up to the reply's
seq). Buffered frames go out in seq order as soon as nothing holds them.

Every ``Resume`` this core hands out is a ``subscribe`` it now waits for: the driver sends it and
reports the answer with ``subscribed`` or ``refused``. A gap's ``Resume`` is ``fresh``: the driver
unsubscribes first, because subscribing again to a topic the connection already has replays
nothing when ``since`` is at or after where that subscription started (the hub's rule), and a gap
always lies after that start.

Nothing here does I/O or reads a clock: the driver (``client.connection.HubClient``) feeds it
frames and replies and sends what it says, and tests feed it sequences directly.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from attrs import define, field, frozen

from client.frames import Item, Subscribed, SubscribeReply

__all__ = ["Cursor", "Cursors", "Effects", "Resume", "Step", "Verdict"]


class Verdict(enum.Enum):
    """What became of one event frame."""

    DELIVER = "deliver"  # next in order: handed out, with any buffered frames it unblocked
    DUPLICATE = "duplicate"  # at or below the last seq handed out, or already waiting: dropped
    WAIT = "wait"  # kept until its subscribe is answered, a catch-up fills the hole, or a release
    GAP = "gap"  # past a hole that nothing on its way fills: kept; ``Step.resume`` fills it


@frozen
class Resume:
    """A ``subscribe`` that brings a topic up to date: with ``since``/``epoch`` when known."""

    topic: str
    since: int | None = None
    epoch: str | None = None
    fresh: bool = False  # unsubscribe first, so that the hub replays from ``since``


@frozen
class Step:
    """The outcome of one event frame: its verdict, what to hand out now, what to send."""

    verdict: Verdict
    deliver: tuple[Item, ...] = ()
    resume: Resume | None = None


@frozen
class Effects:
    """What to do after a reply or a release: items to hand out, subscribes to send."""

    deliver: tuple[Item, ...] = ()
    send: tuple[Resume, ...] = ()

    def __add__(self, other: Effects) -> Effects:
        return Effects(self.deliver + other.deliver, self.send + other.send)


@define
class Cursor:
    """One topic's position."""

    epoch: str | None = None
    last: int | None = None  # the last seq handed out; None until the first event or reply
    pending: int = 0  # subscribes sent and not answered: events wait
    replay_until: int = 0  # the hub's catch-up reaches this seq: holes below it may fill
    arrived: int = 0  # the highest seq come since the last reply: holes below it never fill
    buffer: dict[int, Item] = field(factory=dict)


class Cursors:
    """Every topic's cursor, and the decisions made with them."""

    def __init__(self) -> None:
        self._topics: dict[str, Cursor] = {}
        self._holding = False

    def __contains__(self, topic: object) -> bool:
        return topic in self._topics

    def get(self, topic: str) -> Cursor | None:
        """The cursor of ``topic``, if the client follows it."""
        return self._topics.get(topic)

    @property
    def topics(self) -> list[str]:
        """The topics followed, in the order they were first seen."""
        return list(self._topics)

    # -- frames ---------------------------------------------------------------------------------

    def receive(self, frame: Item) -> Step:
        """Take one event frame (its ``topic`` a str, its ``seq`` an int) and decide."""
        topic, seq = frame["topic"], frame["seq"]
        data = frame.get("data")
        if frame.get("event") == "game_started" and isinstance(data, dict):
            # A seat is subscribed to its game before the game's first event; the game's epoch
            # comes only here, and it is what lets a reconnect replay the game topic.
            game_id, epoch = data.get("id"), data.get("epoch")
            if isinstance(game_id, str) and isinstance(epoch, str):
                cursor = self._topics.setdefault(f"game:{game_id}", Cursor())
                cursor.epoch = cursor.epoch or epoch
        cursor = self._topics.setdefault(topic, Cursor())
        if (cursor.last is not None and seq <= cursor.last) or seq in cursor.buffer:
            return Step(Verdict.DUPLICATE)
        cursor.buffer[seq] = frame
        if not cursor.pending:
            cursor.arrived = max(cursor.arrived, seq)
        out = self._drain(topic, cursor)
        if topic.startswith("game:") and any(i.get("event") == "game_over" for i in out.deliver):
            # A game topic's last event: the hub ends its subscriptions there, so this client
            # follows it no more (a reconnect does not subscribe to it again).
            del self._topics[topic]
        resume = out.send[0] if out.send else None
        if any(item is frame for item in out.deliver):
            return Step(Verdict.DELIVER, out.deliver, resume)
        if resume is not None:
            return Step(Verdict.GAP, out.deliver, resume)
        return Step(Verdict.WAIT, out.deliver)

    # -- subscribing ----------------------------------------------------------------------------

    def subscribing(self, topic: str, since: int | None = None, epoch: str | None = None) -> Resume:
        """The subscribe to send for ``topic``; a topic already followed resumes where it is."""
        cursor = self._topics.setdefault(topic, Cursor())
        if since is None and cursor.epoch is not None:
            since, epoch = cursor.last or 0, cursor.epoch
        if since is not None and epoch is not None:
            cursor.last = since
        else:
            since = epoch = None
        cursor.pending += 1
        return Resume(topic, since, epoch)

    def subscribed(self, topic: str, reply: SubscribeReply, *, internal: bool) -> Effects:
        """Take a subscribe's reply (``internal``: one of ours, so a snapshot is an item too)."""
        cursor = self._topics.setdefault(topic, Cursor())
        cursor.pending = max(0, cursor.pending - 1)
        epoch, seq = reply.get("epoch", cursor.epoch), reply.get("seq", 0)
        cursor.arrived = 0
        out: list[Item] = []
        if reply.get("recovered"):
            cursor.epoch = epoch
            cursor.replay_until = max(cursor.replay_until, seq)
        else:
            if epoch != cursor.epoch:
                cursor.buffer.clear()  # another epoch: nothing kept counts any more
            cursor.epoch, cursor.last, cursor.replay_until = epoch, seq, 0
            if internal:
                out.append(
                    {
                        "type": "snapshot",
                        "topic": topic,
                        "epoch": epoch,
                        "seq": seq,
                        "data": reply.get("snapshot"),
                    }
                )
        return Effects(tuple(out)) + self._drain(topic, cursor)

    def refused(self, topic: str, code: str, message: str, *, internal: bool) -> Effects:
        """A subscribe was refused: an internal one (a ``lost`` item), or a first one, drops it."""
        cursor = self._topics.get(topic)
        if cursor is None:
            return Effects()
        cursor.pending = max(0, cursor.pending - 1)
        if internal or cursor.last is None:
            del self._topics[topic]
        if not internal:
            return Effects()
        error = {"code": code, "message": message}
        return Effects(({"type": "lost", "topic": topic, "error": error},))

    def forget(self, topic: str) -> None:
        """The client unsubscribed from ``topic``."""
        self._topics.pop(topic, None)

    def authenticated(self, subscribed: Iterable[Subscribed], *, resync: bool) -> Effects:
        """Take the topics ``auth`` joined.

        A topic joined now starts at the reply's seq; one joined while the client was away (a
        ``resync``) is replayed whole by the subscribe that follows.
        """
        out = Effects()
        for entry in subscribed:
            topic = entry["topic"]
            cursor = self._topics.get(topic)
            if cursor is None:
                cursor = Cursor(last=None if resync else entry.get("seq"))
                self._topics[topic] = cursor
            cursor.epoch = cursor.epoch or entry.get("epoch")
            out += self._drain(topic, cursor)
        return out

    # -- the connection ---------------------------------------------------------------------------

    def lost(self) -> None:
        """The connection dropped: nothing is waited for on it any more, and frames are held."""
        self._holding = True
        for topic, cursor in list(self._topics.items()):
            cursor.buffer.clear()
            cursor.pending = 0
            cursor.replay_until = cursor.arrived = 0
            if cursor.last is None and cursor.epoch is None:
                del self._topics[topic]

    def resume(self) -> list[Resume]:
        """The subscribes to send on a new connection (after ``auth``): one per topic followed."""
        self._holding = True
        return [self.subscribing(topic) for topic in list(self._topics)]

    def release(self) -> Effects:
        """Stop holding frames back (the client is back): hand out what waited."""
        self._holding = False
        out = Effects()
        for topic, cursor in list(self._topics.items()):
            out += self._drain(topic, cursor)
        return out

    # -- handing out ------------------------------------------------------------------------------

    def _drain(self, topic: str, cursor: Cursor) -> Effects:
        out: list[Item] = []
        if self._holding or cursor.pending:
            return Effects()
        while cursor.buffer:
            if cursor.last is None:
                cursor.last = min(cursor.buffer) - 1
            following = cursor.last + 1
            if following in cursor.buffer:
                cursor.last = following
                out.append(cursor.buffer.pop(following))
                continue
            for seq in [s for s in cursor.buffer if s <= cursor.last]:
                del cursor.buffer[seq]
            if not cursor.buffer:
                break
            # A catch-up may still fill the hole, unless a frame past it came after the reply:
            # frames after a reply come in seq order, so the catch-up has gone by.
            hole = cursor.last + 1
            if hole <= cursor.replay_until and cursor.arrived < hole:
                break
            cursor.pending += 1  # the subscribe the gap's Resume asks for
            if cursor.epoch is None:
                return Effects(tuple(out), (Resume(topic),))
            return Effects(tuple(out), (Resume(topic, cursor.last, cursor.epoch, fresh=True),))
        return Effects(tuple(out))
