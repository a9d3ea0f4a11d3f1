"""gunicorn hooks for Prometheus multiprocess mode; use as the config file or import them.

    PROMETHEUS_MULTIPROC_DIR=/run/myapp-metrics MEDIASERVE_METRICS_BIND=127.0.0.1:9100 \\
        gunicorn -c python:mediaserve.metrics.gunicorn_conf myproject.wsgi

or, in your own ``gunicorn.conf.py``::

    from mediaserve.metrics.gunicorn_conf import child_exit, on_starting, when_ready

``on_starting`` empties the directory (counts of a previous run would be added to this
run's), ``child_exit`` tells prometheus_client that a worker is gone (its live gauges are
dropped; its counters stay, as Prometheus expects of counters), and ``when_ready`` serves
every worker's counts from the master on ``MEDIASERVE_METRICS_BIND`` when it is set.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

__all__ = ["ENV_BIND", "child_exit", "on_starting", "when_ready"]

ENV_BIND = "MEDIASERVE_METRICS_BIND"


def _folder() -> str:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        raise RuntimeError(
            "PROMETHEUS_MULTIPROC_DIR is not set: several gunicorn workers need a directory"
            " for their metrics (export PROMETHEUS_MULTIPROC_DIR=/run/<app>-metrics)"
        )
    return folder


def on_starting(server: Any) -> None:
    """Start from an empty multiprocess directory (created if needed)."""
    folder = _folder()
    if os.path.isdir(folder):
        for entry in os.scandir(folder):
            if entry.is_file() and entry.name.endswith(".db"):
                os.unlink(entry.path)
    else:
        os.makedirs(folder, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: drop its live gauges (prometheus_client's documented hook)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, _folder())  # type: ignore[no-untyped-call]


def when_ready(server: Any) -> None:
    """Serve the exposition from the master when ``MEDIASERVE_METRICS_BIND`` is set."""
    bind = os.environ.get(ENV_BIND)
    if bind:
        from .exposition import serve_in_thread

        serve_in_thread(bind)
        server.log.info("mediaserve metrics on http://%s/metrics", bind)


def remove_folder(folder: str) -> None:
    """Remove a temporary multiprocess directory (``mediaserve serve`` at exit)."""
    shutil.rmtree(folder, ignore_errors=True)
