"""``create_app(config)``: the aiohttp application with everything that has a lifetime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from aiohttp import WSCloseCode, web

from hub import __version__, guard, keys, rest, rest_players, ws
from hub.broker import LocalBroker
from hub.config import Config
from hub.fanout import Subscriptions
from hub.metrics import Metrics
from hub.service import GameHub
from storage.open import open_storage

log = logging.getLogger(__name__)

STATIC = Path(str(resources.files("hub") / "static"))


def create_app(config: Config) -> web.Application:
    """Build the hub's application; storage and the hub open in its cleanup context."""
    app = web.Application(client_max_size=config.max_body, middlewares=[guard.guard, rest.errors])
    app[keys.CONFIG] = config
    app[guard.GUARD] = guard.Guard(config)
    app.on_response_prepare.append(guard.security_headers)
    app[keys.METRICS] = Metrics()
    app[keys.PEERS] = set()
    app[keys.SERVER_NAME] = f"rps-hub/{__version__}"
    app.cleanup_ctx.append(_hub_context)
    app.on_shutdown.append(_close_peers)
    app.router.add_get("/ws", ws.websocket)
    rest.add_routes(app)
    rest_players.add_routes(app)
    if config.legacy_api:
        from hub import legacy

        legacy.add_routes(app)
    app.router.add_get("/", _index)
    if STATIC.is_dir():
        app.router.add_static("/static/", STATIC, name="static")
    return app


async def _hub_context(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    storage = await open_storage(config.db)
    app[keys.METRICS].watch_storage(storage)
    subscriptions = Subscriptions()
    app[keys.METRICS].watch_subscriptions(subscriptions.count)
    broker = LocalBroker(subscriptions)
    node = None
    if config.broker is None:
        hub = GameHub(config, storage, broker, subscriptions, app[keys.METRICS])
    else:  # a node of a cluster hub: the same GameHub on the cluster's parts; Redis only here
        from hub.cluster.node import ClusterHub

        try:
            node = await ClusterHub.open(config, storage, subscriptions, app[keys.METRICS], broker)
        except BaseException:
            await storage.close()
            raise
        hub = node.hub
    app[keys.STORAGE] = storage
    app[keys.HUB] = hub
    try:
        resumed = await hub.resume()
        if resumed:
            log.info("resumed %d live game(s)", resumed)
        if node is not None:
            await node.start()
        yield
    finally:
        if node is not None:
            await node.close()  # the hub's close within it
        else:
            await hub.close()
        await broker.close()
        await storage.close()


async def _close_peers(app: web.Application) -> None:
    """Shutdown: /healthz turns 503; sockets close with 1001, aborted past the close timeout."""
    hub = app.get(keys.HUB)
    if hub is not None:
        hub.closing = True
    peers = [*app[keys.PEERS]]
    if not peers:
        return
    try:
        # Each close bounds itself; this bound holds even if one did not.
        async with asyncio.timeout(app[keys.CONFIG].close_timeout + 1):
            await asyncio.gather(
                *(p.shutdown(WSCloseCode.GOING_AWAY, "server shutdown") for p in peers),
                return_exceptions=True,
            )
    except TimeoutError:
        log.warning("aborting connections that did not close in time")
        for p in peers:
            p.abort()


async def _index(request: web.Request) -> web.StreamResponse:
    index = STATIC / "index.html"
    if not index.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(index)
