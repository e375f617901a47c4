"""Player ratings: Glicko-2, one rating period per game.

Theory of operation
-------------------
Every finished game between two humans is rated; games against the computer are not.  A rating
is a value, a deviation (how unsure the value is) and a volatility (how erratic the player is),
on the Glicko scale.  A new player starts at 1500, deviation 350, volatility 0.06.

The update is Glickman's published Glicko-2 algorithm ("Example of the Glicko-2 system", steps 1
to 8) with the system constant ``TAU`` = 0.5 and the volatility iteration's tolerance ``EPSILON``
= 0.000001.  The hub treats each game as one rating period for each of its two players: both
new ratings are computed from the two old ones, so the order in which games finish never
matters within a game, and there is no decay for time away (a player who does not play keeps
their rating as it is).  ``rate`` is the general step for a period with any number of games (the
paper's worked example is one); ``rate_game`` is the one the hub calls.

A rated game's outcome is the first player's score: 1 for a win, 0.5 for a draw, 0 for a loss.

Clients see the public view: ``value`` and ``deviation`` rounded to the nearest integer (halves
up), and ``provisional`` while the shown deviation is over ``PROVISIONAL_ABOVE`` (110).  A
game's ``rating_change`` for a player is the shown value after it minus the shown value before
it, so the changes always add up to what a client sees.  The leaderboard by rating leaves
provisional players out and ranks the others by shown value, highest first, then by name
ignoring case.

A provisional player's deviation shrinks with every game against anyone within 500 points (about
14 games between evenly matched new players end it).  An established player's deviation settles
where a game's information balances the volatility added each period (about 60 for volatility
0.06) and moves by fractions around it; that is Glicko-2 as published, not a fault.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from attrs import frozen

__all__ = [
    "EPSILON",
    "NEW",
    "PROVISIONAL_ABOVE",
    "SCALE",
    "TAU",
    "PublicRating",
    "Rating",
    "change",
    "leaderboard",
    "new_rating",
    "rate",
    "rate_game",
    "shown",
]

SCALE = 173.7178  # Glicko points per Glicko-2 unit
TAU = 0.5  # the system constant: how fast volatility may change
EPSILON = 0.000001  # the volatility iteration's tolerance
PROVISIONAL_ABOVE = 110  # a shown deviation over this is provisional
_BASE = 1500.0


@frozen
class Rating:
    """A player's rating on the Glicko scale (what the hub stores)."""

    value: float
    deviation: float
    volatility: float

    @property
    def public(self) -> PublicRating:
        """What clients see: rounded value and deviation, and whether it is provisional."""
        deviation = shown(self.deviation)
        return PublicRating(
            value=shown(self.value),
            deviation=deviation,
            provisional=deviation > PROVISIONAL_ABOVE,
        )


@frozen
class PublicRating:
    """The ``rating`` of a player record."""

    value: int
    deviation: int
    provisional: bool

    def to_json(self) -> dict[str, object]:
        """The wire form: ``{"value", "deviation", "provisional"}``."""
        return {"value": self.value, "deviation": self.deviation, "provisional": self.provisional}


NEW = Rating(value=1500.0, deviation=350.0, volatility=0.06)


def new_rating() -> Rating:
    """The rating of a player who has never finished a rated game."""
    return NEW


def shown(x: float) -> int:
    """Round to the nearest integer, halves up (1463.5 shows as 1464, -0.5 as 0)."""
    return math.floor(x + 0.5)


def change(before: Rating, after: Rating) -> int:
    """A player's ``rating_change``: shown value after minus shown value before."""
    return shown(after.value) - shown(before.value)


def rate_game(a: Rating, b: Rating, score: float) -> tuple[Rating, Rating]:
    """The two players' new ratings after one game; ``score`` is ``a``'s: 1, 0.5 or 0."""
    if score not in (0.0, 0.5, 1.0):
        raise ValueError(f"a game's score is 1, 0.5 or 0, not {score!r}")
    return rate(a, [(b, score)]), rate(b, [(a, 1.0 - score)])


def rate(player: Rating, games: Sequence[tuple[Rating, float]]) -> Rating:
    """The player's rating after one rating period with these games (opponent's rating at the
    start of the period, the player's score); no games only widens the deviation."""
    mu, phi, sigma = _down(player)
    if not games:
        return _up(mu, math.sqrt(phi * phi + sigma * sigma), sigma)
    # Steps 3 and 4: the estimated variance v and improvement delta.
    inverse_v = 0.0
    gained = 0.0
    for opponent, score in games:
        mu_j, phi_j, _ = _down(opponent)
        g = _g(phi_j)
        e = _expected(mu, mu_j, g)
        inverse_v += g * g * e * (1.0 - e)
        gained += g * (score - e)
    v = 1.0 / inverse_v
    delta = v * gained
    # Steps 5 to 8.
    sigma_new = _volatility(phi, sigma, v, delta)
    phi_star = math.sqrt(phi * phi + sigma_new * sigma_new)
    phi_new = 1.0 / math.sqrt(1.0 / (phi_star * phi_star) + inverse_v)
    mu_new = mu + phi_new * phi_new * gained
    return _up(mu_new, phi_new, sigma_new)


def leaderboard(players: Iterable[tuple[str, Rating]]) -> list[tuple[str, PublicRating]]:
    """Rank players by rating: provisional ones left out, highest shown value first, then name
    ignoring case."""
    ranked = [(name, rating.public) for name, rating in players]
    ranked = [(name, public) for name, public in ranked if not public.provisional]
    ranked.sort(key=lambda row: (-row[1].value, row[0].casefold(), row[0]))
    return ranked


# -- the algorithm's steps ---------------------------------------------------------------------


def _down(rating: Rating) -> tuple[float, float, float]:
    """Step 2: to the Glicko-2 scale."""
    return (rating.value - _BASE) / SCALE, rating.deviation / SCALE, rating.volatility


def _up(mu: float, phi: float, sigma: float) -> Rating:
    """Step 8: back to the Glicko scale."""
    return Rating(value=SCALE * mu + _BASE, deviation=SCALE * phi, volatility=sigma)


def _g(phi: float) -> float:
    return 1.0 / math.sqrt(1.0 + 3.0 * phi * phi / (math.pi * math.pi))


def _expected(mu: float, mu_j: float, g: float) -> float:
    return 1.0 / (1.0 + math.exp(-g * (mu - mu_j)))


def _volatility(phi: float, sigma: float, v: float, delta: float) -> float:
    """Step 5: the new volatility by the Illinois algorithm."""
    a = math.log(sigma * sigma)
    phi2 = phi * phi
    delta2 = delta * delta

    def f(x: float) -> float:
        ex = math.exp(x)
        return ex * (delta2 - phi2 - v - ex) / (2.0 * (phi2 + v + ex) ** 2) - (x - a) / (TAU * TAU)

    big_a = a
    if delta2 > phi2 + v:
        big_b = math.log(delta2 - phi2 - v)
    else:
        k = 1
        while f(a - k * TAU) < 0:
            k += 1
        big_b = a - k * TAU
    f_a, f_b = f(big_a), f(big_b)
    while abs(big_b - big_a) > EPSILON:
        big_c = big_a + (big_a - big_b) * f_a / (f_b - f_a)
        f_c = f(big_c)
        if f_c * f_b <= 0:
            big_a, f_a = big_b, f_b
        else:
            f_a /= 2.0
        big_b, f_b = big_c, f_c
    return math.exp(big_a / 2.0)
