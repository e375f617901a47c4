"""Rating a finished game between two humans (docs/protocol.md, Ratings).

A game is rated when it finished between two humans for any reason but ``abandoned`` (nobody
played it out).  Its players' ratings are read when it finishes, the new ones computed with
``protocol.ratings.rate_game``, and saved in the same transaction as the finished game, its
``rating_change`` and its ``game_over`` event.  The save names the count of rated games each
rating was read at, so a rating another finished game changed meanwhile (another hub on the same
database) is never overwritten: that save fails with ``StaleRating`` and the game is rated again
from the ratings as they are now.  Nothing of this runs for an ordinary move.
"""

from __future__ import annotations

from protocol.errors import NotFound
from protocol.game import Game, Reason
from protocol.ratings import change, rate_game
from storage.base import RatingUpdate, Storage

ATTEMPTS = 5  # times a game is rated afresh after a stale read before its save fails


def is_rated(game: Game) -> bool:
    """True for a finished game between two humans that did not end ``abandoned``."""
    return game.is_over and not game.against_computer and game.reason is not Reason.ABANDONED


async def rate(storage: Storage, game: Game) -> list[RatingUpdate]:
    """Read both players' ratings, set the game's ``rating_change`` and return the new ratings."""
    a, b = game.players
    records = [await storage.player(a), await storage.player(b)]
    if records[0] is None or records[1] is None:
        raise NotFound(f"a player of game {game.id} is not registered")
    before_a, before_b = records[0].rating, records[1].rating
    score = 1.0 if game.winner == a else 0.0 if game.winner == b else 0.5
    after_a, after_b = rate_game(before_a, before_b, score)
    game.rating_change = {a: change(before_a, after_a), b: change(before_b, after_b)}
    return [
        RatingUpdate(a, after_a, records[0].rated),
        RatingUpdate(b, after_b, records[1].rated),
    ]
