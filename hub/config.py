"""The hub's settings, as the CLI and ``RPS_HUB_*`` environment variables give them."""

from __future__ import annotations

from attrs import frozen


@frozen
class Config:
    """Everything ``create_app`` needs; defaults are those docs/protocol.md gives."""

    host: str = "127.0.0.1"
    port: int = 8080
    db: str = "rps-hub.db"
    # The cluster's Redis (``redis://host:port/db?prefix=NAME``); None: one process, no Redis.
    broker: str | None = None
    round_deadline: float = 30.0
    grace: float = 10.0
    heartbeat: float = 20.0
    allow_origin: tuple[str, ...] = ()
    # Host names a loopback-bound hub also serves (besides loopback names), against DNS rebinding.
    allow_host: tuple[str, ...] = ()
    # Proxies whose X-Forwarded-For names the client (addresses or CIDR networks).
    trusted_proxy: tuple[str, ...] = ()
    legacy_api: bool = False
    # On SIGTERM: seconds /healthz answers 503 while everything else is still served.
    drain: float = 0.0
    # Per-hub cap on open connections (HTTP and WebSocket); 503 beyond it.
    max_connections: int = 10_000
    # Limits per WebSocket connection (docs/protocol.md, Limits); tests and benchmarks tune them.
    rate: float = 20.0
    burst: int = 40
    abuse_limit: int = 100
    abuse_window: float = 10.0
    outbound_frames: int = 1000
    outbound_bytes: int = 1 << 20
    history: int = 1000
    max_body: int = 64 * 1024
    # Seconds a peer has to complete a close before its transport is aborted.
    close_timeout: float = 10.0
    # Limits per client address; loopback peers that are not proxies are exempt.
    rest_rate: float = 20.0
    rest_burst: int = 40
    registrations_per_hour: int = 10
    ws_per_address: int = 50
    # Seconds for a request's headers to arrive; idle keep-alive connections close after the other.
    header_timeout: float = 10.0
    keepalive_timeout: float = 75.0
    # At most one lobby ``game_updated`` per game per this many seconds (0: after every round).
    summary_interval: float = 1.0
    # A legacy game (no round deadline) left without a move this long ends abandoned.
    legacy_idle: float = 600.0
    # Seconds of waiting that widen the queue's rating gap by one step (protocol.pairing: 5 s);
    # tests shorten it, there is no CLI option.
    queue_step: float = 5.0
