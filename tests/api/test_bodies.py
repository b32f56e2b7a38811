"""Counting CSV lines while a body streams in, so oversized bodies are refused unparsed."""

from __future__ import annotations

import io

import pytest

from api.bodies import LineCounter, json_byte_cap, read_body
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
        read_body(stream, "text/csv", max_rows=10, features=1)
    assert stream.tell() < 200_000


def test_bodies_within_the_limit_are_read_whole() -> None:
    body = b"a\n" + b"1\n" * 10
    assert read_body(io.BytesIO(body), "text/csv", max_rows=10, features=1) == body
    json_body = b"[1]" * 100
    assert read_body(io.BytesIO(json_body), "application/json", max_rows=1, features=1) == json_body


@pytest.mark.parametrize("length", [None, 5 * 2**20])  # chunked, and a declared length
def test_a_json_body_past_its_byte_cap_is_refused_before_it_is_read_whole(length) -> None:
    cap = json_byte_cap(max_rows=1_000, features=14)
    assert cap == 1_000 * 15 * 100
    stream = io.BytesIO(b"[" + b"1," * 2_500_000 + b"1]")
    with pytest.raises(PayloadTooLargeError) as refused:
        read_body(stream, "application/json", max_rows=1_000, features=14, length=length)
    assert stream.tell() == (cap + 1 if length is None else 0)
    assert refused.value.details["max_body_bytes_for_this_model"] == cap


def test_the_json_cap_never_falls_below_one_mebibyte() -> None:
    assert json_byte_cap(max_rows=1, features=1) == 2**20
