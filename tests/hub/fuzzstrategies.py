"""The WebSocket fuzzer's Hypothesis strategies: careful and careless requests of every op,
junk, huge numbers and text that is no JSON at all."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.hub.fuzzframes import MISSING, OPS, Pick, Raw, Spec


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten, else ``bad``: most requests must get past decoding."""
    # Hypothesis favours small integers, and the first of sampled_from: good comes first.
    return st.sampled_from([good] * 9 + [bad]).flatmap(lambda chosen: chosen)


HUGE = st.one_of(
    st.integers(min_value=2**63, max_value=10**300),
    st.integers(min_value=-(10**300), max_value=-(2**63)),
    st.sampled_from([Raw("1e999"), Raw("-0"), Raw("1E2"), Raw("NaN"), Raw("-Infinity")]),
)
# Over Python's 4,300 digits: the whole frame is unreadable, so kept out of the junk in fields.
TOO_LONG = st.integers(min_value=4301, max_value=4400).map(lambda n: Raw("9" * n))
LEAF = st.one_of(st.none(), st.booleans(), st.integers(), HUGE, st.floats(), st.text(max_size=12))
JUNK = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
NO_SURROGATES = st.characters(exclude_categories=("Cs",))
RAW_TEXT = st.one_of(
    st.text(alphabet=NO_SURROGATES, max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "{",
            "}",
            "[]",
            "null",
            "true",
            "0",
            '"auth"',
            "{}",
            '{"id":1',
            '{"id":1,"type":"auth"',
            '{"type":"cancel","id":1}}',
            "\ufeff{}",
            '{"type":"cancel","id":1}\n',
            '{"type":"cancel","id":1} x',
            '{"type":"cancel","id":"\\ud800"}',
            '{"type":"cancel","id":"\\udc00x","id":2}',
        ]
    ),
    # Nesting deeper than the decoder's recursion limit, as a whole frame and inside a field.
    st.integers(min_value=500, max_value=30_000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=500, max_value=20_000).map(
        lambda n: '{"type":"play","id":7,"opponent":' + '{"a":' * n + "1" + "}" * n + "}"
    ),
)


def pick(bucket: str, *, prefix: str = "", part: int | None = None) -> st.SearchStrategy[Pick]:
    """A learnt id from ``bucket`` (or a made-up one while there is none)."""
    slots = st.integers(min_value=0, max_value=7)
    return st.builds(Pick, st.just(bucket), slots, st.just("nope"), st.just(prefix), st.just(part))


NAME, OTHER = "fuzz", "bob"
CASINGS = st.sampled_from([NAME, NAME.upper(), NAME.capitalize(), f" {NAME} "])
TOPICS = st.one_of(
    st.just("lobby"),
    pick("games", prefix="game:"),
    CASINGS.map(lambda n: f"player:{n}"),
    st.just(f"player:{OTHER}"),
)
ODD_TOPICS = st.one_of(
    st.text(min_size=1, max_size=14).map(lambda g: f"game:{g}"),
    st.sampled_from(["game:", "player:", "Lobby", "lobby:", ":", "game", "game:a:b", "player:x"]),
    st.text(max_size=20),
)
ROLLS = st.sampled_from(["Rock", "paper", " SCISSORS ", "Lizard", "spock"])
ODD_ROLLS = st.sampled_from(["Sponge", "Air", "Rok", ""]) | st.text(max_size=12)
OPPONENTS = st.sampled_from(
    ["computer", "COMPUTER", " Computer ", "*", " * ", OTHER, OTHER.upper()]
)
ODD_OPPONENTS = CASINGS | st.sampled_from(["nobody-here", "", " ", "**"]) | st.text(max_size=12)
RULES = st.sampled_from(["rps3", "rpsls", "rps15"])
GAMES = pick("live") | pick("games")
# A recovery names a topic with an epoch learnt for it and some seq of it.
RECOVERIES = st.tuples(st.integers(min_value=0, max_value=7), st.integers(0, 12)).map(
    lambda t: {
        "topic": Pick("streams", t[0], "lobby", part=0),
        "since": t[1],
        "epoch": Pick("streams", t[0], "nope", part=1),
    }
)


