"""The OpenAPI document against a real hub: schemathesis, and the Rest helper's own check.

Schemathesis fuzzes every operation of /api/openapi.json: each response must be one the document
declares (status, content type, headers, body schema) and no answer may be a 500.  The hub runs
as ``python -m hub serve --port 0`` with the legacy routes, on loopback, which the per-address
limits leave alone.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from jsonschema import ValidationError
from schemathesis import Case, GenerationMode
from yarl import URL

from hub import __version__, openapi
from tests.hub.restclient import check_response, described

SERVING = re.compile(r"serving on (http://[^/\s]+/)")
STARTUP_TIMEOUT = 20
EXAMPLES = 25


def _serve(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPS_HUB_")}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "hub", "serve", "--port", "0", "--legacy-api"),
            *("--db", str(tmp / "hub.db"), "--round-deadline", "0", "--log-level", "critical"),
        ],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        ready = selector.select(STARTUP_TIMEOUT)
    line = proc.stdout.readline().decode() if ready else ""
    found = SERVING.search(line)
    if found is None:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the hub did not say where it serves: {line!r}")
    return proc, found.group(1)


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real hub process, stopped after the module."""
    proc, url = _serve(tmp_path_factory.mktemp("hub"))
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(STARTUP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.fixture(scope="module")
def token(hub_url: str) -> str:
    """A registered player's token, so operations behind bearer auth get past it."""
    request = urllib.request.Request(
        hub_url + "api/players",
        data=json.dumps({"name": "fuzzer"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)
    return str(answer["token"])


@pytest.fixture(scope="module")
def api(hub_url: str) -> Any:
    """The document the hub serves, loaded by schemathesis."""
    return schemathesis.openapi.from_url(hub_url + "api/openapi.json")


# What no schema can state, for schemathesis's own checks: a cursor is opaque (most strings the
# schema allows are no cursor the hub made); a move's roll must be one of its game's rule set;
# the course's routes answer 400 to every refusal, a taken name or a stranger's game too, and
# show no game before its first round, even one made over REST a moment ago.
CLI_CONFIG = """
[generation]
max-examples = 25
# The same cases on every run: CI stays reproducible.
deterministic = true
database = "none"

[[operations]]
include-operation-id = ["listPlayers", "listGames", "createMove"]
checks.positive_data_acceptance.enabled = false

[[operations]]
include-tag = "legacy"
checks.positive_data_acceptance.enabled = false
checks.ensure_resource_availability.enabled = false
"""


def test_schemathesis_finds_no_failure_in_any_phase(
    hub_url: str, token: str, tmp_path: Path
) -> None:
    """The schemathesis CLI's coverage and stateful phases, wrong methods included."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(CLI_CONFIG)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config)),
            *("run", hub_url + "api/openapi.json", "-H", f"Authorization: Bearer {token}"),
            # Fuzzing is the test below, operation by operation.
            *("--phases", "coverage,stateful", "--workers", "1", "--no-color"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Each operation with valid data, and those that read a query or a body with invalid too."""
    described = openapi.document(__version__, legacy=True)["paths"]
    cases = []
    for path, operations in described.items():
        for method, operation in operations.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            queried = any(p["in"] == "query" for p in operation.get("parameters", []))
            if queried or "requestBody" in operation:
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


def _excluded(case: Case) -> list[Any]:
    """Checks that cannot hold for this case, each for a reason no schema can state."""
    # A cursor is opaque: most strings the schema allows are no cursor the hub made (400).
    # The course's routes answer 400 to every refusal, a taken name or a stranger's game too.
    if "before" in (case.query or {}) or case.path.startswith("/api/game/"):
        return [schemathesis.checks.positive_data_acceptance]
    return []


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_every_answer_of_the_hub_is_one_its_openapi_document_declares(
    api: Any, token: str, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def answers_as_declared(case: Case) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, excluded_checks=_excluded(case)
        )

    answers_as_declared()


RULES = URL("http://127.0.0.1:1/api/rules")
JSON_HEADERS = {"Content-Type": "application/json"}
NOT_FOUND = b'{"error": {"code": "not_found", "message": "no route"}}'


def test_the_rest_helper_refuses_a_status_the_route_does_not_declare() -> None:
    with pytest.raises(AssertionError, match="ResponseNotFound"):
        check_response(described(False), "GET", RULES, 404, JSON_HEADERS, NOT_FOUND)


def test_the_rest_helper_refuses_a_body_against_the_routes_schema() -> None:
    with pytest.raises(AssertionError, match="'rules' is a required property"):
        check_response(described(False), "GET", RULES, 200, JSON_HEADERS, b'{"default": "x"}')


def test_the_rest_helper_refuses_an_undescribed_route_answering_no_json_error() -> None:
    with pytest.raises(ValidationError):
        check_response(described(False), "GET", RULES / "x", 404, JSON_HEADERS, b'{"x": 1}')


def test_the_rest_helper_takes_an_undescribed_route_answering_a_json_error() -> None:
    check_response(described(False), "GET", RULES / "x", 404, JSON_HEADERS, NOT_FOUND)
