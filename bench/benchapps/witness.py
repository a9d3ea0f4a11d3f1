"""One log line per imported tree: which ``mediaserve`` (and example project) a server runs.

Every candidate's entry point calls :func:`announce` when the server imports it, so the line
lands in the server's log before the server answers. ``bench/run.py`` reads it back and
refuses a server whose modules come from another tree than the one it meant to measure: a
``--baseline`` run can never measure the same source twice without saying so.
"""

from __future__ import annotations

import importlib
import os
import sys

PREFIX = "BENCH_IMPORT"


def announce(*modules: str) -> None:
    """Print ``BENCH_IMPORT pid=<pid> <module>=<file>`` to stderr for each module."""
    for name in modules:
        module = sys.modules.get(name) or importlib.import_module(name)
        where = getattr(module, "__file__", None) or "?"
        print(f"{PREFIX} pid={os.getpid()} {name}={where}", file=sys.stderr, flush=True)
