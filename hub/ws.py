"""``GET /ws``: the WebSocket endpoint of docs/protocol.md, WebSocket.

One handler loop per connection: read a frame, decode it, dispatch it to the hub, queue the reply.
Requests of one connection are handled one at a time, so replies come in request order and after
every event the request caused (those are queued to the peer before the hub call returns).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web
from attrs import frozen

from hub import guard, keys, ws_play
from hub.fanout import SLOW_CONSUMER, Peer
from hub.frames import pong_frame, ws_frame
from hub.limits import RateLimiter
from hub.service import GameHub
from hub.streams import replay_from
from hub.topics import game_topic, player_topic
from protocol.errors import (
    Conflict,
    ErrorCode,
    Forbidden,
    ProtocolError,
    Unauthorized,
)
from protocol.messages import (
    MAX_FRAME,
    Accept,
    Auth,
    Cancel,
    Decline,
    FrameError,
    MoveRequest,
    Play,
    Rematch,
    RequestId,
    Resign,
    Subscribe,
    Unsubscribe,
    decode_object,
    encode_error,
    encode_move_reply,
    encode_reply,
    encode_welcome,
    peek_id,
    read_frame,
    usual_move,
)
from protocol.topics import parse_topic
from protocol.wire import game_json

log = logging.getLogger(__name__)

UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008
# What aiohttp's ``receive`` returns once the connection is closing: the loop over frames ends.
_ENDS = frozenset((WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED))


DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
AUTH_FIRST = "authenticate first: send {'type': 'auth', 'token': ...}"


def origin_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """An ``Origin`` header, when present, must name the request's own host or be allowed."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if origin in {a.rstrip("/").lower() for a in allowed}:
        return True
    # TLS often ends at a proxy, so the scheme the page saw says nothing about this hop: only
    # the host and port are compared, a missing port being the default of the origin's scheme.
    try:
        seen = urlsplit(origin)
        host = urlsplit(f"//{request.host}")
        default = DEFAULT_PORTS.get(seen.scheme)
        return (
            default is not None
            and seen.hostname is not None
            and seen.hostname == (host.hostname or "").lower()
            and (seen.port or default) == (host.port or default)
        )
    except ValueError:  # a port out of range or an unbalanced IPv6 bracket
        return False


async def websocket(request: web.Request) -> web.StreamResponse:
    """Upgrade to a WebSocket and serve the connection until it closes."""
    app = request.app
    hub = app[keys.HUB]
    config = app[keys.CONFIG]
    if hub.closing:
        return guard.refuse(request, ErrorCode.UNAVAILABLE, "the hub is shutting down")
    if not origin_allowed(request, config.allow_origin):
        return guard.refuse(request, ErrorCode.FORBIDDEN, "origin not allowed")
    refusal, counted = guard.open_socket(request)
    if refusal is not None:
        return refusal
    try:
        # No permessage-deflate: frames are small JSON, and in aiohttp compression costs 2-3x CPU
        # and ~190 KB per connection (see the README).
        # aiohttp refuses a message of max_msg_size bytes itself; the limit is "at most" MAX_FRAME.
        # ``timeout``: how long aiohttp waits for the client's close frame after sending its own.
        # Pongs are the hub's (``autoping=False``): queued like any frame, they count towards the
        # outbound limit, so a client that pings and never reads is a slow consumer too.
        ws = web.WebSocketResponse(
            heartbeat=config.heartbeat or None,
            max_msg_size=MAX_FRAME + 1,
            compress=False,
            timeout=config.close_timeout,
            autoping=False,
        )
        try:
            await ws.prepare(request)
        except web.HTTPException as exc:  # not an upgrade aiohttp can take
            return guard.refuse(
                request, ErrorCode.BAD_REQUEST, f"not a WebSocket upgrade: {exc.reason}"
            )
        # The 101 is sent: its headers would otherwise stay with the response, so with the
        # connection, for its whole life (~0.3 KB each).
        ws.headers.clear()
        transport = request.transport
        if transport is None:  # the client went away during the handshake
            return ws
        peer = Peer(
            ws,
            request,
            transport,
            max_frames=config.outbound_frames,
            max_bytes=config.outbound_bytes,
            close_timeout=config.close_timeout,
        )
        app[keys.PEERS].add(peer)
        metrics = app[keys.METRICS]
        metrics.connections.inc()
        peer.send(encode_welcome(app[keys.SERVER_NAME], peer.session, config.heartbeat))
        session = Session(hub, peer)
        # A rate of 0 (``--ws-rate 0``) is no limit.
        limiter = (
            RateLimiter(config.rate, config.burst, config.abuse_window) if config.rate > 0 else None
        )
        try:
            # ``receive`` itself, not ``async for``: aiohttp's ``__anext__`` would add a coroutine
            # per frame, and keep one alive per idle connection (216 bytes each).
            while True:
                msg = await ws.receive()
                kind = msg.type
                if kind is WSMsgType.TEXT:
                    if limiter is not None and not limiter.allow():
                        metrics.errors.labels(ErrorCode.RATE_LIMITED).inc()
                        if limiter.refusals >= config.abuse_limit:
                            peer.close(POLICY_VIOLATION, "too many requests")
                            break
                        peer.send(
                            encode_error(peek_id(msg.data), ErrorCode.RATE_LIMITED, limiter.advice)
                        )
                        continue
                    peer.begin()
                    try:
                        await session.handle(msg.data)
                    finally:
                        closing = peer.end()
                    if closing:
                        break
                    continue
                elif kind in _ENDS:
                    break
                elif kind is WSMsgType.PING:
                    peer.write(pong_frame(msg.data))
                elif kind is WSMsgType.BINARY:
                    peer.close(UNSUPPORTED_DATA, "binary frames are not accepted")
                    break
                if peer.closing:
                    break
        except Exception:
            log.exception("websocket session %s failed", peer.session)
            peer.close(WSCloseCode.INTERNAL_ERROR, "server error")
        finally:
            hub.disconnect(peer)
            app[keys.PEERS].discard(peer)
            metrics.connections.dec()
            if peer.close_code == SLOW_CONSUMER:
                metrics.closed_slow.inc()
            if not ws.closed and not peer.closing:
                peer.close(WSCloseCode.GOING_AWAY, "bye")
            await peer.stop()
        return ws
    finally:
        guard.close_socket(app, counted)


