"""``mediaserve serve --metrics-bind HOST:PORT``: every worker counts into a multiprocess
directory, and this (the parent) process serves their sum on a separate address.

The parent stays alive under both servers (gunicorn's arbiter runs in it; granian's main
process supervises its workers), so the exposition thread lives as long as the server.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import tempfile

from ..metrics.env import ENV_METRICS

__all__ = ["start_metrics"]


def start_metrics(bind: str) -> str | None:
    """Prepare the workers' environment and start the exposition; the problem, or None."""
    from ..metrics.exposition import parse_bind, serve_in_thread
    from ..metrics.gunicorn_conf import remove_folder

    try:
        parse_bind(bind)
    except ValueError as exc:
        return str(exc)
    if importlib.util.find_spec("prometheus_client") is None:
        return "needs prometheus_client: pip install 'mediaserve[metrics]'"
    # Before prometheus_client is imported anywhere: it picks its storage at import.
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        folder = tempfile.mkdtemp(prefix="mediaserve-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        atexit.register(remove_folder, folder)
    os.makedirs(folder, exist_ok=True)
    os.environ[ENV_METRICS] = "1"
    try:
        serve_in_thread(bind)
    except OSError as exc:
        return f"{bind}: cannot listen: {exc.strerror or exc} (choose another port)"
    host, port = parse_bind(bind)
    shown = f"[{host}]" if ":" in host else host
    print(f"mediaserve: metrics at http://{shown}:{port}/metrics (keep this address private)")
    return None
