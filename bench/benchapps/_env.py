"""Environment shared by the benchmark apps."""

from __future__ import annotations

import os

MEDIA_PREFIX = "/media/"


def media_root() -> str:
    """Directory with the benchmark files (set by bench/run.py)."""
    try:
        return os.environ["BENCH_MEDIA_ROOT"]
    except KeyError:
        raise RuntimeError("BENCH_MEDIA_ROOT is not set: run through bench/run.py") from None
