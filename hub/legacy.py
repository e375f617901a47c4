"""The course's original game API (``--legacy-api``; docs/protocol.md, Legacy API), as it was.

The course server had no games table: a game was the moves carrying its id.  Here a legacy game is
an ordinary ``rps15`` best-of-5 game against the computer, without round deadlines (one left
without a move for ``legacy_idle`` seconds ends abandoned), created by its first
``play_round`` under the uuid that ``POST /api/game/games`` handed out.  Any well-formed uuid is
taken, so nothing has to be remembered between the two calls and a restart loses nothing.  The
status ``moves`` are derived from the stored rounds, two per round (the player's, then the
computer's).  The routes authenticate nobody, so they act only for the players they created, who
hold no token.  The course client only checks the HTTP status of a refusal, so refusals are the
hub's JSON errors: 404 for an unknown user or game, 400 for any other bad input.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from hub import keys
from hub.rest import json_response, read_body
from hub.service import GameHub
from protocol.errors import BadMessage, ErrorCode, NotFound, ProtocolError
from protocol.game import COMPUTER, Game
from protocol.rules import DEFAULT_RULES
from storage.base import Leader, PlayerRecord

BEST_OF = 5  # the course's game ends when a side reaches 3 round wins
# Rolls are not stored rows here; one fixed stamp keeps their JSON the same across restarts.
ROLLS_CREATED = "2018-03-21T00:00:00"

CREATION_LOCK = web.AppKey("legacy_creation_lock", asyncio.Lock)

_EPOCH = datetime(1970, 1, 1)


def naive_iso(ms: int) -> str:
    """Unix milliseconds as the course wrote times: ``isoformat()`` without an offset (UTC here)."""
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat()


def player_json(record: PlayerRecord | Leader) -> dict[str, Any]:
    """The course's Player."""
    return {"id": record.id, "created": naive_iso(record.created), "name": record.name}


def roll_json(hub: GameHub, name: str) -> dict[str, Any]:
    """The course's Roll: ids follow the table's header order, from 1."""
    return {"id": _rolls(hub).index(name) + 1, "created": ROLLS_CREATED, "name": name}


def _rolls(hub: GameHub) -> tuple[str, ...]:
    return hub.ruleset(DEFAULT_RULES).rolls


@contextlib.contextmanager
def _as_bad_input() -> Iterator[None]:
    """The course answered every refusal of its input with 400 (a taken name, a finished game)."""
    try:
        yield
    except ProtocolError as exc:
        if exc.code in (ErrorCode.BAD_REQUEST, ErrorCode.UNAVAILABLE, ErrorCode.INTERNAL):
            raise
        raise BadMessage(exc.message) from exc


def _hub(request: web.Request) -> GameHub:
    return request.app[keys.HUB]


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise BadMessage(f"field {field!r} is required and must be a non-empty string")
    return value


async def _player(hub: GameHub, name: str) -> PlayerRecord:
    record = await hub.storage.player(name)
    if record is None:
        raise NotFound(f"no user {name!r}")
    return record


async def _legacy_user(hub: GameHub, name: str) -> PlayerRecord | None:
    """The user ``name`` if the legacy API made it (it holds no token), else None.

    These routes authenticate nobody, so a player with a token, whose record and seat only their
    token may change, is no user of theirs.
    """
    record = await hub.storage.player(name)
    if record is None or record.has_token or record.name == COMPUTER:
        return None
    return record


async def create_user(request: web.Request) -> web.Response:
    """``PUT /api/game/users {"user"}``: register a player without a token (the course had none)."""
    body = await read_body(request)
    name = _text(body, "user").strip()
    with _as_bad_input():
        record = await _hub(request).register_tokenless(name)
    return json_response(player_json(record))


async def find_user(request: web.Request) -> web.Response:
    """``GET /api/game/users/{user}``: 404 too for a player with a token (not a legacy user)."""
    name = request.match_info["user"]
    record = await _legacy_user(_hub(request), name)
    if record is None:
        raise NotFound(f"no legacy user {name!r}; PUT /api/game/users to create one")
    return json_response(player_json(record))


async def create_game(request: web.Request) -> web.Response:
    """``POST /api/game/games``: a fresh id; the game itself starts with its first round."""
    return json_response({"game_id": str(uuid.uuid4())})


async def rolls(request: web.Request) -> web.Response:
    """``GET /api/game/rolls``: the roll names, alphabetical."""
    return json_response(sorted(_rolls(_hub(request)), key=str.casefold))


