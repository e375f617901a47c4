"""The recovery core (``client.cursors``), fed frames and replies directly: no hub, no I/O."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from client.cursors import Cursors, Effects, Resume, Verdict
from client.frames import Item, SubscribeReply

TOPIC = "game:g1"


def frame(seq: int, topic: str = TOPIC) -> Item:
    return {"type": "event", "topic": topic, "seq": seq, "ts": 0, "event": "moved", "data": {}}


def reply(epoch: str, seq: int, *, recovered: bool) -> SubscribeReply:
    return {"topic": TOPIC, "epoch": epoch, "seq": seq, "recovered": recovered, "snapshot": None}


def following(epoch: str = "e1", seq: int = 0, topic: str = TOPIC) -> Cursors:
    """Cursors subscribed to ``topic``, answered with a snapshot at ``seq``."""
    cursors = Cursors()
    cursors.subscribing(topic)
    cursors.subscribed(topic, reply(epoch, seq, recovered=False), internal=False)
    return cursors


def seqs(items: tuple[Item, ...] | list[Item]) -> list[int]:
    return [item["seq"] for item in items if item["type"] == "event"]


@given(st.data())
def test_any_interleaving_of_duplicates_and_reorders_delivers_each_seq_once_in_order(
    data: st.DataObject,
) -> None:
    n = data.draw(st.integers(1, 25), label="n")
    arrivals = data.draw(st.permutations(range(1, n + 1)), label="order")
    arrivals += data.draw(st.lists(st.integers(1, n), max_size=20), label="duplicates")
    arrivals = data.draw(st.permutations(arrivals), label="interleaving")
    cursors = following()
    delivered: list[int] = []
    waiting: list[Resume] = []

    def answer(resume: Resume) -> None:
        # The hub holds the whole topic: a fresh subscribe with since/epoch replays the rest.
        assert resume.fresh and resume.epoch == "e1" and resume.since is not None
        out = cursors.subscribed(TOPIC, reply("e1", n, recovered=True), internal=True)
        delivered.extend(seqs(out.deliver))
        for seq in range(resume.since + 1, n + 1):
            step = cursors.receive(frame(seq))
            delivered.extend(seqs(step.deliver))
            assert step.resume is None

    for seq in arrivals:
        step = cursors.receive(frame(seq))
        delivered.extend(seqs(step.deliver))
        if step.resume is not None:
            waiting.append(step.resume)
        answer_now = data.draw(st.booleans(), label="answer now")
        if waiting and answer_now:
            answer(waiting.pop(0))
        assert delivered == sorted(set(delivered))
    while waiting:
        answer(waiting.pop(0))
    assert delivered == list(range(1, n + 1))


@given(st.integers(2, 30).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n - 1))))
def test_a_hole_nothing_will_fill_is_a_gap_resumed_from_the_seq_before_it(
    case: tuple[int, int],
) -> None:
    n, missing = case
    cursors = following("e1")
    verdicts = {seq: cursors.receive(frame(seq)) for seq in range(1, n + 1) if seq != missing}
    assert all(verdicts[seq].verdict is Verdict.DELIVER for seq in range(1, missing))
    gap = verdicts[missing + 1]
    assert gap.verdict is Verdict.GAP
    assert gap.resume == Resume(TOPIC, since=missing - 1, epoch="e1", fresh=True)
    assert all(verdicts[seq].verdict is Verdict.WAIT for seq in range(missing + 2, n + 1))


@given(st.integers(0, 10), st.integers(0, 10), st.integers(1, 10))
def test_a_snapshot_in_another_epoch_starts_the_count_again(
    before: int, start: int, after: int
) -> None:
    cursors = following("e1")
    for seq in range(1, before + 1):
        cursors.receive(frame(seq))
    cursors.lost()
    [resume] = cursors.resume()
    assert (resume.since, resume.epoch) == (before, "e1")
    out = cursors.subscribed(TOPIC, reply("e2", start, recovered=False), internal=True)
    assert [(i["type"], i["epoch"], i["seq"]) for i in out.deliver] == [("snapshot", "e2", start)]
    assert cursors.release() == Effects()
    steps = [cursors.receive(frame(seq)) for seq in range(start + 1, start + after + 1)]
    assert [seqs(step.deliver) for step in steps] == [
        [seq] for seq in range(start + 1, start + after + 1)
    ]
    assert cursors.receive(frame(start)).verdict is Verdict.DUPLICATE


@given(st.integers(1, 20), st.integers(0, 20))
def test_a_seq_at_or_below_the_last_handed_out_is_a_duplicate(last: int, again: int) -> None:
    cursors = following()
    for seq in range(1, last + 1):
        cursors.receive(frame(seq))
    step = cursors.receive(frame(min(again, last)))
    assert step.verdict is Verdict.DUPLICATE
    assert step.deliver == ()


@given(st.dictionaries(st.sampled_from(["lobby", "game:a", "player:ann"]), st.integers(0, 9)))
def test_after_a_drop_every_topic_resumes_from_its_last_seq_and_epoch(
    lasts: dict[str, int],
) -> None:
    cursors = Cursors()
    for topic, last in lasts.items():
        cursors.subscribing(topic)
        answer = reply(f"epoch-{topic}", 0, recovered=False)
        cursors.subscribed(topic, answer, internal=False)
        for seq in range(1, last + 1):
            cursors.receive(frame(seq, topic))
    cursors.lost()
    assert cursors.resume() == [Resume(t, since=s, epoch=f"epoch-{t}") for t, s in lasts.items()]


@given(st.integers(0, 5), st.integers(1, 8))
def test_the_catch_up_waits_for_the_release_then_goes_out_in_order(last: int, missed: int) -> None:
    cursors = following()
    for seq in range(1, last + 1):
        cursors.receive(frame(seq))
    cursors.lost()
    cursors.resume()
    cursors.subscribed(TOPIC, reply("e1", last + missed, recovered=True), internal=True)
    steps = [cursors.receive(frame(seq)) for seq in reversed(range(last + 1, last + missed + 1))]
    assert {step.verdict for step in steps} == {Verdict.WAIT}
    assert seqs(cursors.release().deliver) == list(range(last + 1, last + missed + 1))


def test_a_topic_auth_joined_while_away_is_replayed_from_its_start() -> None:
    cursors = Cursors()
    cursors.authenticated([{"topic": "player:ann", "seq": 3, "epoch": "p1"}], resync=False)
    cursors.lost()
    joined = [
        {"topic": "player:ann", "seq": 5, "epoch": "p1"},
        {"topic": "game:new", "seq": 2, "epoch": "g1"},
    ]
    cursors.authenticated(joined, resync=True)  # type: ignore[arg-type]
    assert cursors.resume() == [
        Resume("player:ann", since=3, epoch="p1"),
        Resume("game:new", since=0, epoch="g1"),
    ]


def test_a_game_started_for_a_seat_lets_a_reconnect_replay_the_game_from_its_start() -> None:
    cursors = Cursors()
    cursors.authenticated([{"topic": "player:ann", "seq": 0, "epoch": "p1"}], resync=False)
    started = frame(1, "player:ann") | {"event": "game_started", "data": {"id": "g9", "epoch": "x"}}
    assert cursors.receive(started).verdict is Verdict.DELIVER
    cursors.lost()
    assert Resume("game:g9", since=0, epoch="x") in cursors.resume()


def test_a_refused_resubscribe_drops_the_topic_and_says_so() -> None:
    cursors = following()
    cursors.lost()
    cursors.resume()
    out = cursors.refused(TOPIC, "not_found", "no such game", internal=True)
    assert out.deliver == (
        {"type": "lost", "topic": TOPIC, "error": {"code": "not_found", "message": "no such game"}},
    )
    assert TOPIC not in cursors


class OneTopicOverFlakyConnections(RuleBasedStateMachine):
    """A hub that keeps a topic's whole history, a connection that drops or loses a frame.

    Whatever happens, the client hands out each seq once, in order, with no hole; and it reports a
    gap only after a frame was lost.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cursors = Cursors()
        self.latest = 0  # the hub's latest seq
        self.wire: list[tuple[str, int]] = []  # ("event", seq) or ("reply", seq), in order
        self.subscribed = True
        self.resyncing = False  # replies of a reconnect are being answered: hold until release
        self.delivered: list[int] = []
        self.lost_frames = 0
        self.cursors.subscribing(TOPIC)
        self.cursors.subscribed(TOPIC, reply("e1", 0, recovered=False), internal=False)

    def take(self, effects: Effects) -> None:
        self.delivered += seqs(effects.deliver)
        for resume in effects.send:
            self.resubscribe(resume)

    def resubscribe(self, resume: Resume) -> None:
        # The hub answers a subscribe with since/epoch from its whole history: recovered.
        assert resume.since is not None and resume.epoch == "e1"
        self.wire.append(("reply", self.latest))
        self.wire += [("event", seq) for seq in range(resume.since + 1, self.latest + 1)]
        self.subscribed = True

    @rule()
    def publish(self) -> None:
        self.latest += 1
        if self.subscribed:
            self.wire.append(("event", self.latest))

    @precondition(lambda self: bool(self.wire))
    @rule()
    def read(self) -> None:
        kind, seq = self.wire.pop(0)
        if kind == "reply":
            self.take(
                self.cursors.subscribed(TOPIC, reply("e1", seq, recovered=True), internal=True)
            )
            return
        step = self.cursors.receive(frame(seq))
        assert step.verdict is not Verdict.GAP or self.lost_frames
        if step.resume is not None:
            assert step.resume.fresh
            self.subscribed = False  # the unsubscribe that comes first
        self.take(Effects(step.deliver, (step.resume,) if step.resume else ()))

    @precondition(lambda self: any(kind == "event" for kind, _ in self.wire))
    @rule()
    def lose_a_frame(self) -> None:
        index = next(i for i, (kind, _) in enumerate(self.wire) if kind == "event")
        del self.wire[index]
        self.lost_frames += 1

    @precondition(lambda self: not self.resyncing)
    @rule()
    def drop_and_reconnect(self) -> None:
        self.wire.clear()
        self.cursors.lost()
        self.resyncing = True
        for resume in self.cursors.resume():
            self.resubscribe(resume)

    @precondition(lambda self: self.resyncing and not any(k == "reply" for k, _ in self.wire))
    @rule()
    def back(self) -> None:
        self.resyncing = False
        self.take(self.cursors.release())

    @invariant()
    def each_seq_once_in_order_without_a_hole(self) -> None:
        assert self.delivered == list(range(1, len(self.delivered) + 1))

    def teardown(self) -> None:
        # A lost frame shows as a hole only when a later one comes: publish one more, then read all.
        self.publish()
        while self.wire or self.resyncing:
            if self.resyncing and not any(kind == "reply" for kind, _ in self.wire):
                self.back()
            else:
                self.read()
        assert self.delivered == list(range(1, self.latest + 1))


