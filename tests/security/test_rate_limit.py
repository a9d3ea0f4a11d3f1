"""The rate limit shared by two gunicorn workers through a real Redis (started here).

Django's wrapper (the fast path) and the view behind it count in the same Redis buckets; the
access log's process ids prove both workers answered.
"""

from __future__ import annotations

import re
import socket
import tempfile
import time
from collections.abc import Iterator

import pytest

from harness import MediaTree, ServerProcess, free_port, raw_request, require, start_gunicorn
from security.targets import EXAMPLE_DIR, SEC_DIR, SIGNING_KEY

LIMIT = 6


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = require("redis-server")
    require("redis")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mediaserve-redis-") as data:
        server = ServerProcess(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", data],
            port=port, name="redis-server",
        ).start()  # fmt: skip
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.stop()


@pytest.fixture(scope="module")
def limited(redis_url: str, sec_tree: MediaTree) -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="mediaserve-rl-") as scratch:
        env = {
            "MEDIA_TEST_ROOT": str(sec_tree.root),
            "SEC_SIGNING_KEY": SIGNING_KEY,
            "SEC_BEACON_DIR": scratch,
            "EXAMPLE_VAR_DIR": scratch,
            "DJANGO_SETTINGS_MODULE": "sec_settings",
            "PUBLIC_BASE_URL": "http://127.0.0.1",
            "SEC_REDIS_URL": redis_url,
            "SEC_RATE_LIMIT": str(LIMIT),
        }
        server = start_gunicorn(
            "sec_wsgi:wrapper", env=env, pythonpath=[SEC_DIR, EXAMPLE_DIR], cwd=EXAMPLE_DIR,
            workers=2, extra_args=["--access-logformat", "pid=%(p)s %(r)s %(s)s"],
        )  # fmt: skip
        yield server
        server.stop()


def get(server: ServerProcess, path: str, *headers: str) -> tuple[int, dict[str, str]]:
    lines = "".join(f"{h}\r\n" for h in (*headers, "Connection: close"))
    data = f"GET {path} HTTP/1.1\r\nHost: t\r\n{lines}\r\n".encode()
    response = raw_request(server.host, server.port, data)
    return response.status, dict(response.headers.items())


def _hold(server: ServerProcess, *headers: str) -> socket.socket:
    """A connection with half a request sent: a sync worker that accepts it waits on it,
    so the next connections go to the other worker."""
    sock = socket.create_connection((server.host, server.port), timeout=15)
    head = "".join(f"{h}\r\n" for h in headers)
    sock.sendall(f"GET /media/hello.txt HTTP/1.1\r\nHost: t\r\n{head}".encode())
    time.sleep(0.2)  # let a worker accept it (not a timing assertion: only ordering)
    return sock


