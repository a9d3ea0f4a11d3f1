"""The delivery paths the security suite attacks, one ``Target`` each, all serving one tree.

To add a delivery path (the proxy offload, object storage...), write a function that starts
it for ``(root, env)`` and returns the running servers, the one the probes talk to first
(``(nginx, gunicorn)`` for a proxy in front of the app), and register it in ``TARGETS``:
every probe in ``probes.py`` then runs against it with the same expectations, and the log
checks read all the servers' output.

The front server must serve ``root`` at ``/media/`` with the access rules of
``sec_apps.RULES`` (signing key ``env["SEC_SIGNING_KEY"]``, private names admitted with
``Authorization: Bearer let-me-in``), answer 200 at ``/``, limit each client to
``RATE_LIMIT`` media requests an hour (``PROBE_AGENT`` exempt, ``X-Forwarded-For``
believed from 127.0.0.1), and log mediaserve's WARNINGs. ``sec_settings`` is that
configuration for Django.
"""

from __future__ import annotations

import json
import os
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
    SeaweedS3,
    ServerProcess,
    raw_request,
    require,
    start_gunicorn,
    start_nginx,
    start_seaweedfs,
    start_uvicorn,
)
from mediaserve import Signer

SEC_DIR = Path(__file__).resolve().parent
EXAMPLE_DIR = REPO_ROOT / "example"
SIGNING_KEY = "security-suite-signing-key-" + "k" * 30
#: Every target limits each client to RATE_LIMIT requests an hour, except this User-Agent,
#: which the probes send (so only the burst test meets the limit).
PROBE_AGENT = "mediaserve-probe"
RATE_LIMIT = 60


@dataclass(frozen=True)
class Target:
    """A running delivery path and what a probe needs to talk to it."""

    name: str
    server: ServerProcess
    tree: MediaTree
    beacon_dir: Path
    #: Servers behind ``server`` (an app behind a proxy): their output is part of the logs.
    upstreams: tuple[ServerProcess, ...] = ()

    def logs(self) -> str:
        """The output of every server of this target (mediaserve logs where the app runs)."""
        return "\n".join(s.logs() for s in (self.server, *self.upstreams))

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    @property
    def signer(self) -> Signer:
        return Signer(SIGNING_KEY)

    def request(self, target: str, *headers: str, method: str = "GET") -> RawResponse:
        """Send ``target`` verbatim (curl would normalise it) and read one response."""
        if not any(h.lower().startswith("user-agent:") for h in headers):
            headers = (*headers, f"User-Agent: {PROBE_AGENT}")  # exempt from the rate limit
        lines = "".join(f"{h}\r\n" for h in (*headers, "Connection: close"))
        data = f"{method} {target} HTTP/1.1\r\nHost: t\r\n{lines}\r\n".encode("latin-1")
        return raw_request(self.server.host, self.server.port, data, timeout=15)

    def url(self, path: str) -> str:
        return self.server.url(path)


Starter = Callable[[Path, dict[str, str]], "ServerProcess | tuple[ServerProcess, ...]"]


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


def _offload(root: Path, env: dict[str, str]) -> tuple[ServerProcess, ServerProcess]:
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
            # Options only: the suite's own DJANGO_SETTINGS_MODULE must not be read.
            env={k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        )  # fmt: skip
        return done.stdout

    try:
        proxy = start_nginx(conf)
    except BaseException:
        app.stop()
        raise
    return proxy, app


class _Store:
    """The bucket's SeaweedFS as a target member: stopped with the target; its own log is
    not the app's (weed logs routine E-lines that are not mediaserve errors)."""

    def __init__(self, store: SeaweedS3) -> None:
        self.store = store

    def logs(self) -> str:
        return ""

    def stop(self) -> None:
        self.store.close()


def _storage(root: Path, env: dict[str, str]) -> tuple[ServerProcess, ...]:
    """The Django WSGI wrapper with MEDIASERVE["STORAGE"] (proxy mode) over a real SeaweedFS
    bucket holding every regular file of the tree (symlinks and what lies outside the root
    have no counterpart in a bucket: those probes must simply find nothing)."""
    store = start_seaweedfs()
    try:
        bucket = store.create_bucket("sec-media")
        client = store.client()
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                key = path.relative_to(root).as_posix()
                client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        storage = {
            "BACKEND": "s3", "MODE": "proxy", "BUCKET": bucket,
            "ENDPOINT_URL": store.endpoint, "REGION": store.region,
            "ACCESS_KEY_ID": store.access_key, "SECRET_ACCESS_KEY": store.secret_key,
            "ADDRESSING_STYLE": "path",
        }  # fmt: skip
        app = _django("sec_wsgi:wrapper")(root, {**env, "SEC_STORAGE": json.dumps(storage)})
    except BaseException:
        store.close()
        raise
    return app, _Store(store)  # type: ignore[return-value]


#: name -> starter. The Django view runs behind Django's own handler and middleware; the
#: wrappers are mediaserve's fast paths in front of Django (private names fall through to it).
TARGETS: dict[str, Starter] = {
    "wsgi": _plain_wsgi,
    "asgi": _plain_asgi,
    "django-view": _django("sec_wsgi:view"),
    "django-wrapper": _django("sec_wsgi:wrapper"),
    "django-asgi-wrapper": _django("sec_asgi:wrapper"),
    "nginx-offload": _offload,
    "s3-storage": _storage,
}


@contextmanager
def running(name: str, tree: MediaTree, **extra_env: str) -> Iterator[Target]:
    """Start target ``name`` over ``tree``; ``extra_env`` switches on what a suite needs
    beyond the shared set-up (``SEC_FOLLOW_SYMLINKS``, ``SEC_OFFLOAD``)."""
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
            **extra_env,
        }
        started = TARGETS[name](tree.root, env)
        servers = started if isinstance(started, tuple) else (started,)
        try:
            yield Target(name, servers[0], tree, beacons, servers[1:])
        finally:
            for server in servers:  # the front first, then what it proxies to
                server.stop()