test_one_topic_over_flaky_connections_hands_out_every_seq_once_in_order = (
    OneTopicOverFlakyConnections.TestCase
)


def test_a_game_topic_is_followed_no_more_after_its_game_over() -> None:
    cursors = following()
    cursors.subscribing("player:ann")
    cursors.subscribed("player:ann", reply("p1", 0, recovered=False), internal=False)
    assert cursors.receive(frame(1)).verdict is Verdict.DELIVER
    over = {**frame(2), "event": "game_over", "data": {"winner": "ann"}}
    step = cursors.receive(over)
    assert step.verdict is Verdict.DELIVER and [i["event"] for i in step.deliver] == ["game_over"]
    assert cursors.topics == ["player:ann"]
    cursors.lost()
    assert [r.topic for r in cursors.resume()] == ["player:ann"]  # not the finished game


def test_a_game_over_waiting_behind_a_gap_ends_the_topic_only_once_delivered() -> None:
    cursors = following()
    over = {**frame(3), "event": "game_over", "data": {}}
    step = cursors.receive(over)  # seqs 1 and 2 missing: a catch-up is asked for
    assert step.verdict is Verdict.GAP and step.resume is not None
    assert TOPIC in cursors
    caught_up = cursors.subscribed(TOPIC, reply("e1", 3, recovered=True), internal=True)
    delivered = seqs(caught_up.deliver)
    delivered += seqs(cursors.receive(frame(1)).deliver)
    assert TOPIC in cursors
    delivered += seqs(cursors.receive(frame(2)).deliver)
    assert delivered == [1, 2, 3]
    assert TOPIC not in cursors
