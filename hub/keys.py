"""Typed keys of the application's state."""

from __future__ import annotations

from aiohttp import web

from hub.config import Config
from hub.fanout import Peer
from hub.metrics import Metrics
from hub.service import GameHub
from storage.base import Storage

CONFIG = web.AppKey("config", Config)
METRICS = web.AppKey("metrics", Metrics)
PEERS = web.AppKey("peers", set[Peer])
SERVER_NAME = web.AppKey("server_name", str)
STORAGE = web.AppKey("storage", Storage)
HUB = web.AppKey("hub", GameHub)
