"""What the SQL backends share: games as rows and back, name keys, limits and page cursors.

Both backends store the same tables, so a game is turned into a ``games`` row (and its rounds and
events into rows) here, and rebuilt from any row that reads columns by name (``sqlite3.Row`` and
``asyncpg.Record`` both do).  The opaque cursor format lives here too, so a cursor means the same
page on every backend.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from protocol.errors import BadMessage
from protocol.game import COMPUTER, Game, Reason, Round, Secret, Status
from protocol.ratings import Rating
from protocol.rules import builtin_rules
from storage.base import (
    BadCursor,
    Leader,
    PlayerRecord,
    RatingUpdate,
    StorageError,
    StoredEvent,
)

# What a save of a game still playing can change: every other column of its row changes only
# when the game ends (``protocol.game``), among them every indexed one but, on SQLite, the due
# time's (``games_due``).  PostgreSQL indexes none of these, so that a move's update there is
# HOT (``storage.postgres_schema``, migration 8).
PLAYING_FIELDS = (
    "score_a",
    "score_b",
    "round",
    "deadline",
    "secret_roll",
    "secret_nonce",
    "pending",
    "idle_until",
)

# A save of a game still playing stores ``PLAYING_FIELDS`` and nothing else of its row
# (``playing_row``): their values in this order, then the seq of its last event (None keeps the
# stored one), its id, and the seq the stored row must still have (None: any).
PLAYING_ROW = (*PLAYING_FIELDS, "seq", "id", "expected")

GAME_FIELDS = [
    "id",
    "rules",
    "best_of",
    "player_a",
    "player_b",
    "status",
    "reason",
    "winner",
    "score_a",
    "score_b",
    "round",
    "deadline",
    "round_seconds",
    "secret_roll",
    "secret_nonce",
    "pending",
    "epoch",
    "started",
    "finished",
    "idle_seconds",
    "idle_until",
    "rating_change",
    "level",
]


class Row(Protocol):
    """A database row whose columns are read by name."""

    def __getitem__(self, key: str, /) -> Any:
        """The value of column ``key``."""


# Games the legacy API started before games had an idle limit: live, against the computer, without
# deadlines, under a uuid (other games' ids are 12 characters). Migrations give them 10 min.
LEGACY_IDLE_BACKFILL = """UPDATE games SET idle_seconds = 600
    WHERE status = 'playing' AND player_b = 'computer' AND round_seconds = 0
      AND id LIKE '________-____-____-____-____________'"""


# One live game per player (SPEC section 6): each human seat of a live game, oldest game first
# when old data holds a player in two (the newer one keeps no seat).  Names are ASCII, so lower()
# is casefold() on both backends.
LIVE_SEATS_BACKFILL = f"""INSERT INTO live_seats (player, game_id)
    SELECT player, id FROM (
        SELECT lower(player_a) AS player, id, started FROM games WHERE status = 'playing'
        UNION ALL
        SELECT lower(player_b) AS player, id, started FROM games WHERE status = 'playing'
    ) AS seats
    WHERE player <> '{COMPUTER}'
    ORDER BY started, id
    ON CONFLICT (player) DO NOTHING"""

# A game's seq is its topic's last event's, which every save keeps; a row that disagrees (written
# by hand) would refuse every compare-and-set save, so the migration that brings them sets it.
_LAST_EVENT = "(SELECT COALESCE(MAX(e.seq), 0) FROM game_events AS e WHERE e.game_id = games.id)"
SEQ_BACKFILL = f"UPDATE games SET seq = {_LAST_EVENT} WHERE seq <> {_LAST_EVENT}"

# When a live game next has something due: its round's deadline or its idle limit, the earlier
# (NULL when it has neither), spelled alike on both backends.  SQLite's index of the games due
# (``games_due``) is made on this very text, so a query must spell it the same to use it.
DUE = "CASE WHEN idle_until IS NULL OR deadline < idle_until THEN deadline ELSE idle_until END"


def key(name: str) -> str:
    """The form a name is unique and ordered in."""
    return name.casefold()


def storable(text: str) -> bool:
    """True when every backend can store ``text``: UTF-8 without NUL (PostgreSQL's text refuses
    NUL, and neither backend takes a lone surrogate); a lookup by any other key finds nothing."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_limit(limit: int) -> None:
    """Refuse a page size below 1 (SQLite would read a negative LIMIT as "no limit")."""
    if limit < 1:
        raise BadMessage(f"field 'limit' must be 1 or more, not {limit}")


