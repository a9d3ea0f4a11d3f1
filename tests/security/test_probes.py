"""Every probe of ``probes.PROBES`` against every delivery path of ``targets.TARGETS``,
with the same expectations; refusals logged once at WARNING with the client and the reason,
and no error or traceback in any server's log."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from security.probes import FORBIDDEN_CONTENT, PROBES, Probe, check
from security.targets import RATE_LIMIT, Target

# gunicorn "[ERROR]", uvicorn "ERROR:", Django's "ERROR [pid] django.request", tracebacks.
ERRORS = re.compile(r"Traceback \(most recent call last\)|\[ERROR\]|^ERROR:| ERROR ", re.M)


#: The one deliberate difference between paths: the S3 source refuses object keys holding a
#: control character (sources/remote.py) -- a 404 -- where a local file so named is served
#: as an attachment with its name made safe. Every other expectation is the same.
REFUSED_BY_STORAGE = frozenset(
    p.id for p in PROBES if p.id.startswith("hostile name") and ("\\r" in p.id or "\\n" in p.id)
)
assert len(REFUSED_BY_STORAGE) == 2, REFUSED_BY_STORAGE  # the CR and the LF name, no more


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.id)
def test_probe(target: Target, probe: Probe) -> None:
    response = target.request(probe.request_target(target.signer), *probe.headers,
                              method=probe.method)  # fmt: skip
    if target.name == "s3-storage" and probe.id in REFUSED_BY_STORAGE:
        probe = dataclasses.replace(probe, expect=frozenset({404}), body=None)
    check(probe, response, target.tree.files)


def _warnings_about(target: Target, marker: str) -> list[str]:
    """The WARNING lines naming ``marker``. An event line (``mediaserve.events``) is written
    once the response is done, which may be just after the client read it: wait for the
    first line, then a moment more so that a second one would show."""

    def found() -> list[str]:
        return [
            line
            for line in target.logs().splitlines()
            if marker in line and "WARNING" in line and "mediaserve" in line
        ]

    deadline = time.monotonic() + 5
    while not found() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    return found()


def test_a_refused_lookup_is_logged_once_with_client_and_reason(target: Target) -> None:
    marker = uuid.uuid4().hex
    assert target.request(f"/media/.{marker}").status == 404
    found = _warnings_about(target, marker)
    assert len(found) == 1, target.log_tail(20)
    assert "127.0.0.1" in found[0]
    assert "dotfile" in found[0]


def test_a_denied_read_is_logged_once_with_client_and_reason(target: Target) -> None:
    marker = uuid.uuid4().hex
    assert target.request(f"/media/signed/{marker}.pdf?expires=1&signature=x").status == 404
    found = _warnings_about(target, marker)
    assert len(found) == 1, target.log_tail(20)
    assert "127.0.0.1" in found[0]
    assert "signature does not match" in found[0]


# -- fuzzing every target ----------------------------------------------------------------------

_segment = st.lists(
    st.sampled_from(
        ["signed", "SIGNED", "private", "Private", "public", "doc.pdf", "..", ".", "%2e%2e",
         "%2f", "%5c", "%00", "%c0%ae", ";", "%3b", "", ".secret", "outside", "secret.txt",
         "link-outside-dir", "%252e", "~"]
    ),
    min_size=1,
    max_size=3,
).map("".join)  # fmt: skip
_path = st.lists(_segment, min_size=1, max_size=4).map(lambda s: "/media/" + "/".join(s))
_query = st.one_of(
    st.just(""),
    st.lists(
        st.sampled_from(["expires=", "signature=", "method=", "&", "9999999999", "AAAA", "GET",
                         "%00", "=", "expires=1", "signature=%ff"]),
        max_size=6,
    ).map(lambda parts: "?" + "".join(parts)),
)  # fmt: skip
PROTECTED = {"signed/doc.pdf", "private/doc.pdf"}


def test_fuzzed_paths_and_queries_never_open_protected_files(target: Target) -> None:
    """No mix of detours, encodings, case and made-up signatures reads a signed or private
    file without credentials, on any delivery path; never a 5xx, never a secret."""

    @settings(max_examples=80, deadline=None, derandomize=True)
    @given(path=_path, query=_query)
    def probe(path: str, query: str) -> None:
        status, _headers, body = target.request(path + query)
        assert status < 500, (path, query)
        for name in PROTECTED:
            assert body != target.tree.files[name], (path, query)
        for secret in FORBIDDEN_CONTENT:
            assert secret not in body, (path, query)

    probe()


_header_value = st.one_of(
    st.lists(
        st.sampled_from(["bytes=", "0", "1", "-", ",", "9" * 25, "W/", '"', "*", " ", "GMT",
                         "Sun, 06 Nov 1994 08:49:37 GMT", "\xff", "%", ";", "="]),
        max_size=10,
    ).map("".join),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
)  # fmt: skip
_header = st.tuples(
    st.sampled_from(["Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since",
                     "If-Unmodified-Since"]),
    _header_value,
)  # fmt: skip


def test_fuzzed_conditional_and_range_headers_get_planned_answers(target: Target) -> None:
    """Any values of the fields the planner reads, on every delivery path: one of the
    planned statuses (or the server's own 400), never a 5xx."""

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(fields=st.lists(_header, min_size=1, max_size=3))
    def probe(fields: list[tuple[str, str]]) -> None:
        headers = [f"{name}: {value.strip()}" for name, value in fields]
        status = target.request("/media/random.bin", *headers).status
        assert status in {200, 206, 304, 400, 412, 416}, (fields, status)

    probe()


def test_a_burst_from_one_client_gets_429_with_retry_after(target: Target) -> None:
    """RATE_LIMIT media requests an hour per client, then 429 with Retry-After; the refusal
    is logged once at WARNING with the client (forwarded by the trusted 127.0.0.1)."""
    client = ("X-Forwarded-For: 198.51.100.77", "User-Agent: burst/1.0")
    statuses = [target.request("/media/hello.txt", *client).status for _ in range(RATE_LIMIT)]
    assert statuses == [200] * RATE_LIMIT
    refused = target.request("/media/hello.txt", *client)
    assert refused.status == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["cache-control"] == "no-store"
    other = ("X-Forwarded-For: 198.51.100.78", "User-Agent: burst/1.0")
    assert target.request("/media/hello.txt", *other).status == 200  # its own bucket
    assert len(_warnings_about(target, "198.51.100.77")) == 1


def test_no_probe_left_an_error_in_the_log(target: Target) -> None:
    """Last in this file: pytest runs a target's tests in file order, so every probe and
    the fuzz above have run against this target when the log is read."""
    assert not ERRORS.findall(target.logs()), target.log_tail(60)


def test_control_the_log_check_sees_a_crash(target: Target) -> None:
    """The check above is worth something only if this target's way of reporting an
    application error matches ERRORS: make the app behind the mount raise (after it)."""
    before = len(ERRORS.findall(target.logs()))
    assert target.request("/__crash__").status == 500
    deadline = time.monotonic() + 5  # some servers print the traceback after answering
    while len(ERRORS.findall(target.logs())) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(ERRORS.findall(target.logs())) > before, target.log_tail(30)
