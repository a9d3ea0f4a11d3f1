"""Any Range header yields a 200, 206 or 416 whose bytes equal an independent reference.

The reference below implements RFC 9110 §14.1.1/§14.1.2 the slow, obvious way: it marks every
selected byte position in a list of booleans and reads the maximal runs back. Merging
overlapping and adjacent ranges (§14.6 allows it) is then exactly "the runs", so the planner's
interval arithmetic is checked against something that shares none of its code. The policy
choices the reference mirrors are mediaserve's documented ones: a malformed header (or more
than ``max_ranges`` runs, or a position over 19 digits, or over 1000 specs) means the whole
file (§14.2: a server MAY ignore Range); a satisfiable set means 206; none satisfiable, 416.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.http.plan import FileMeta, RequestHeaders, ServeOptions, plan
from unit.support import boundary_of, execute, parse_byteranges

_POS = re.compile(r"[0-9]{1,19}")


def reference(header: str, size: int, max_ranges: int) -> tuple[int, list[tuple[int, int]]]:
    """(status, [(first, last), ...]) for GET of a ``size``-byte file with ``Range: header``."""
    whole = (200, [(0, size - 1)] if size else [])
    if size == 0:
        return whole  # §14.1.3: nothing in an empty file is addressable
    unit, eq, rest = header.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return whole
    elements = rest.split(",")
    if len(elements) > 1000:
        return whole
    selected = [False] * size
    saw = False
    for element in elements:
        spec = element.strip(" \t")
        if not spec:
            continue
        saw = True
        first_text, dash, last_text = spec.partition("-")
        if not dash:
            return whole
        if first_text == "":
            if not _POS.fullmatch(last_text):
                return whole
            n = int(last_text)
            for i in range(max(0, size - n), size if n else 0):
                selected[i] = True
            continue
        if not _POS.fullmatch(first_text) or (last_text and not _POS.fullmatch(last_text)):
            return whole
        first = int(first_text)
        if last_text and int(last_text) < first:
            return whole  # §14.1.1: last-pos before first-pos makes the header invalid
        last = int(last_text) if last_text else size - 1
        for i in range(first, min(last, size - 1) + 1):
            selected[i] = True
    if not saw:
        return whole
    runs: list[tuple[int, int]] = []
    for i, on in enumerate(selected):
        if on and (not runs or runs[-1][1] != i - 1):
            runs.append((i, i))
        elif on:
            runs[-1] = (runs[-1][0], i)
    if not runs:
        return 416, []
    if len(runs) > max_ranges:
        return whole
    return 206, runs


@pytest.fixture(scope="module")
def files() -> Iterator[dict[int, tuple[int, bytes]]]:
    """Open files of a few sizes, keyed by size: (fd, content)."""
    opened: dict[int, tuple[int, bytes]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (0, 1, 2, 7, 100, 1000):
            data = os.urandom(size)
            path = os.path.join(tmp, f"f{size}")
            with open(path, "wb") as f:
                f.write(data)
            opened[size] = (os.open(path, os.O_RDONLY), data)
        yield opened
        for fd, _ in opened.values():
            os.close(fd)


_num = st.one_of(st.integers(0, 1100), st.integers(0, 10**25)).map(str)
_spec = st.one_of(
    st.tuples(_num, _num).map(lambda t: f"{t[0]}-{t[1]}"),
    _num.map(lambda n: f"{n}-"),
    _num.map(lambda n: f"-{n}"),
    st.sampled_from(["", " ", "-", "x-1", "1-x", "--1", "1--", "0-0", " 3 - 4 "]),
)
_grammar = st.tuples(
    st.sampled_from(["bytes", "BYTES", "Bytes", " bytes ", "bits", "", "bytes "]),
    st.sampled_from(["=", "= ", ":", ""]),
    st.lists(_spec, min_size=0, max_size=20),
    st.sampled_from([",", ", ", " ,", ",\t"]),
).map(lambda t: f"{t[0]}{t[1]}{t[3].join(t[2])}")
_headers = st.one_of(_grammar, st.text(max_size=40), st.from_regex(r"bytes=[-0-9, ]{0,30}"))


@given(header=_headers, size=st.sampled_from([0, 1, 2, 7, 100, 1000]), cap=st.integers(1, 20))
def test_any_range_header_gives_the_reference_bytes(
    files: dict[int, tuple[int, bytes]], header: str, size: int, cap: int
) -> None:
    fd, data = files[size]
    meta = FileMeta(name="f.bin", size=size, mtime_ns=1_700_000_000 * 10**9, identity="1:2")
    result = plan("GET", RequestHeaders(range=header), meta, ServeOptions(max_ranges=cap))
    status, runs = reference(header, size, cap)
    assert result.status == status, (header, runs)
    body = execute(result, fd)
    assert result.header("Content-Length") == str(len(body))
    if status == 200:
        assert body == data
        return
    if status == 416:
        assert result.header("Content-Range") == f"bytes */{size}"
        assert body == b""
        return
    if len(runs) == 1:
        first, last = runs[0]
        assert result.header("Content-Range") == f"bytes {first}-{last}/{size}"
        assert body == data[first : last + 1]
        return
    parts = parse_byteranges(body, boundary_of(result.header("Content-Type") or ""))
    assert [(p.first, p.last, p.complete_length) for p in parts] == [
        (f, last, size) for f, last in runs
    ]
    assert [p.data for p in parts] == [data[f : last + 1] for f, last in runs]
