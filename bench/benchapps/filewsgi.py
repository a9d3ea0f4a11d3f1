"""Same-server reference: the smallest honest WSGI file app (open + fstat, no Range).

It opens the file, takes the length from the same descriptor, and hands it to
``wsgi.file_wrapper`` when the server has one (gunicorn: sendfile) or iterates 256 KiB
reads otherwise (granian's WSGI mode has no file_wrapper). It shows what any file
serving costs on a given server before RFC 9110 features (validators, Range) are added.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from benchapps._env import MEDIA_PREFIX, media_root

StartResponse = Callable[..., Any]
CHUNK = 256 * 1024
ROOT = media_root()
NOT_FOUND = [("Content-Type", "text/plain"), ("Content-Length", "9")]


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    try:
        while block := f.read(CHUNK):
            yield block
    finally:
        f.close()


def app(environ: dict[str, Any], start_response: StartResponse) -> Any:
    path: str = environ.get("PATH_INFO", "")
    name = path[len(MEDIA_PREFIX) :] if path.startswith(MEDIA_PREFIX) else ""
    if not name or "/" in name or name.startswith("."):
        start_response("404 Not Found", NOT_FOUND)
        return [b"not found"]
    try:
        f = open(os.path.join(ROOT, name), "rb")  # noqa: SIM115 - closed by the server/iterator
    except OSError:
        start_response("404 Not Found", NOT_FOUND)
        return [b"not found"]
    size = os.fstat(f.fileno()).st_size
    start_response(
        "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
    )
    wrapper = environ.get("wsgi.file_wrapper")
    return wrapper(f, CHUNK) if wrapper else _chunks(f)