def _finish(sock: socket.socket) -> int:
    sock.sendall(b"Connection: close\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return int(data.split(b" ", 2)[1])


def test_two_workers_share_one_bucket_per_client(limited: ServerProcess) -> None:
    """Worker X is held by half a request while worker Y answers three; then Y is held while
    X answers the rest. Together they admit exactly LIMIT, then 429 with Retry-After."""
    client = "X-Forwarded-For: 203.0.113.10"
    first = _hold(limited, client)  # worker X
    statuses = [get(limited, "/media/hello.txt", client)[0] for _ in range(3)]  # worker Y
    second = _hold(limited, client)  # worker Y (X is still waiting on the first)
    statuses.append(_finish(first))  # X
    answers = [get(limited, "/media/hello.txt", client) for _ in range(LIMIT)]  # X
    statuses += [status for status, _ in answers]
    statuses.append(_finish(second))  # Y
    assert statuses == [200] * LIMIT + [429] * 5  # 3 + 1 + LIMIT + 1 requests in all
    assert all(int(headers["retry-after"]) >= 1 for status, headers in answers if status == 429)
    pids = set(re.findall(r"pid=<?(\d+)>? GET /media/hello\.txt HTTP/1.1 200", limited.logs()))
    assert len(pids) == 2, limited.log_tail(40)


def test_private_names_handed_to_django_are_counted_once(limited: ServerProcess) -> None:
    """The wrapper counts, then Django's view sees the mark and does not count again."""
    client = "X-Forwarded-For: 203.0.113.11"
    statuses = [get(limited, "/media/private/doc.pdf", client)[0] for _ in range(LIMIT + 1)]
    assert statuses == [404] * LIMIT + [429]


def test_forwarded_for_from_a_trusted_proxy_separates_clients(limited: ServerProcess) -> None:
    for _ in range(LIMIT):
        get(limited, "/media/hello.txt", "X-Forwarded-For: 203.0.113.12")
    assert get(limited, "/media/hello.txt", "X-Forwarded-For: 203.0.113.12")[0] == 429
    assert get(limited, "/media/hello.txt", "X-Forwarded-For: 203.0.113.13")[0] == 200


def test_rotating_ipv6_addresses_inside_one_64_share_one_bucket(limited: ServerProcess) -> None:
    """One subscriber's /64 is one client, however many of its 2^64 addresses it uses (RFC
    8981 privacy addresses, or a script picking a fresh one per request): both workers count
    the /64 in the same Redis bucket. Loopback has ::1 only, so the addresses arrive the way
    a proxy reports them, through the trusted X-Forwarded-For."""
    rotating = [f"X-Forwarded-For: 2001:db8:77:1:{i:x}:{i * 31:x}::{i}"
                for i in range(1, LIMIT + 3)]  # fmt: skip
    statuses = [get(limited, "/media/hello.txt", client)[0] for client in rotating]
    assert statuses == [200] * LIMIT + [429] * 2
    neighbour = get(limited, "/media/hello.txt", "X-Forwarded-For: 2001:db8:77:2::1")[0]
    assert neighbour == 200  # the next /64 is another subscriber

    def throttled() -> list[str]:
        return [line for line in limited.logs().splitlines()
                if "throttled" in line and "2001:db8:77:1::/64" in line]  # fmt: skip

    deadline = time.monotonic() + 5  # event lines follow the response by a moment
    while len(throttled()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(throttled()) == 2, limited.log_tail(20)


def test_a_spoofed_first_hop_does_not_escape_the_bucket(limited: ServerProcess) -> None:
    """A client writing its own X-Forwarded-For gets the address the proxy appended."""
    statuses = [
        get(limited, "/media/hello.txt", f"X-Forwarded-For: 10.9.9.{i}, 203.0.113.14")[0]
        for i in range(LIMIT + 1)
    ]
    assert statuses[-1] == 429


def test_allow_listed_crawlers_are_not_limited(limited: ServerProcess) -> None:
    agent = "User-Agent: facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
    client = "X-Forwarded-For: 203.0.113.15"
    statuses = [get(limited, "/media/hello.txt", client, agent)[0] for _ in range(LIMIT * 2)]
    assert statuses == [200] * (LIMIT * 2)
    assert get(limited, "/media/hello.txt", client)[0] == 200  # its bucket was never used


def test_throttling_is_logged_at_warning_with_the_client(limited: ServerProcess) -> None:
    client = "X-Forwarded-For: 203.0.113.16"
    for _ in range(LIMIT + 1):
        get(limited, "/media/hello.txt", client)

    def throttled() -> list[str]:
        return [
            line
            for line in limited.logs().splitlines()
            if "throttled" in line and "203.0.113.16" in line
        ]

    # The event line is written once the 429 went out, maybe just after the client read it.
    deadline = time.monotonic() + 5
    while not throttled() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a second line would show by now
    lines = throttled()
    assert len(lines) == 1
    assert "WARNING" in lines[0]
    assert f"rate limit of {LIMIT} per 3600s" in lines[0]
