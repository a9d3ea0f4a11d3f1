"""The harness works against the real things, and cleans up after itself.

Every test here runs real processes: gunicorn, uvicorn, granian (WSGI and ASGI), Debian's
nginx, curl and headless Chromium, against the tiny apps in ``tests/apps``. None of it imports
``mediaserve``: the harness must be trustworthy before the package is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from harness import (
    LOOPBACK,
    TESTS_DIR,
    Chromium,
    Headers,
    MediaTree,
    NginxConfigError,
    NginxSite,
    ServerProcess,
    ServerStartError,
    curl,
    free_port,
    make_video,
    media_tree,
    port_accepts,
    process_group_members,
    raw_request,
    require,
    start_nginx,
)

pytestmark = pytest.mark.integration

ServerFactory = Callable[..., ServerProcess]
APPS = [TESTS_DIR]  # pythonpath that makes ``apps.hello`` importable in the server


def assert_stopped_cleanly(server: ServerProcess) -> None:
    """stop() leaves no process of the server's group behind, workers included."""
    pid = server.pid
    assert pid is not None
    server.stop()
    assert not server.is_running()
    assert process_group_members(pid) == []
    assert not port_accepts(LOOPBACK, server.port)


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a reaper (PID 1 here may never reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def _wait_gone(pid: int, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while process_group_members(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return process_group_members(pid)


# -- ports and processes -------------------------------------------------------------------------


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    ports = {free_port() for _ in range(20)}
    assert len(ports) == 20
    assert not any(port_accepts(LOOPBACK, p) for p in ports)


def test_start_error_quotes_the_output_of_a_process_that_died() -> None:
    script = "print('boom: settings module missing'); raise SystemExit(3)"
    server = ServerProcess([sys.executable, "-c", script], port=free_port(), timeout=10)
    with pytest.raises(ServerStartError, match="exited with code 3") as info:
        server.start()
    assert "boom: settings module missing" in str(info.value)
    assert info.value.returncode == 3


def test_start_times_out_and_kills_a_process_that_never_listens() -> None:
    server = ServerProcess(
        [sys.executable, "-c", "print('sleeping', flush=True); import time; time.sleep(60)"],
        port=free_port(),
        timeout=0.5,
    )
    with pytest.raises(ServerStartError, match="never accepted a connection") as info:
        server.start()
    assert "sleeping" in str(info.value)
    assert server.pid is not None
    assert process_group_members(server.pid) == []


def test_readiness_url_must_answer_with_an_accepted_status(media: MediaTree) -> None:
    # The port opens at once, but /missing answers 404: with ready_statuses={200} that is
    # "not ready", and the error says what the URL answered.
    port = free_port()
    server = ServerProcess(
        [sys.executable, "-m", "http.server", "--bind", LOOPBACK, str(port)],
        port=port,
        cwd=media.root,
        ready_url="/missing",
        ready_statuses={200},
        timeout=0.5,
    )
    with pytest.raises(
        ServerStartError, match=r"readiness URL not ready \(GET .*/missing -> 404\)"
    ):
        server.start()


IGNORES_SIGTERM = textwrap.dedent(
    """
    import signal, socket, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
    print("child", child.pid, flush=True)
    s = socket.socket()
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen()
    time.sleep(600)
    """
)


def test_stop_kills_a_group_that_ignores_sigterm_children_included() -> None:
    port = free_port()
    server = ServerProcess([sys.executable, "-c", IGNORES_SIGTERM, str(port)], port=port)
    server.stop_timeout = 0.5
    server.start()
    child_pid = int(server.logs().split("child", 1)[1].split()[0])
    assert child_pid in process_group_members(server.pid or 0)
    assert_stopped_cleanly(server)
    assert not _alive(child_pid)


INNER_TEST = """
import os, time
from pathlib import Path
from harness import TESTS_DIR

def test_starts_a_server_then_fails(gunicorn):
    server = gunicorn("apps.hello:wsgi", pythonpath=[TESTS_DIR], workers=2)
    Path(os.environ["PID_FILE"]).write_text(str(server.pid))
    if os.environ.get("HANG"):
        time.sleep(600)
    assert False, "this test fails on purpose"
"""


@pytest.mark.parametrize("how", ["failing test", "test process killed"])
def test_servers_do_not_outlive_a_failing_or_killed_test(tmp_path: Path, how: str) -> None:
    # A pytest run of its own, using tests/conftest.py as a plugin, so the real fixture
    # teardown (or, under SIGKILL, the parent-death signal) is what cleans up.
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    pid_file = tmp_path / "pid"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
        "PID_FILE": str(pid_file),
        "TMPDIR": str(tmp_path),  # a SIGKILLed run cannot remove its log folders itself
        "HANG": "1" if how == "test process killed" else "",
    }
    inner = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
         str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    if how == "test process killed":
        deadline = time.monotonic() + 30
        while not pid_file.exists() and inner.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        inner.kill()
    out, _ = inner.communicate(timeout=60)
    assert pid_file.exists(), out.decode()
    server_pid = int(pid_file.read_text())
    assert _wait_gone(server_pid) == [], f"gunicorn group {server_pid} outlived the test"
    if how == "failing test":
        assert inner.returncode == 1, out.decode()
        assert b"this test fails on purpose" in out
    else:
        assert inner.returncode == -signal.SIGKILL


# -- app servers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("worker_class", "threads"), [("sync", 1), ("gthread", 4)])
def test_gunicorn_serves_the_wsgi_app(
    gunicorn: ServerFactory, worker_class: str, threads: int
) -> None:
    server = gunicorn(
        "apps.hello:wsgi", pythonpath=APPS, workers=2, worker_class=worker_class, threads=threads
    )
    response = curl(server.url("/"))
    assert response.status == 200
    assert response.body == b"hello from wsgi\n"
    assert response.headers["x-app-interface"] == "wsgi"
    # Readiness means one worker answers; the second may still be booting.
    deadline = time.monotonic() + 10
    while len(process_group_members(server.pid or 0)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(process_group_members(server.pid or 0)) == 3  # the master and two workers
    assert_stopped_cleanly(server)


def test_uvicorn_serves_the_asgi_app(uvicorn: ServerFactory) -> None:
    server = uvicorn("apps.hello:asgi", pythonpath=APPS)
    response = curl(server.url("/"))
    assert (response.status, response.body) == (200, b"hello from asgi\n")
    assert "uvicorn" in response.headers["server"]
    assert_stopped_cleanly(server)


@pytest.mark.parametrize("interface", ["wsgi", "asgi"])
def test_granian_serves_both_interfaces(granian: ServerFactory, interface: str) -> None:
    server = granian(f"apps.hello:{interface}", interface=interface, pythonpath=APPS)
    response = curl(server.url("/"))
    assert (response.status, response.body) == (200, f"hello from {interface}\n".encode())
    assert response.headers["x-app-interface"] == interface
    assert_stopped_cleanly(server)


def test_server_env_reaches_the_app_and_logs_are_captured(gunicorn: ServerFactory) -> None:
    server = gunicorn("apps.hello:wsgi", pythonpath=APPS, env={"MEDIASERVE_PROBE": "x"})
    curl(server.url("/echo?probe=1"))
    assert "GET /echo?probe=1" in server.logs()  # gunicorn's access log, captured
    assert "Booting worker" in server.logs()


# -- nginx ---------------------------------------------------------------------------------------


def test_nginx_serves_a_media_dir_with_ranges_and_unicode_names(
    nginx: ServerFactory, media: MediaTree
) -> None:
    server = nginx(f"location / {{ root {media.root}; }}")
    whole = curl(server.url("/" + media.binary))
    assert whole.status == 200
    assert whole.body == media.content(media.binary)

    part = curl(server.url("/" + media.binary), "-H", "Range: bytes=100-199")
    assert part.status == 206
    assert part.headers["content-range"] == f"bytes 100-199/{1024 * 1024}"
    assert part.body == media.content(media.binary)[100:200]

    unicode_url = server.url("/" + quote(media.unicode_name))
    assert curl(unicode_url).body == media.content(media.unicode_name)
    assert "GET /random.bin" in server.logs()  # access.log is part of logs()


def test_curl_sends_dot_segments_as_written(nginx: ServerFactory, media: MediaTree) -> None:
    # Without --path-as-is curl would squash /../ and ask for /etc/passwd (a 404); nginx
    # answers 400 only when it sees the traversal itself.
    server = nginx(f"location / {{ root {media.root}; }}")
    assert curl(server.url("/../../etc/passwd")).status == 400


def test_nginx_builder_proxies_to_an_app_server(
    nginx: ServerFactory, gunicorn: ServerFactory
) -> None:
    app = gunicorn("apps.hello:wsgi", pythonpath=APPS)

    def conf(site: NginxSite) -> str:
        return f"""
        upstream app {{ server {LOOPBACK}:{app.port}; }}
        server {{
            {site.listen}
            location / {{ proxy_pass http://app; proxy_set_header X-Via harness-nginx; }}
        }}
        """

    proxy = nginx(conf)
    response = curl(proxy.url("/echo?x=1"), "-H", "X-Test: 1")
    assert response.status == 200
    assert response.json()["headers"]["x-via"] == "harness-nginx"
    assert response.json()["query"] == "x=1"
    assert response.headers.getall("X-Multi") == ["one", "two"]
    assert response.headers["x-multi"] == "one, two"
    assert "nginx" in response.headers["server"]


def test_nginx_config_errors_name_the_problem(nginx: ServerFactory) -> None:
    with pytest.raises(NginxConfigError, match='unknown directive "bogus_directive"') as info:
        nginx("location / { bogus_directive on; }")
    assert "--- nginx.conf ---" in str(info.value)


# -- raw sockets ---------------------------------------------------------------------------------


def test_raw_request_reaches_nginx_with_what_curl_would_refuse(
    nginx: ServerFactory, media: MediaTree
) -> None:
    server = nginx(f"location / {{ root {media.root}; }}")
    status, headers, _ = raw_request(LOOPBACK, server.port, b"GET /hello.txt\x00 HTTP/1.1\r\n\r\n")
    assert status == 400
    assert "nginx" in headers["server"]

    ok = raw_request(
        LOOPBACK, server.port, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert (ok.status, ok.body) == (200, media.content(media.text))


def test_raw_request_decodes_chunked_bodies_on_a_kept_alive_connection(
    uvicorn: ServerFactory,
) -> None:
    # No "Connection: close": the body must be framed by the chunks, not by the close.
    server = uvicorn("apps.hello:asgi", pythonpath=APPS)
    response = raw_request(
        LOOPBACK, server.port, b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3
    )
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.body == b"first,second,third\n"

    head = raw_request(LOOPBACK, server.port, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
    assert (head.status, head.body, head.headers["content-length"]) == (200, b"", "16")


def test_raw_request_reports_status_zero_when_the_server_just_closes() -> None:
    port = free_port()
    script = (
        "import socket, sys; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); "
        "s.listen()\nwhile True: c, _ = s.accept(); c.recv(100); c.close()"
    )
    with ServerProcess([sys.executable, "-c", script, str(port)], port=port) as server:
        assert raw_request(LOOPBACK, server.port, b"GET / HTTP/1.1\r\n\r\n").status == 0


# -- pure helpers --------------------------------------------------------------------------------


def test_headers_are_case_insensitive_and_keep_every_field() -> None:
    headers = Headers.parse(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n"
    )
    assert headers["CONTENT-TYPE"] == "text/plain"
    assert headers.getall("Set-Cookie") == ["a=1", "b=2"]
    assert "set-COOKIE" in headers
    assert list(headers) == ["content-type", "set-cookie"]
    assert headers.get("missing") is None


def test_media_tree_has_every_kind_of_sample(media: MediaTree) -> None:
    root = media.root
    assert len(media.content(media.binary)) == 1024 * 1024
    assert (root / media.unicode_name).read_bytes() == media.content(media.unicode_name)
    assert (root / media.symlink_inside).resolve() == (root / media.text).resolve()
    assert not (root / media.symlink_outside).resolve().is_relative_to(root.resolve())
    assert (root / media.symlink_outside).read_bytes() == media.outside_secret
    assert (root / media.dotfile).name.startswith(".")
    for folder in (media.base, root, root / "nested", root / "nested/deeper"):
        assert folder.stat().st_mode & 0o777 == 0o755


# -- chromium ------------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>harness page</title></head>
<body>
<img id="img" src="image.png" alt="sample">
<video id="video" src="clip.webm" preload="auto" muted></video>
</body></html>
"""

SEEK = """async (to) => {
  const v = document.getElementById('video');
  if (v.readyState < 1) {
    await new Promise((ok, fail) => {
      v.addEventListener('loadedmetadata', ok, {once: true});
      v.addEventListener('error', () => fail(new Error('video error ' + v.error?.code)));
    });
  }
  await new Promise((ok) => {
    v.addEventListener('seeked', ok, {once: true});
    v.currentTime = to;
  });
  return {duration: v.duration, currentTime: v.currentTime};
}"""


@pytest.fixture(scope="module")
def page_site() -> Iterator[ServerProcess]:
    """nginx serving the sample tree plus an HTML page and a 4 s WebM, for both browser tests."""
    require("nginx")
    with media_tree() as media:
        (media.root / "page.html").write_text(PAGE)
        (media.root / "page.html").chmod(0o644)
        make_video(media.root / "clip.webm", seconds=4)
        with start_nginx(f"location / {{ root {media.root}; }}") as server:
            yield server


def test_chromium_loads_an_nginx_served_page_with_an_image(
    chromium: Chromium, page_site: ServerProcess
) -> None:
    page = chromium.open(page_site.url("/page.html"))
    try:
        assert page.evaluate("document.title") == "harness page"
        width = page.evaluate("() => { const i = document.getElementById('img'); "
                              "return i.complete ? i.naturalWidth : -1; }")  # fmt: skip
        assert width == 16
        (image,) = page.responses_for("image.png")
        assert (image.status, image.resource_type) == (200, "image")
        assert image.headers["content-type"] == "image/png"
    finally:
        page.close()


def test_chromium_seeks_a_video_and_shows_the_range_requests(
    chromium: Chromium, page_site: ServerProcess
) -> None:
    page = chromium.open(page_site.url("/page.html"))
    try:
        state = page.evaluate(SEEK, 3)
        assert state["duration"] == pytest.approx(4, abs=0.2)
        assert state["currentTime"] == pytest.approx(3, abs=0.05)
        ranged = [r for r in page.responses_for("clip.webm") if r.status == 206]
        assert ranged, [(r.status, r.request_headers.get("range")) for r in page.responses]
        assert ranged[0].request_headers["range"].startswith("bytes=")
        assert ranged[0].headers["content-range"].startswith("bytes ")
        assert ranged[0].resource_type == "media"
    finally:
        page.close()
