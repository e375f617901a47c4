"""The token store: one file, mode 0600, keyed by hub and name."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from client.tokens import TokenStore, config_dir


def test_a_saved_token_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "cfg")
    store.put("http://127.0.0.1:8080", "ann", "secret")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_a_token_is_found_by_the_same_hub_in_another_spelling_and_the_name_in_any_case(
    tmp_path: Path,
) -> None:
    store = TokenStore(tmp_path)
    store.put("http://127.0.0.1:8080", "Ann", "secret")
    assert store.get("ws://127.0.0.1:8080/ws", "ANN") == "secret"
    assert store.name_of("127.0.0.1:8080", "ann") == "Ann"


def test_tokens_of_different_hubs_are_kept_apart(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.put("http://127.0.0.1:8080", "ann", "one")
    store.put("http://127.0.0.1:9090", "ann", "two")
    assert store.get("http://127.0.0.1:8080", "ann") == "one"
    assert store.get("http://127.0.0.1:9090", "ann") == "two"
    assert store.get("http://127.0.0.1:7070", "ann") is None


def test_the_last_name_used_on_a_hub_is_remembered(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.put("http://h:1", "ann", "a")
    store.put("http://h:1", "bob", "b")
    store.remember("http://h:1", "ann")
    assert store.last_name("http://h:1") == "ann"
    assert store.last_name("http://h:2") is None


def test_a_forgotten_token_is_gone(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.put("http://h:1", "ann", "a")
    store.forget("http://h:1", "ann")
    assert store.get("http://h:1", "ann") is None


def test_a_rewrite_narrows_a_token_file_that_had_become_world_readable(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.put("http://h:1", "ann", "a")
    store.path.chmod(0o644)
    store.put("http://h:1", "bob", "b")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_the_environment_variable_chooses_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RPS_HUB_CONFIG_DIR", str(tmp_path / "elsewhere"))
    assert config_dir() == tmp_path / "elsewhere"
    assert TokenStore().path == tmp_path / "elsewhere" / "tokens.json"
