"""The server's bare-WSGI ceiling: the 10 KB body from memory, no file system, no framework.

Any path answers 200 with the same bytes the file servers send for ``small.bin``, so the
only work left is the server's own HTTP parsing and writing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Any]

_path = os.path.join(os.environ.get("BENCH_MEDIA_ROOT", ""), "small.bin")
try:
    with open(_path, "rb") as _f:
        BODY = _f.read()
except OSError:  # the harness always sets BENCH_MEDIA_ROOT; this keeps imports total
    BODY = b"x" * 10240

HEADERS = [
    ("Content-Type", "application/octet-stream"),
    ("Content-Length", str(len(BODY))),
]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]
