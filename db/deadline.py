"""A client-side deadline for database calls that must answer quickly or not at all.

A PostgreSQL server that is frozen (stopped, swapping, a hung storage) still has its kernel
accepting connections and acknowledging queries, so neither libpq's connect timeout nor TCP
keepalives nor the server's statement_timeout ends a call that waits for its answer. The call
runs on a small thread pool instead and the caller stops waiting after the deadline; the call
itself finishes (or fails) when the server comes back, and its connection returns to the pool.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import sqlalchemy as sa

T = TypeVar("T")


class DatabaseTimeout(sa.exc.OperationalError):
    """The database did not answer within the deadline (handled like any unavailable database)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(None, None, TimeoutError(f"no answer within {seconds:g} s"))


class Deadline:
    """Runs calls on `threads` threads and waits at most `seconds` for each."""

    def __init__(self, seconds: float, threads: int = 4) -> None:
        self.seconds = seconds
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="skserve-db-deadline")

    def run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """call(*args, **kwargs), or DatabaseTimeout once the deadline has passed."""
        future = self._pool.submit(call, *args, **kwargs)
        try:
            return future.result(timeout=self.seconds)
        except FutureTimeout:
            future.cancel()  # not started yet (every thread is waiting): never run it
            raise DatabaseTimeout(self.seconds) from None

    def close(self) -> None:
        """Stop the threads once their calls end; queued calls are dropped."""
        self._pool.shutdown(wait=False, cancel_futures=True)
