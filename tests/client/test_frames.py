"""Requests built and checked with ``protocol.messages`` before they go out (client.frames)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.errors import ClientError
from client.frames import build_request, encode_request
from protocol.messages import (
    MAX_FRAME,
    Accept,
    Auth,
    Cancel,
    Decline,
    MoveRequest,
    Play,
    Request,
    Resign,
    Subscribe,
    Unsubscribe,
    decode_request,
)

TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
IDS = st.integers(0, 2**31)
REQUESTS: st.SearchStrategy[Request] = st.one_of(
    st.builds(Auth, IDS, TEXT),
    st.builds(Subscribe, IDS, TEXT),
    st.builds(Subscribe, IDS, TEXT, st.integers(0, 10**6), TEXT),
    st.builds(Unsubscribe, IDS, TEXT),
    st.builds(Play, IDS, TEXT, st.sampled_from([1, 3, 5, 15]), st.none() | TEXT),
    st.builds(Accept, IDS, TEXT),
    st.builds(Decline, IDS, TEXT),
    st.builds(Cancel, IDS),
    st.builds(MoveRequest, IDS, TEXT, TEXT, st.none() | st.integers(1, 50)),
    st.builds(Resign, IDS, TEXT),
)


@given(REQUESTS)
def test_every_request_the_client_encodes_is_read_back_the_same_by_the_protocol(
    request: Request,
) -> None:
    assert decode_request(encode_request(request)) == request


def test_an_even_best_of_is_refused_with_the_protocols_words_before_it_is_sent() -> None:
    with pytest.raises(ClientError) as caught:
        build_request("play", 1, {"opponent": "computer", "best_of": 4})
    assert caught.value.code == "bad_request"
    assert caught.value.message == "field 'best_of' must be an odd integer from 1 to 15, not 4"


def test_a_request_larger_than_the_hub_takes_is_refused_before_it_is_sent() -> None:
    request = build_request("auth", 1, {"token": "x" * MAX_FRAME})
    with pytest.raises(ClientError) as caught:
        encode_request(request)
    assert caught.value.code == "bad_request"
    assert f"at most {MAX_FRAME}" in caught.value.message
