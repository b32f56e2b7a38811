"""Reading prediction bodies: one that cannot fit the row limit is refused before it is parsed.

Parsing a large body costs far more than reading it (a 28 MB, 1,000,000-row CSV took 0.5 s
and 240 MB to parse before its 413). A CSV body's rows are counted on the bytes as they
arrive, and the rest is never read. Any other body (JSON) is capped in bytes: at most
JSON_BYTES_PER_VALUE for each value of `max_rows` rows of the model's features (an indented
JSON record of the Adult data takes about 30), refused from its Content-Length before a
byte is read, or as soon as a chunked body passes the cap.
"""

from __future__ import annotations

from typing import BinaryIO

from flask import request

from api.errors import BATCH_HINT, PayloadTooLargeError
from inference.model import LoadedModel

CSV_TYPES = ("text/csv", "application/csv")
CHUNK_BYTES = 64 * 1024
JSON_BYTES_PER_VALUE = 100
JSON_MIN_BYTES = 2**20


class LineCounter:
    """Counts the line breaks of a CSV stream that lie outside quoted fields."""

    def __init__(self) -> None:
        self.in_quotes = False
        self.newlines = 0
        self.returns = 0

    @property
    def lines(self) -> int:
        """Lines seen so far (\\n, \\r\\n and old-style \\r endings alike)."""
        return max(self.newlines, self.returns)

    def feed(self, chunk: bytes) -> int:
        """Count one more chunk; return the lines seen so far."""
        if b'"' not in chunk:  # the usual case: no quoted field starts or ends here
            if not self.in_quotes:
                self._count(chunk)
            return self.lines
        for i, part in enumerate(chunk.split(b'"')):
            if (i % 2 == 0) != self.in_quotes:  # segments alternate outside/inside quotes
                self._count(part)
        self.in_quotes ^= chunk.count(b'"') % 2 == 1
        return self.lines

    def _count(self, part: bytes) -> None:
        self.newlines += part.count(b"\n")
        self.returns += part.count(b"\r")


def request_body(model: LoadedModel, max_rows: int) -> bytes:
    """This request's body for `model`, refused with 413 before parsing when it cannot hold at
    most `max_rows` rows."""
    return read_body(
        request.stream,
        request.mimetype,
        max_rows=max_rows,
        features=len(model.schema.features),
        length=request.content_length,
    )


def json_byte_cap(max_rows: int, features: int) -> int:
    """The largest non-CSV body `max_rows` rows of `features` values (plus an id) need."""
    return max(JSON_MIN_BYTES, max_rows * (features + 1) * JSON_BYTES_PER_VALUE)


def read_body(
    stream: BinaryIO, mimetype: str, *, max_rows: int, features: int, length: int | None = None
) -> bytes:
    """The whole body of a request of `length` bytes (None: chunked); 413 as soon as a CSV
    body holds more than `max_rows` rows or another body passes json_byte_cap."""
    if mimetype in CSV_TYPES:
        return _read_csv(stream, max_rows)
    cap = json_byte_cap(max_rows, features)
    if length is not None and length > cap:
        raise _json_too_large(cap, max_rows)
    data = stream.read(cap + 1)
    if len(data) > cap:
        raise _json_too_large(cap, max_rows)
    return data


def _json_too_large(cap: int, max_rows: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the body is larger than {cap:,} bytes, more than {max_rows} rows of this model's "
        f"features need (the limit per request is {max_rows} rows); {BATCH_HINT}",
        {"max_rows_per_request": max_rows, "max_body_bytes_for_this_model": cap},
    )


def _read_csv(stream: BinaryIO, max_rows: int) -> bytes:
    counter = LineCounter()
    chunks = []
    while chunk := stream.read(CHUNK_BYTES):
        chunks.append(chunk)
        if counter.feed(chunk) > max_rows + 1:  # the header line, and a final line break
            raise PayloadTooLargeError(
                f"the CSV body holds more than {max_rows} rows, the limit per request; "
                f"{BATCH_HINT}",
                {"max_rows_per_request": max_rows},
            )
    return b"".join(chunks)
