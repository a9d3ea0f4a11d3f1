"""The observability stack of tests/metrics: Redis, the example project under gunicorn with two
workers in Prometheus multiprocess mode, and a real Prometheus scraping it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import REPO_ROOT, ServerProcess, free_port, require, start_gunicorn

METRICS_TESTS = Path(__file__).resolve().parent
EXAMPLE_DIR = REPO_ROOT / "example"
SECRET = "obs-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
TOKEN = "obs-scrape-token"
STAFF = ("staff", "staff-pass-123")
#: Above the hot cache's largest file (256 KiB by default), so whole GETs go by sendfile.
BIG_SIZE = 320 * 1024


def start_redis(data: Path) -> tuple[ServerProcess, str]:
    binary = require("redis-server")
    require("redis")
    port = free_port()
    server = ServerProcess(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(data)],
        port=port, name="redis-server",
    ).start()  # fmt: skip
    return server, f"redis://127.0.0.1:{port}/0"


def make_media(root: Path) -> None:
    (root / "signed").mkdir(parents=True)
    (root / "private").mkdir()
    (root / "big.bin").write_bytes(bytes(range(256)) * (BIG_SIZE // 256))
    (root / "small.jpg").write_bytes(b"\xff\xd8\xff" + b"j" * 9997)
    (root / "signed" / "doc.pdf").write_bytes(b"%PDF-1.4 signed")
    (root / "private" / "p.pdf").write_bytes(b"%PDF-1.4 private")
    (root / ".env").write_text("SECRET=1\n")


def django_env(media: Path, var: Path, redis_url: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "obs_settings",
        "DJANGO_SECRET_KEY": SECRET,
        "EXAMPLE_VAR_DIR": str(var),
        "OBS_MEDIA_ROOT": str(media),
        "OBS_REDIS_URL": redis_url,
        "OBS_METRICS_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": "http://127.0.0.1",
        "PYTHONPATH": os.pathsep.join([str(METRICS_TESTS), str(EXAMPLE_DIR)]),
    }


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE_DIR / "manage.py"), *args],
        env={**os.environ, **env}, cwd=EXAMPLE_DIR, capture_output=True, text=True, timeout=60,
        check=check,
    )  # fmt: skip


def prepare_database(env: dict[str, str]) -> None:
    manage(env, "migrate", "--noinput", "-v", "0")
    user, password = STAFF
    script = (
        "from django.contrib.auth import get_user_model as g;"
        f"g().objects.create_user({user!r}, password={password!r}, is_staff=True)"
    )
    manage(env, "shell", "-c", script)


def start_site(env: dict[str, str], multiproc: Path, metrics_port: int) -> ServerProcess:
    require("gunicorn")
    return start_gunicorn(
        "shop.wsgi:application",
        env={**env, "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
             "MEDIASERVE_METRICS_BIND": f"127.0.0.1:{metrics_port}"},
        pythonpath=[METRICS_TESTS, EXAMPLE_DIR], cwd=EXAMPLE_DIR,
        workers=2, worker_class="gthread", threads=2, ready_path="/admin/login/",
        extra_args=["-c", "python:mediaserve.metrics.gunicorn_conf",
                    "--access-logformat", "pid=%(p)s %(r)s %(s)s"],
    )  # fmt: skip


def start_prometheus(work: Path, metrics_port: int, site_port: int) -> ServerProcess:
    binary = require("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {
                "job_name": "mediaserve",
                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
            },
            {
                "job_name": "django",
                "metrics_path": "/admin/mediaserve/metrics",
                "authorization": {"type": "Bearer", "credentials": TOKEN},
                "static_configs": [{"targets": [f"127.0.0.1:{site_port}"]}],
            },
        ],
    }
    (work / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    return ServerProcess(
        [binary, f"--config.file={work / 'prometheus.yml'}",
         f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        port=port, ready_url="/-/ready", ready_statuses=[200], name="prometheus", timeout=30,
    ).start()  # fmt: skip


@dataclass
class Prometheus:
    server: ServerProcess

    def query(self, expr: str) -> float | None:
        """The instant value of ``expr`` (a scalar-like sum), None when it has no sample."""
        url = self.server.url("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=5) as answer:
            data: dict[str, Any] = json.load(answer)
        assert data["status"] == "success", data
        result = data["data"]["result"]
        if not result:
            return None
        return float(result[0]["value"][1])

    def wait_for(self, expr: str, expected: float, timeout: float = 20.0) -> float | None:
        """Poll until ``expr`` equals ``expected`` (scrapes run every second)."""
        deadline = time.monotonic() + timeout
        value = self.query(expr)
        while value != expected and time.monotonic() < deadline:
            time.sleep(0.5)
            value = self.query(expr)
        return value
