"""The error vocabulary of protocol/errors.py: each code, its HTTP status and meaning, once."""

from __future__ import annotations

import pytest

from protocol.errors import (
    HTTP_ERRORS,
    Conflict,
    ErrorCode,
    ProtocolError,
    code_for_status,
)

# docs/protocol.md, REST's list, as written there.
DOC_STATUSES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "bad_request",
    409: "conflict",
    413: "too_large",
    415: "bad_request",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


def test_the_table_has_every_status_of_spec_once_with_its_code() -> None:
    assert {row.status: row.code.value for row in HTTP_ERRORS} == DOC_STATUSES
    assert len({row.status for row in HTTP_ERRORS}) == len(HTTP_ERRORS)


def test_every_code_of_spec_is_in_the_vocabulary() -> None:
    assert {code.value for code in ErrorCode} == set(DOC_STATUSES.values())


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("bad_request", 400),
        ("unauthorized", 401),
        ("forbidden", 403),
        ("not_found", 404),
        ("conflict", 409),
        ("too_large", 413),
        ("rate_limited", 429),
        ("internal", 500),
        ("unavailable", 503),
    ],
)
def test_a_code_answers_with_its_own_status(code: str, status: int) -> None:
    assert ErrorCode(code).status == status


def test_a_code_means_what_its_own_status_row_says() -> None:
    row = next(row for row in HTTP_ERRORS if row.status == 400)
    assert ErrorCode.BAD_REQUEST.meaning == row.meaning


@pytest.mark.parametrize(("status", "code"), sorted(DOC_STATUSES.items()))
def test_an_http_status_of_the_table_maps_to_its_code(status: int, code: str) -> None:
    assert code_for_status(status) == code


def test_an_unlisted_server_status_maps_to_internal() -> None:
    assert code_for_status(502) is ErrorCode.INTERNAL


def test_an_unlisted_client_status_maps_to_bad_request() -> None:
    assert code_for_status(418) is ErrorCode.BAD_REQUEST


def test_a_code_is_the_plain_string_on_the_wire() -> None:
    assert ErrorCode.NOT_FOUND == "not_found" and str(ErrorCode.NOT_FOUND) == "not_found"


def test_an_exception_naming_its_code_as_a_string_carries_the_vocabulary_member() -> None:
    class Taken(ProtocolError):
        code = "conflict"

    assert Taken.code is ErrorCode.CONFLICT


def test_an_exception_naming_a_code_outside_the_vocabulary_fails_when_defined() -> None:
    with pytest.raises(ValueError, match="no_such_code"):

        class Typo(ProtocolError):
            code = "no_such_code"


def test_an_exception_without_a_code_of_its_own_inherits_its_parents() -> None:
    class Stale(Conflict):
        pass

    assert Stale.code is ErrorCode.CONFLICT


def test_an_exception_without_a_message_says_its_code() -> None:
    assert Conflict().message == "conflict"