class Session:
    """The requests of one connection."""

    __slots__ = ("hub", "peer")

    def __init__(self, hub: GameHub, peer: Peer) -> None:
        self.hub = hub
        self.peer = peer

    async def handle(self, frame: str) -> None:
        """Decode, dispatch and reply to one frame; a usual move (``usual_move``: what
        ``decode_request`` would read) straight to the hub, as ``move`` would."""
        metrics = self.hub.metrics
        rid: RequestId | None = None
        try:
            obj = read_frame(frame)
            move = usual_move(obj)
            if move is not None:
                rid, game, roll, round = move
                metrics.requests["ws", "move"] += 1
                player = self.peer.player
                if player is None:
                    raise Unauthorized(AUTH_FIRST)
                counted, _ = await self.hub.move(game, player, roll, round, transport="ws")
                self.peer.answer([ws_frame(encode_move_reply(rid, counted))])
                return
            request = decode_object(obj)
            rid = request.id
            op, handler = HANDLERS[type(request)]
            metrics.requests["ws", op] += 1
            data = await handler(self, request)
            if isinstance(data, Followed):
                reply = encode_reply(rid, data.data)
                self.peer.answer([ws_frame(reply), *map(ws_frame, data.frames)])
            else:
                self.peer.answer([ws_frame(encode_reply(rid, data))])
        except FrameError as exc:
            metrics.errors.labels(exc.code).inc()
            self.peer.send(encode_error(exc.request_id, exc.code, exc.message))
        except ProtocolError as exc:
            metrics.errors.labels(exc.code).inc()
            self.peer.send(encode_error(rid, exc.code, exc.message))

    def player(self) -> str:
        """The connection's player; ``Unauthorized`` before ``auth``."""
        return self._player()

    def _player(self) -> str:
        if self.peer.player is None:
            raise Unauthorized(AUTH_FIRST)
        return self.peer.player

    async def auth(self, request: Auth) -> dict[str, Any]:
        """Authenticate; subscribe to the player's topic and live game."""
        record = await self.hub.authenticate(request.token)
        if self.peer.player is not None and self.peer.player != record.name:
            raise Conflict(f"this connection is already authenticated as {self.peer.player}")
        name = record.name
        subscribed = []
        if self.peer.player is None:
            self.peer.player = name
            await self.hub.connect(self.peer, name)
        stream = self.hub.player_stream(name)
        self.hub.subscriptions.add(stream.topic, self.peer, stream.seq)
        seated = await self.hub.seat_game(self.peer, name)
        # The player topic's seq as of the reply: on a cluster node, events of it published while
        # the live game was read (an await) were sent before the reply, and it counts them.
        stream = self.hub.player_stream(name)
        subscribed.append({"topic": stream.topic, "seq": stream.seq, "epoch": stream.epoch})
        if seated is not None:
            topic, seq, epoch = seated
            subscribed.append({"topic": topic, "seq": seq, "epoch": epoch})
        return {"player": name, "subscribed": subscribed}

    async def subscribe(self, request: Subscribe) -> Followed:
        """Subscribe with a snapshot, or recover: the reply, then every missed event."""
        topic = parse_topic(request.topic)
        if topic.kind == "game":
            return await self._subscribe_game(request, topic.key)
        if topic.kind == "player":
            if self.peer.player is None:
                raise Unauthorized("player topics need an authenticated connection")
            if self.peer.player.casefold() != topic.key.casefold():
                raise Forbidden("a player topic is only for that player's connections")
            stream = self.hub.player_stream(self.peer.player)
            snapshot: object = {}
        else:
            stream = self.hub.lobby_stream
            snapshot = self.hub.lobby_snapshot()
        missed = None
        if request.since is not None and request.epoch == stream.epoch:
            held = stream.since(request.since)
            if held is not None:
                replay = replay_from(self.peer.topics.get(stream.topic), request.since, stream.seq)
                missed = None if replay is None else held if replay else []
        self._subscribed(stream.topic, request.since, stream.seq, missed)
        return _followed(stream.topic, stream.epoch, stream.seq, snapshot, missed)

    async def _subscribe_game(self, request: Subscribe, game_id: str) -> Followed:
        game, seq, missed = await self.hub.follow_game(
            self.peer, game_id, request.since, request.epoch
        )
        return _followed(game_topic(game_id), game.epoch, seq, game_json(game), missed)

    def _subscribed(
        self, topic: str, since: int | None, seq: int, missed: list[bytes] | None
    ) -> None:
        """Record the subscription: after a replay every event after ``since`` is sent."""
        start = since if missed is not None and since is not None else seq
        self.hub.subscriptions.add(topic, self.peer, start)

    async def unsubscribe(self, request: Unsubscribe) -> dict[str, Any]:
        """Stop a topic (no error when not subscribed)."""
        topic = parse_topic(request.topic)
        name = topic.name
        player = self.peer.player
        if topic.kind == "player" and player and topic.key.casefold() == player.casefold():
            name = player_topic(player)  # one's own topic, in any case
        self.hub.subscriptions.discard(name, self.peer)
        return {}

    async def accept(self, request: Accept) -> dict[str, Any]:
        """Accept a challenge."""
        game = await self.hub.accept(self._player(), request.challenge)
        return {"game": game.id}

    async def decline(self, request: Decline) -> dict[str, Any]:
        """Decline a challenge."""
        await self.hub.decline(self._player(), request.challenge)
        return {}

    async def cancel(self, request: Cancel) -> dict[str, Any]:
        """Leave the queue and withdraw own challenges."""
        await self.hub.cancel(self._player())
        return {}

    async def move(self, request: MoveRequest) -> dict[str, Any]:
        """Move in a game."""
        counted, _ = await self.hub.move(
            request.game, self._player(), request.roll, request.round, transport="ws"
        )
        return {"round": counted}

    async def resign(self, request: Resign) -> dict[str, Any]:
        """Resign a game."""
        await self.hub.resign(request.game, self._player())
        return {}


# One dispatch table for every connection (a per-connection one of bound methods costs ~1 KB each),
# with each request's wire op, the label of its metrics.
HANDLERS: dict[type, tuple[str, Callable[[Session, Any], Awaitable[object]]]] = {
    Auth: ("auth", Session.auth),
    Subscribe: ("subscribe", Session.subscribe),
    Unsubscribe: ("unsubscribe", Session.unsubscribe),
    Play: ("play", ws_play.play),
    Rematch: ("rematch", ws_play.rematch),
    Accept: ("accept", Session.accept),
    Decline: ("decline", Session.decline),
    Cancel: ("cancel", Session.cancel),
    MoveRequest: ("move", Session.move),
    Resign: ("resign", Session.resign),
}


@frozen
class Followed:
    """A reply to be followed at once by frames (a subscription's catch-up)."""

    data: dict[str, Any]
    frames: list[bytes]


def _followed(
    topic: str, epoch: str, seq: int, snapshot: object, missed: list[bytes] | None
) -> Followed:
    recovered = missed is not None
    data = {
        "topic": topic,
        "epoch": epoch,
        "seq": seq,
        "recovered": recovered,
        "snapshot": None if recovered else snapshot,
    }
    return Followed(data, missed or [])