def check_status(status: str) -> None:
    """Refuse a status filter that is not a game status."""
    if status not in {s.value for s in Status}:
        raise BadMessage(f"field 'status' must be playing or finished, not {status!r}")


def player_record(row: Row) -> PlayerRecord:
    """A ``players`` row as a record."""
    return PlayerRecord(
        id=row["id"],
        name=row["name"],
        created=row["created"],
        has_token=bool(row["has_token"]),
        rating=rating(row),
        rated=row["rated"],
    )


def rating(row: Row) -> Rating:
    """The ``rating``, ``deviation`` and ``volatility`` columns of a row as a rating."""
    return Rating(value=row["rating"], deviation=row["deviation"], volatility=row["volatility"])


def rating_rows(game: Game, ratings: Iterable[RatingUpdate]) -> list[tuple[Any, ...]]:
    """A rated game's new ratings as ``(name_key, rating, deviation, volatility, rated, game_id,
    ts)`` rows: ``rated`` is the count the ratings before were read at, ``ts`` the game's end."""
    return [
        (
            key(u.player),
            u.rating.value,
            u.rating.deviation,
            u.rating.volatility,
            u.rated,
            game.id,
            game.finished,
        )
        for u in ratings
    ]


def leader(row: Row) -> Leader:
    """A leaderboard row (with the player's ``id`` and ``created``) as a record."""
    return Leader(
        name=row["name"], wins=row["wins"], games=row["games"], id=row["id"], created=row["created"]
    )


def stored_events(row: Row, after: int) -> list[StoredEvent]:
    """The events of a ``game_events`` row (``event_rows``) with seq above ``after``."""
    seq, ts, names = row["seq"], row["ts"], row["event"]
    if "," not in names:
        text = row["data"]
        return [StoredEvent(seq, ts, names, json.loads(text), text)] if seq > after else []
    return [
        StoredEvent(n, ts, name, json.loads(text), text)
        for n, name, text in zip(
            range(seq, seq + names.count(",") + 1),
            names.split(","),
            row["data"].split("\n"),
            strict=True,
        )
        if n > after
    ]


def json_list(values: list[str]) -> str:
    """``values`` as a JSON array (a list parameter where a backend has no array type)."""
    return json.dumps(values)


def event_rows(game_id: str, events: Sequence[StoredEvent]) -> list[tuple[Any, ...]]:
    """Events as ``(game_id, seq, ts, event, data)`` rows: the events of one time (a change
    makes its events at once) in one row, of the first one's ``seq``, their names joined by
    commas (``storage.writer`` refuses a name with one) and their JSON texts by line breaks (a
    text of the hub's encoder has none; one that has is a row of its own, read whole).  A
    move's three events are one row to insert and one index entry, not three.  Rows of one
    event each (all that versions before SQLite's migration 9 and PostgreSQL's 7 wrote) are
    rows of this form too."""
    if len(events) == 1:
        e = events[0]
        return [(game_id, e.seq, e.ts, e.event, e.text)]
    rows: list[tuple[Any, ...]] = []
    run: list[StoredEvent] = []
    for e in events:
        alone = "\n" in e.text
        if run and (alone or e.ts != run[0].ts):
            rows.append(_run_row(game_id, run))
            run = []
        run.append(e)
        if alone:
            rows.append(_run_row(game_id, run))
            run = []
    if run:
        rows.append(_run_row(game_id, run))
    return rows


def _run_row(game_id: str, run: list[StoredEvent]) -> tuple[Any, ...]:
    first = run[0]
    if len(run) == 1:
        return (game_id, first.seq, first.ts, first.event, first.text)
    return (
        game_id,
        first.seq,
        first.ts,
        ",".join([e.event for e in run]),
        "\n".join([e.text for e in run]),
    )


def game_row(
    game: Game, events: Sequence[StoredEvent], *, keep_seq: bool = False
) -> dict[str, Any]:
    """A game's ``games`` row by column; ``seq`` is the last event's (None keeps the stored one).
    The columns a move can change are ``playing_row``'s values, made there only."""
    a, b = game.players
    seq: int | None = events[-1].seq if events else (None if keep_seq else 0)
    row = {
        "id": game.id,
        "rules": game.rules.name,
        "best_of": game.best_of,
        "player_a": a,
        "player_b": b,
        "status": game.status.value,
        "reason": game.reason.value if game.reason else None,
        "winner": game.winner,
        "round_seconds": game.round_seconds,
        "epoch": game.epoch,
        "started": game.started,
        "finished": game.finished,
        "idle_seconds": game.idle_seconds,
        "rating_change": None if game.rating_change is None else json.dumps(game.rating_change),
        "level": game.level,
        "seq": seq,
    }
    playing = playing_row(game, events, None)[: len(PLAYING_FIELDS)]
    row.update(zip(PLAYING_FIELDS, playing, strict=True))
    return row


