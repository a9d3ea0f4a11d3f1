"""Candidate ``example-*``: the example project's WSGI application, unchanged.

The harness starts the servers with ``benchapps.example_app:application`` and puts the
project's own entry point (``--example-wsgi``, default ``shop.wsgi:application``) in
``BENCH_EXAMPLE_WSGI``. This module imports it, names the ``mediaserve`` and the project
package it got (:mod:`benchapps.witness`), and hands the servers the very same object:
no wrapper runs per request.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from benchapps.witness import announce

_module, _, _attribute = os.environ.get("BENCH_EXAMPLE_WSGI", "shop.wsgi:application").partition(
    ":"
)
application: Any = getattr(importlib.import_module(_module), _attribute or "application")
announce("mediaserve", _module.partition(".")[0])