async def status(request: web.Request) -> web.Response:
    """``GET /api/game/{game_id}/status``."""
    hub = _hub(request)
    game = await hub.game(request.match_info["game_id"])
    if not game.rounds:
        raise NotFound(f"game {game.id} has no rounds yet")
    records = {name: await _player(hub, name) for name in game.players}
    stamps = {
        e.data["round"]: e.ts for e in await hub.storage.events(game.id, 0) if e.event == "round"
    }
    p1, p2 = game.players
    winner = game.winner or (p1 if game.score[p1] >= game.score[p2] else p2)
    return json_response(
        {
            "is_over": game.is_over,
            "moves": _moves(hub, game, records, stamps),
            "player1": player_json(records[p1]),
            "player2": player_json(records[p2]),
            "winner": player_json(records[winner]),
        }
    )


def _moves(
    hub: GameHub, game: Game, records: dict[str, PlayerRecord], stamps: dict[int, int]
) -> list[dict[str, Any]]:
    """Two moves per stored round, the first seat's first; the game's last won round wins it."""
    out = []
    last = game.rounds[-1].round
    for r in game.rounds:
        for seat_index, seat in enumerate(game.players):
            roll = r.moves.get(seat)
            if roll is None:
                continue
            out.append(
                {
                    "id": 2 * (r.round - 1) + seat_index + 1,
                    "created": naive_iso(stamps.get(r.round, game.started)),
                    "roll_id": _rolls(hub).index(roll) + 1,
                    "roll": roll,
                    "player_id": records[seat].id,
                    "player": seat,
                    "roll_number": r.round,
                    "is_winning_play": game.is_over and r.round == last and game.winner == seat,
                }
            )
    return out


async def top_scores(request: web.Request) -> web.Response:
    """``GET /api/game/top_scores``: up to 10 players by games won, the computer included."""
    leaders = await _hub(request).storage.leaderboard(10, include_computer=True)
    return json_response([{"player": player_json(row), "score": row.wins} for row in leaders])


async def play_round(request: web.Request) -> web.Response:
    """``POST /api/game/play_round {"game_id","user","roll"}``: the user's move and its round."""
    hub = _hub(request)
    body = await read_body(request)
    game_id = _text(body, "game_id")
    if not _is_uuid(game_id):
        raise BadMessage(f"game_id {game_id!r} is not an id from POST /api/game/games")
    user = await _legacy_user(hub, _text(body, "user"))
    if user is None:
        raise BadMessage(
            f"no legacy user {body['user']!r}; PUT /api/game/users first (players registered"
            " through POST /api/players play through the new API with their token)"
        )
    roll = hub.ruleset(DEFAULT_RULES).canonical(_text(body, "roll"))
    with _as_bad_input():
        game = await _game(request.app, hub, game_id, user.name)
        counted, game = await hub.move(game_id, user.name, roll, None, transport="legacy")
    played = game.rounds[counted - 1]
    computer = await _player(hub, COMPUTER)
    outcome = "tie" if played.winner is None else "win" if played.winner == user.name else "lose"
    return json_response(
        {
            "roll": roll_json(hub, roll),
            "computer_roll": roll_json(hub, played.moves[COMPUTER] or ""),
            "player": player_json(user),
            "opponent": player_json(computer),
            "round_outcome": outcome,
            "is_final_round": game.is_over and counted == len(game.rounds),
            "round_number": counted,
        }
    )


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


async def _game(app: web.Application, hub: GameHub, game_id: str, user: str) -> Game:
    """The user's legacy game ``game_id``, started now if this is its first round."""
    async with app[CREATION_LOCK]:
        try:
            game = await hub.game(game_id)
        except NotFound:
            game = await hub.start_game(
                (user, COMPUTER),
                hub.ruleset(DEFAULT_RULES),
                BEST_OF,
                game_id=game_id,
                round_seconds=0,
                idle_seconds=hub.config.legacy_idle,
            )
    if game.players != (user, COMPUTER):
        raise BadMessage(f"game {game_id} is not {user}'s game against the computer")
    if game.is_over:
        raise BadMessage(f"game {game_id} is already over")
    return game


def add_routes(app: web.Application) -> None:
    """Register the legacy routes (only with ``--legacy-api``)."""
    app[CREATION_LOCK] = asyncio.Lock()
    app.router.add_routes(
        [
            web.put("/api/game/users", create_user),
            web.get("/api/game/users/{user}", find_user),
            web.post("/api/game/games", create_game),
            web.get("/api/game/rolls", rolls),
            web.get("/api/game/top_scores", top_scores),
            web.get("/api/game/{game_id}/status", status),
            web.post("/api/game/play_round", play_round),
        ]
    )
