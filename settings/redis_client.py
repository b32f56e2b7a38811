"""The one Redis client factory: every process connects with the same timeouts.

A Redis that does not answer fails a call after REDIS_SOCKET_TIMEOUT seconds instead of hanging
it; opening a connection gives up after REDIS_CONNECT_TIMEOUT. RQ workers raise the socket
timeout of their own connection above their blocking dequeue wait (RQ does that itself).
"""

from __future__ import annotations

from typing import Any

CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 5.0
HEALTH_CHECK_SECONDS = 30


def make_redis(url: str) -> Any:
    """A redis.Redis for `url` (it connects on first use) with skserve's timeout policy."""
    # settings/ is imported by every command; redis loads only when a client is made.
    import redis

    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        socket_keepalive=True,
        health_check_interval=HEALTH_CHECK_SECONDS,
        retry_on_timeout=False,
    )
