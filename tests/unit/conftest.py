"""Unit tests judge the plain pipeline: no observer installed.

A Django test earlier in the same process installs the process's observer when the app
registry is ready (``mediaserve.django.observability``), and it stays: a plain WSGI/ASGI app
in that process would then count and write event lines. These tests assert what a plain app
that never called ``mediaserve.metrics.configure()`` logs, so each runs without it.
"""

from __future__ import annotations

import pytest

from mediaserve import metrics


@pytest.fixture(autouse=True)
def _no_observer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "OBSERVER", None)
