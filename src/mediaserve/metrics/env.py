"""Metrics switched on through the environment: how ``mediaserve serve --metrics-bind``
tells its worker processes (which import the app by name) to count."""

from __future__ import annotations

import os

__all__ = ["ENV_METRICS", "configure_from_env"]

#: "1": install the observer with Prometheus metrics in this process.
ENV_METRICS = "MEDIASERVE_METRICS"


def configure_from_env() -> None:
    """Install the observer when ``MEDIASERVE_METRICS=1`` (set by ``--metrics-bind``)."""
    if os.environ.get(ENV_METRICS) == "1":
        from . import configure

        configure(metrics=True)
