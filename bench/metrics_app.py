"""The app of bench/metrics_overhead.py: ``WSGIMedia`` on a folder, with the observer chosen
by ``MS_METRICS_MODE``: ``off`` (none), ``record`` (event lines only, as Django's default
without METRICS), ``on`` (Prometheus metrics; multiprocess mode when
``PROMETHEUS_MULTIPROC_DIR`` is set, as under gunicorn in production)."""

from __future__ import annotations

import os

from mediaserve import metrics
from mediaserve.delivery.wsgi import WSGIMedia

MODE = os.environ.get("MS_METRICS_MODE", "off")
if MODE == "on":
    metrics.configure(metrics=True)
elif MODE == "record":
    metrics.configure(metrics=False)
elif MODE != "off":
    raise SystemExit(f"MS_METRICS_MODE must be off, record or on, not {MODE!r}")

app = WSGIMedia(os.environ["MS_METRICS_ROOT"], prefix="/media/")