def save_row(
    game: Game, events: Sequence[StoredEvent], *, create: bool, expected: int | None
) -> dict[str, Any] | tuple[Any, ...]:
    """What of the ``games`` row a save stores: for an update of a game still playing, the
    ``playing_row``; else the whole ``game_row`` (an update without events keeps the stored seq)
    and, for an update, ``expected``: the seq the stored row must still have (None: any)."""
    if not create and game.status is Status.PLAYING:
        return playing_row(game, events, expected)
    row = game_row(game, events, keep_seq=not create)
    if not create:
        row["expected"] = expected
    return row


def playing_row(game: Game, events: Sequence[StoredEvent], expected: int | None) -> tuple[Any, ...]:
    """An update of a game still playing as its ``PLAYING_ROW`` values, in a tuple made for every
    move instead of a dict of every column (``game_row`` takes its columns from here)."""
    a, b = game.players
    secret = game.secret
    return (
        game.score.get(a, 0),
        game.score.get(b, 0),
        game.round,
        game.deadline,
        None if secret is None else secret.roll,
        None if secret is None else secret.nonce,
        # Empty after every resolved round: no encoder built for it (json.dumps with options
        # builds one per call).
        json.dumps(game.pending, sort_keys=True) if game.pending else "{}",
        game.idle_until,
        events[-1].seq if events else None,
        game.id,
        expected,
    )


def round_rows(game: Game, rounds: Iterable[Round]) -> list[tuple[Any, ...]]:
    """Resolved rounds as ``(game_id, round, move_a, move_b, winner, commitment, nonce)`` rows."""
    a, b = game.players
    return [
        (game.id, r.round, r.moves.get(a), r.moves.get(b), r.winner, r.commitment, r.nonce)
        for r in rounds
    ]


def game(row: Row, rounds: Iterable[Row]) -> Game:
    """A ``games`` row and its ``rounds`` rows as the ``Game`` they were saved from."""
    rules = builtin_rules().get(row["rules"])
    if rules is None:
        raise StorageError(f"game {row['id']} uses unknown rules {row['rules']!r}")
    a, b = row["player_a"], row["player_b"]
    secret = None
    if row["secret_roll"] is not None:
        secret = Secret(roll=row["secret_roll"], nonce=row["secret_nonce"])
    return Game(
        id=row["id"],
        rules=rules,
        best_of=row["best_of"],
        players=(a, b),
        started=row["started"],
        epoch=row["epoch"],
        round_seconds=row["round_seconds"],
        status=Status(row["status"]),
        reason=Reason(row["reason"]) if row["reason"] is not None else None,
        winner=row["winner"],
        score={a: row["score_a"], b: row["score_b"]},
        round=row["round"],
        deadline=row["deadline"],
        secret=secret,
        pending=json.loads(row["pending"]),
        rounds=[
            Round(
                round=r["round"],
                moves={a: r["move_a"], b: r["move_b"]},
                winner=r["winner"],
                commitment=r["commitment"],
                nonce=r["nonce"],
            )
            for r in rounds
        ],
        finished=row["finished"],
        idle_seconds=row["idle_seconds"],
        idle_until=row["idle_until"],
        rating_change=None if row["rating_change"] is None else json.loads(row["rating_change"]),
        level=row["level"],
    )


# -- cursors --------------------------------------------------------------------------------


def encode_cursor(started: int, game_id: str) -> str:
    """The opaque cursor of the page after the game ``(started, game_id)``."""
    raw = f"{started}:{game_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The ``(started, id)`` a cursor from ``encode_cursor`` holds; ``BadCursor`` otherwise."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        started, game_id = raw.decode("utf-8").split(":", 1)
        value = int(started), game_id
    except (ValueError, binascii.Error) as exc:
        raise BadCursor(
            f"cursor {cursor!r} is not one this server made; start from page 1"
        ) from exc
    # Only the exact spelling we hand out is accepted, so cursors stay opaque.
    if not storable(value[1]) or encode_cursor(*value) != cursor:
        raise BadCursor(f"cursor {cursor!r} is not one this server made; start from page 1")
    return value
