"""plan() is total: any values of the request fields it reads give a response, never an
exception (which an adapter would turn into a 500), with an exact Content-Length."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mediaserve.http.dates import format_http_date, parse_http_date
from mediaserve.http.plan import FileMeta, RequestHeaders, ServeOptions, plan

_field = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.text(st.characters(max_codepoint=0xFF), max_size=60),
    st.sampled_from(['"a"', 'W/"a"', "*", '"a", W/"b"', "Sun, 06 Nov 1994 08:49:37 GMT",
                     "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "bytes=0-1"]),
)  # fmt: skip


@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "get", "OPTIONS", ""]),
    fields=st.tuples(_field, _field, _field, _field, _field, _field),
    size=st.integers(0, 10**12),
    mtime_ns=st.integers(0, 2**62),
    name=st.text(max_size=40),
)
def test_plan_never_raises(
    method: str, fields: tuple[str | None, ...], size: int, mtime_ns: int, name: str
) -> None:
    meta = FileMeta(name=name or "f", size=size, mtime_ns=mtime_ns, identity="1:2")
    result = plan(method, RequestHeaders(*fields), meta, ServeOptions())
    assert result.status in (200, 206, 304, 405, 412, 416)
    length = result.header("Content-Length")
    if result.status in (200, 206) and method != "HEAD":
        assert length == str(result.content_length)
    for key, value in result.headers:
        assert not any(ch in key + value for ch in "\r\n\0"), (key, value)


@given(st.integers(0, 253402300799))  # up to 9999-12-31T23:59:59Z
def test_http_dates_round_trip(seconds: int) -> None:
    """RFC 9110 §5.6.7: IMF-fixdate is what we send and must read back to the same second."""
    assert parse_http_date(format_http_date(seconds)) == seconds


@given(st.text(max_size=40))
def test_date_parsing_is_total(text: str) -> None:
    value = parse_http_date(text)
    assert value is None or isinstance(value, int)
