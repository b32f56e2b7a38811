"""The one exception of the fast path."""

from __future__ import annotations


class Unsupported(Exception):
    """A pipeline (or part of it) the compiler cannot reproduce bit for bit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def within(self, context: str) -> Unsupported:
        """The same reason, prefixed with where it happened (a step, a column)."""
        return Unsupported(f"{context}: {self.reason}")
