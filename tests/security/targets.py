"""The delivery paths the security suite attacks, one ``Target`` each, all serving one tree.

To add a delivery path (the proxy offload, object storage...), write a function that starts
it for ``(root, env)`` and returns the running server, and register it in ``TARGETS``: every
probe in ``probes.py`` then runs against it with the same expectations. The server must
serve ``root`` at ``/media/`` with the access rules of ``sec_apps.RULES`` (signing key
``env["SEC_SIGNING_KEY"]``, private names admitted with ``Authorization: Bearer let-me-in``),
answer 200 at ``/``, and log mediaserve's WARNINGs to its output.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import (
    REPO_ROOT,
    MediaTree,
    NginxSite,
    RawResponse,
    ServerProcess,
    raw_request,
    require,
    start_gunicorn,
    start_nginx,
    start_uvicorn,
)
from mediaserve import Signer

SEC_DIR = Path(__file__).resolve().parent
EXAMPLE_DIR = REPO_ROOT / "example"
SIGNING_KEY = "security-suite-signing-key-" + "k" * 30


@dataclass(frozen=True)
class Target:
    """A running delivery path and what a probe needs to talk to it."""

    name: str
    server: ServerProcess
    tree: MediaTree
    beacon_dir: Path

    @property
    def signer(self) -> Signer:
        return Signer(SIGNING_KEY)

    def request(self, target: str, *headers: str, method: str = "GET") -> RawResponse:
        """Send ``target`` verbatim (curl would normalise it) and read one response."""
        lines = "".join(f"{h}\r\n" for h in (*headers, "Connection: close"))
        data = f"{method} {target} HTTP/1.1\r\nHost: t\r\n{lines}\r\n".encode("latin-1")
        return raw_request(self.server.host, self.server.port, data, timeout=15)

    def url(self, path: str) -> str:
        return self.server.url(path)


Starter = Callable[[Path, dict[str, str]], ServerProcess]


def _plain_wsgi(root: Path, env: dict[str, str]) -> ServerProcess:
    return start_gunicorn("sec_apps:wsgi", env=env, pythonpath=[SEC_DIR])


def _plain_asgi(root: Path, env: dict[str, str]) -> ServerProcess:
    return start_uvicorn("sec_apps:asgi", env=env, pythonpath=[SEC_DIR])


def _django(entry: str) -> Starter:
    def start(root: Path, env: dict[str, str]) -> ServerProcess:
        django_env = {**env, "DJANGO_SETTINGS_MODULE": "sec_settings",
                      "PUBLIC_BASE_URL": "http://127.0.0.1"}  # fmt: skip
        paths = [SEC_DIR, EXAMPLE_DIR]
        if entry.startswith("sec_asgi:"):
            return start_uvicorn(entry, env=django_env, pythonpath=paths, cwd=EXAMPLE_DIR)
        return start_gunicorn(entry, env=django_env, pythonpath=paths, cwd=EXAMPLE_DIR)

    return start


class ProxiedServer:
    """nginx in front of an app server, seen as one server: requests go to nginx, the logs
    are both processes' (mediaserve's WARNINGs come from the app)."""

    def __init__(self, proxy: ServerProcess, app: ServerProcess) -> None:
        self.proxy = proxy
        self.app = app
        self.host = proxy.host
        self.port = proxy.port

    def url(self, path: str) -> str:
        return self.proxy.url(path)

    def logs(self) -> str:
        return self.app.logs() + "\n" + self.proxy.logs()

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    def stop(self) -> None:
        self.proxy.stop()
        self.app.stop()


def _offload(root: Path, env: dict[str, str]) -> ServerProcess:
    """The Django wrapper with OFFLOAD behind real nginx from ``mediaserve config nginx``:
    every media URL goes to the app (``--private ''``), which checks it and hands the file
    back to nginx with X-Accel-Redirect."""
    require("nginx")
    app = _django("sec_wsgi:wrapper")(root, {**env, "SEC_OFFLOAD": "x-accel-redirect"})

    def conf(site: NginxSite) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mediaserve.cli", "config", "nginx",
             "--listen", f"127.0.0.1:{site.port}", "--media-root", str(root),
             "--upstream", f"127.0.0.1:{app.port}", "--private", ""],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return done.stdout

    try:
        proxy = start_nginx(conf)
    except BaseException:
        app.stop()
        raise
    return ProxiedServer(proxy, app)  # type: ignore[return-value]


#: name -> starter. The Django view runs behind Django's own handler and middleware; the
#: wrappers are mediaserve's fast paths in front of Django (private names fall through to it).
TARGETS: dict[str, Starter] = {
    "wsgi": _plain_wsgi,
    "asgi": _plain_asgi,
    "django-view": _django("sec_wsgi:view"),
    "django-wrapper": _django("sec_wsgi:wrapper"),
    "django-asgi-wrapper": _django("sec_asgi:wrapper"),
    "nginx-offload": _offload,
}


@contextmanager
def running(name: str, tree: MediaTree) -> Iterator[Target]:
    with tempfile.TemporaryDirectory(prefix="mediaserve-sec-") as scratch:
        beacons = Path(scratch) / "beacons"
        beacons.mkdir()
        var = Path(scratch) / "var"
        var.mkdir()
        env = {
            "MEDIA_TEST_ROOT": str(tree.root),
            "SEC_SIGNING_KEY": SIGNING_KEY,
            "SEC_BEACON_DIR": str(beacons),
            "EXAMPLE_VAR_DIR": str(var),
        }
        server = TARGETS[name](tree.root, env)
        try:
            yield Target(name, server, tree, beacons)
        finally:
            server.stop()