def fields(required: dict[str, Any], optional: dict[str, Any] | None = None) -> Any:
    """The fields of a careful request."""
    return st.fixed_dictionaries(required, optional=optional or {})


# What a careful client sends: right types, values that may still be refused in the hub's state.
CAREFUL: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "auth": fields({"token": pick("token") | pick("other_token") | st.text(min_size=1)}),
    "subscribe": fields({"topic": TOPICS}) | RECOVERIES,
    "unsubscribe": fields({"topic": TOPICS}),
    "play": fields(
        {"opponent": OPPONENTS}, {"best_of": st.sampled_from([1, 3, 15]), "rules": RULES}
    ),
    "accept": fields({"challenge": pick("challenges")}),
    "decline": fields({"challenge": pick("challenges")}),
    "cancel": fields({}),
    "move": fields(
        {"game": GAMES, "roll": ROLLS}, {"round": st.integers(min_value=1, max_value=6)}
    ),
    "resign": fields({"game": GAMES}),
}
# What a careless client or an attacker sends in each field, besides junk and nothing at all.
CARELESS: dict[str, st.SearchStrategy[Any]] = {
    "token": pick("token") | st.text(max_size=50),
    "topic": TOPICS | ODD_TOPICS,
    "since": st.integers(min_value=-2, max_value=40) | HUGE,
    "epoch": pick("epochs") | st.text(max_size=12),
    "opponent": OPPONENTS | ODD_OPPONENTS,
    "best_of": st.integers(min_value=-1, max_value=17) | HUGE,
    "rules": RULES | st.sampled_from(["RPS3", "rps", "", " rps3"]),
    "challenge": pick("challenges") | st.text(max_size=14),
    "game": GAMES | st.text(max_size=14),
    "roll": ROLLS | ODD_ROLLS,
    "round": st.integers(min_value=-1, max_value=8) | HUGE,
}
CARELESS_FIELDS = {
    "auth": ["token"],
    "subscribe": ["topic", "since", "epoch"],
    "unsubscribe": ["topic"],
    "play": ["opponent", "best_of", "rules"],
    "accept": ["challenge"],
    "decline": ["challenge"],
    "cancel": [],
    "move": ["game", "roll", "round"],
    "resign": ["game"],
}
GOOD_IDS = st.one_of(
    st.integers(min_value=-5, max_value=10**6),
    st.integers(),
    st.text(max_size=10),
    # Lone surrogates, which JSON escapes can carry but no UTF-8 reply can, and a proper pair.
    st.sampled_from(["\ud800", "a\udfff", "\ud83d\ude00"]),
)
BAD = st.one_of(JUNK, TOO_LONG, st.just(MISSING))


@st.composite
def requests(draw: st.DrawFn, spectator: bool) -> Spec:
    """A request of some op, made carefully or carelessly, with extra keys of junk."""
    op = draw(st.sampled_from(OPS))
    careful = draw(st.booleans())
    obj: dict[str, Any] = draw(st.dictionaries(st.text(max_size=6), JUNK, max_size=2))
    if careful:
        obj["type"], obj["id"] = op, draw(GOOD_IDS)
        extra = draw(CAREFUL[op])
        if spectator and op == "auth":  # a spectator stays one: never a valid token
            extra = {"token": draw(st.text(min_size=1, max_size=50))}
        obj.update(extra)
    else:
        obj["type"] = draw(mostly(st.just(op), BAD))
        obj["id"] = draw(mostly(GOOD_IDS, HUGE | BAD))
        for key in CARELESS_FIELDS[op]:
            strategy = st.text(max_size=50) if spectator and key == "token" else CARELESS[key]
            obj[key] = draw(strategy | BAD)
    obj = {k: v for k, v in obj.items() if v is not MISSING}
    if draw(st.booleans()):  # key order must not matter
        obj = dict(reversed(obj.items()))
    return Spec(obj, ascii_only=draw(st.booleans()))


def frames(spectator: bool) -> st.SearchStrategy[Spec]:
    """One text frame: mostly a request, sometimes any object, sometimes no JSON at all."""
    anything = st.dictionaries(st.sampled_from(["type", "id", "topic", "x"]) | st.text(), JUNK)
    return mostly(requests(spectator), anything.map(Spec) | RAW_TEXT.map(Spec))
