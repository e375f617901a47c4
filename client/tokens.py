"""The token store: one JSON file, mode 0600, in the user's config directory.

Tokens are keyed by the hub's HTTP base URL and the player's name ignoring case. The file also
remembers the last name used per hub, so ``rps-hub play`` needs ``--name`` only the first time.
``RPS_HUB_CONFIG_DIR`` overrides the directory (tests point it at a temporary one).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import platformdirs

from client.address import http_url
from client.frames import JsonObject

ENV_DIR = "RPS_HUB_CONFIG_DIR"
FILE_NAME = "tokens.json"


def config_dir() -> Path:
    """The directory that holds the token store."""
    override = os.environ.get(ENV_DIR)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir("rps-hub"))


class TokenStore:
    """Saved bearer tokens by hub and player name."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path = (directory if directory is not None else config_dir()) / FILE_NAME

    def _load(self) -> JsonObject:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {"tokens": {}, "last": {}}
        if not isinstance(data, dict):
            return {"tokens": {}, "last": {}}
        data.setdefault("tokens", {})
        data.setdefault("last", {})
        return data

    def _save(self, data: JsonObject) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            # The umask cannot widen 0600, but an old file left by a crash might be wider.
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    @staticmethod
    def _key(server: str, name: str) -> str:
        return f"{http_url(server)} {name.casefold()}"

    def get(self, server: str, name: str) -> str | None:
        """The saved token of ``name`` on ``server``, if any."""
        entry = self._load()["tokens"].get(self._key(server, name))
        return entry.get("token") if isinstance(entry, dict) else None

    def name_of(self, server: str, name: str) -> str:
        """The registered spelling of ``name`` on ``server`` (``name`` itself when unknown)."""
        entry = self._load()["tokens"].get(self._key(server, name))
        return str(entry.get("name", name)) if isinstance(entry, dict) else name

    def put(self, server: str, name: str, token: str) -> None:
        """Save ``name``'s token on ``server`` and make ``name`` that hub's default."""
        data = self._load()
        data["tokens"][self._key(server, name)] = {"name": name, "token": token}
        data["last"][http_url(server)] = name
        self._save(data)

    def forget(self, server: str, name: str) -> None:
        """Drop a token the hub no longer accepts."""
        data = self._load()
        if data["tokens"].pop(self._key(server, name), None) is not None:
            self._save(data)

    def last_name(self, server: str) -> str | None:
        """The name last used on ``server``."""
        name = self._load()["last"].get(http_url(server))
        return name if isinstance(name, str) else None

    def remember(self, server: str, name: str) -> None:
        """Make ``name`` the default for ``server``."""
        data = self._load()
        if data["last"].get(http_url(server)) != name:
            data["last"][http_url(server)] = name
            self._save(data)
