"""The lobby document keeps everything a node decides on (what the lobby's events last told
too), and the lobby view follows events."""

from __future__ import annotations

import json

import attrs
from hypothesis import given
from hypothesis import strategies as st

from hub.cluster.doc import LobbyDoc, copy, dump, load
from hub.cluster.view import LobbyView
from protocol.lobby import Challenge, Lobby, PlayerStatus, Ticket
from protocol.messages import encode_event
from protocol.pairing import Waiting

names = st.text("abcXYZ_-09", min_size=1, max_size=8)
ids = st.text("abcdef0123", min_size=4, max_size=12)
rules = st.sampled_from(["rps3", "rps5", "rps15"])
best_ofs = st.sampled_from([1, 3, 5, 7])

challenges = st.builds(Challenge, ids, names, names, best_ofs, rules, st.none() | ids)
tickets = st.builds(Ticket, names, rules, best_ofs)
waitings = st.builds(Waiting, names, st.integers(0, 3000), rules, best_ofs, st.integers(0, 2**45))


@st.composite
def docs(draw: st.DrawFn) -> LobbyDoc:
    active = draw(st.lists(names, unique_by=str.casefold, max_size=6))
    lobby = Lobby(
        active={n.casefold(): n for n in active},
        queue=[Ticket(n, draw(rules), draw(best_ofs)) for n in active[:2]],
        challenges={c.id: c for c in draw(st.lists(challenges, max_size=3))},
        live={n: draw(ids) for n in active[2:4]},
        announced={n: draw(st.sampled_from(list(PlayerStatus))) for n in active},
        announced_queue=draw(st.lists(tickets, max_size=3)),
    )
    entries = draw(st.lists(waitings, max_size=3))
    return LobbyDoc(
        lobby=lobby,
        entries={w.player: w for w in entries},
        conns={n: draw(st.lists(names, min_size=1, max_size=3)) for n in active[:3]},
    )


@given(docs())
def test_a_document_loads_back_to_what_was_dumped(doc: LobbyDoc) -> None:
    assert load(dump(doc)) == doc


def test_no_document_yet_is_an_empty_lobby() -> None:
    assert load(None) == LobbyDoc()


def frame(seq: int, event: str, data: object) -> bytes:
    return encode_event("lobby", seq, 1, event, data)


def test_the_view_follows_the_lobby_events_into_the_snapshot() -> None:
    view = LobbyView()
    view.apply(frame(1, "player_joined", {"name": "Bob", "status": "idle"}))
    view.apply(frame(2, "player_joined", {"name": "ann", "status": "idle"}))
    view.apply(frame(3, "queue", {"rules": "rps3", "best_of": 3, "waiting": 1}))
    view.apply(frame(4, "player_status", {"name": "ann", "status": "queued"}))
    summary = {"id": "g1", "players": ["Bob", "computer"], "spectators": 0}
    view.apply(frame(5, "game_started", summary))
    view.apply(frame(6, "game_updated", {**summary, "spectators": 2}))
    view.apply(frame(7, "player_left", {"name": "Bob"}))
    assert view.snapshot() == {
        "players": [{"name": "ann", "status": "queued"}],
        "games": [{**summary, "spectators": 2}],
        "queue": [{"rules": "rps3", "best_of": 3, "waiting": 1}],
    }
    view.apply(frame(8, "game_finished", summary))
    view.apply(frame(9, "queue", {"rules": "rps3", "best_of": 3, "waiting": 0}))
    assert view.snapshot()["games"] == [] and view.snapshot()["queue"] == []
    assert view.status("ANN") is PlayerStatus.QUEUED and view.status("bob") is None


def test_the_view_starts_from_the_document_and_the_summaries() -> None:
    lobby = Lobby(
        announced={"ann": PlayerStatus.PLAYING},
        announced_queue=[Ticket("cy", "rps5", 1), Ticket("di", "rps5", 1)],
    )
    doc = LobbyDoc(lobby=lobby)
    view = LobbyView()
    view.reset(doc, {"g1": json.dumps({"id": "g1"}).encode()})
    assert view.snapshot() == {
        "players": [{"name": "ann", "status": "playing"}],
        "games": [{"id": "g1"}],
        "queue": [{"rules": "rps5", "best_of": 1, "waiting": 2}],
    }


@given(docs())
def test_a_copy_is_the_same_document_and_changes_to_the_original_leave_it_alone(
    doc: LobbyDoc,
) -> None:
    copied = copy(doc)
    assert dump(copied) == dump(doc)
    kept = dump(copied)
    lobby = doc.lobby
    for name in attrs.fields_dict(Lobby):
        getattr(lobby, name).clear()  # every container of the lobby
    doc.entries.clear()
    for conns in doc.conns.values():
        conns.append("other|session")  # presence's lists change in place
    doc.conns["new"] = ["n|s"]
    assert dump(copied) == kept
