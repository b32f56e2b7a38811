"""Counting CSV lines while a body streams in, so oversized bodies are refused unparsed."""

from __future__ import annotations

import io

import pytest

from api.bodies import LineCounter, read_body
from api.errors import PayloadTooLargeError


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"a,b\n1,2\n3,4\n"], 3),
        ([b"a,b\r\n1,2\r\n"], 2),
        ([b"a,b\r1,2\r3,4"], 2),  # old Mac line ends
        ([b'a,b\n"1\n2",3\n'], 2),  # a line break inside a quoted field is not a row
        ([b'a,b\n"1\n', b'2\n3",4\n5,6\n'], 3),  # a quoted field spanning two chunks
        ([b'a\n"x""y"\n'], 2),  # escaped quotes keep the count right
        ([b"a,b\r", b"\n1,2\r\n"], 2),  # \r\n split across chunks counts once
    ],
)
def test_lines_outside_quotes_are_counted(chunks: list[bytes], lines: int) -> None:
    counter = LineCounter()
    for chunk in chunks:
        counter.feed(chunk)
    assert counter.lines == lines


def test_a_csv_body_with_too_many_rows_is_refused_before_the_end() -> None:
    stream = io.BytesIO(b"a\n" + b"1\n" * 1_000_000)
    with pytest.raises(PayloadTooLargeError):
        read_body(stream, "text/csv", max_rows=10)
    assert stream.tell() < 200_000


def test_bodies_within_the_limit_are_read_whole() -> None:
    body = b"a\n" + b"1\n" * 10
    assert read_body(io.BytesIO(body), "text/csv", max_rows=10) == body
    assert read_body(io.BytesIO(b"[1]" * 100), "application/json", max_rows=1) == b"[1]" * 100
