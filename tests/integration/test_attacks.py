"""Attack inputs sent as raw bytes to every server: traversal, dotfiles, symlinks, bad headers.

curl normalises paths, so requests go over a plain socket exactly as written. Every answer must
be a 4xx (404 for lookups, 400 where the server itself rejects the request line), never a 5xx,
never the bytes of a file outside the root or of a dotfile, and never a traceback in the log.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matrix_support import Served

from harness import raw_request

# Each entry is a request-target as it goes on the wire. The secret lives in BASE/outside/,
# next to the root; ".secret" is a dotfile inside the root.
TRAVERSALS = [
    "/media/../outside/secret.txt",
    "/media/..%2foutside/secret.txt",
    "/media/..%2Foutside%2Fsecret.txt",
    "/media/%2e%2e/outside/secret.txt",
    "/media/%2E%2E%2Foutside%2Fsecret.txt",
    "/media/%252e%252e/outside/secret.txt",  # double-encoded: decoded once it is literal
    "/media/..\\outside\\secret.txt",
    "/media/..%5coutside%5csecret.txt",
    "/media/%c0%ae%c0%ae/outside/secret.txt",  # overlong UTF-8 for "."
    "/media/%e0%80%ae%e0%80%ae/outside/secret.txt",
    "/media/\uff0e\uff0e/outside/secret.txt".encode().decode("latin-1"),  # fullwidth dots
    "/media/%ef%bc%8e%ef%bc%8e/outside/secret.txt",
    "/media/nested/../../outside/secret.txt",
    "/media/nested/%2e%2e/%2e%2e/outside/secret.txt",
    "/media/./../outside/secret.txt",
    "/media//etc/passwd",
    "/media/%2fetc%2fpasswd",
    "/media/C:/Windows/win.ini",
    "/media/C:%5cWindows%5cwin.ini",
    "/media/hello.txt%00.png",
    "/media/hello.txt%00",
    "/media/link-outside.txt",  # symlink leaving the root
    "/media/link-outside-dir/secret.txt",  # directory symlink leaving the root
    "/media/.secret",
    "/media/%2esecret",
    "/media/nested/../.secret",
    "/media/.git/config",
    "/media/.env",
    "/media/nested/",  # a directory: no listing
    "/media/nested",
    "/media/",
    "/media",
    "/media/" + "a/" * 300 + "x.txt",  # deep path
    "/media/" + "x" * 4000 + ".txt",  # name longer than NAME_MAX
    "/media/hello.txt/",
    "/media/hello.txt/..",
    "/media/%",
    "/media/%zz",
    "/media/%c3",
]

FORBIDDEN_CONTENT = (b"outside the media root", b"SECRET_KEY=dotfiles", b"root:x:0:0")


def _assert_refused(served: Served, target: str, status: int, body: bytes) -> None:
    assert 400 <= status < 500, f"{served.kind} {target!r} -> {status}"
    for secret in FORBIDDEN_CONTENT:
        assert secret not in body, f"{served.kind} {target!r} leaked {secret!r}"


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_and_hidden_files_are_refused(served: Served, target: str) -> None:
    request = f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    response = raw_request(
        served.server.host, served.server.port, request.encode("latin-1"), timeout=15
    )
    if response.status == 0:
        # Some servers close the connection on a request line they cannot parse: no answer
        # is also no leak, but it must not be mediaserve crashing: the log says so below.
        assert not _tracebacks(served), served.server.log_tail(40)
        return
    _assert_refused(served, target, response.status, response.body)


@pytest.mark.parametrize(
    "target",
    ["/media/hello.txt?../../outside/secret.txt", "/media/hello.txt#../../outside/secret.txt"],
)
def test_query_and_fragment_are_not_part_of_the_file_name(served: Served, target: str) -> None:
    """A query names no file (it is ignored). A '#' on the wire is invalid in a request-target:
    servers either drop what follows (gunicorn) or pass it on as part of a name that does not
    exist (404). Either way the answer is hello.txt or a refusal, never what follows."""
    response = raw_request(
        served.server.host,
        served.server.port,
        f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode(),
    )
    if "?" in target or response.status == 200:
        assert (response.status, response.body) == (200, served.tree.files["hello.txt"])
    else:
        _assert_refused(served, target, response.status, response.body)


def test_symlink_inside_the_root_is_refused_by_default(served: Served) -> None:
    """follow_symlinks defaults to False: even a link that stays inside is not followed."""
    response = raw_request(
        served.server.host,
        served.server.port,
        b"GET /media/link-inside.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    assert response.status == 404


def test_refusals_leave_no_traceback_in_the_log(served: Served) -> None:
    for target in TRAVERSALS[:12]:
        raw_request(
            served.server.host,
            served.server.port,
            f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode("latin-1"),
        )
    assert not _tracebacks(served), served.server.log_tail(60)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("page.html", "text/html"),
        ("drawing.svg", "image/svg+xml"),
        ("script.js", "text/javascript"),
    ],
)
def test_active_content_is_a_sandboxed_attachment(
    served: Served, name: str, content_type: str
) -> None:
    """An uploaded page or SVG must never render inline on the app's origin."""
    path = served.tree.root / "uploads" / name
    path.parent.mkdir(mode=0o755, exist_ok=True)
    path.parent.chmod(0o755)
    path.write_text("<script>alert(document.cookie)</script>")
    path.chmod(0o644)
    response = raw_request(
        served.server.host,
        served.server.port,
        f"GET /media/uploads/{name} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode(),
    )
    assert response.status == 200
    assert response.headers["content-type"].startswith(content_type)
    assert response.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def _tracebacks(served: Served) -> list[str]:
    return re.findall(
        r"Traceback \(most recent call last\)|Exception in ASGI", served.server.logs()
    )


# Header values a client could send: printable ASCII and Latin-1 without CR/LF (which would
# end the field), built from pieces the parsers care about.
_piece = st.sampled_from(
    ["bytes=", "0", "-", ",", "9" * 25, "W/", '"', "*", " ", "\t", "GMT", "Sun, 06 Nov 1994",
     "=", ";", "items", "\x7f", "\xff", "é", "%", "\\"]
)  # fmt: skip
_value = st.one_of(
    st.lists(_piece, max_size=12).map("".join),
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
        max_size=60,
    ),
)
_header = st.sampled_from(
    ["Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since",
     "If-Unmodified-Since", "Accept-Encoding", "Host"]
)  # fmt: skip


@pytest.mark.parametrize("kind", ["gunicorn-gthread", "uvicorn", "granian-asgi"])
def test_fuzzed_headers_never_give_a_server_error(
    kind: str, served_tree: object, request: pytest.FixtureRequest
) -> None:
    """Any value of the headers mediaserve reads: a 2xx/3xx/4xx, never a 5xx or a traceback."""
    from matrix_support import start_server

    server = start_server(kind, served_tree.root)  # type: ignore[attr-defined]
    request.addfinalizer(server.stop)

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(fields=st.lists(st.tuples(_header, _value), min_size=1, max_size=4))
    def probe(fields: list[tuple[str, str]]) -> None:
        lines = "".join(f"{name}: {value.strip()}\r\n" for name, value in fields if name != "Host")
        data = f"GET /media/random.bin HTTP/1.1\r\nHost: t\r\n{lines}Connection: close\r\n\r\n"
        response = raw_request(server.host, server.port, data.encode("latin-1"), timeout=15)
        assert response.status == 0 or response.status < 500, (fields, response.status)

    probe()
    assert not re.findall(r"Traceback \(most recent call last\)", server.logs()), server.log_tail(
        60
    )
