"""Shared by the hot-cache tests: call a WSGI app in-process, and a tree served twice,
with the hot cache and without it (the oracle every hot answer must equal)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mediaserve.delivery.wsgi import WSGIMedia
from mediaserve.sources.local import HotCache, HotLimits, LocalSource

Answer = tuple[str, list[tuple[str, str]], bytes]


def call(app: WSGIMedia, path: str, **headers: str) -> Answer:
    """One GET (or ``method=``) through the WSGI callable, as a server would make it."""
    method = headers.pop("method", "GET")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "RAW_URI": path,
        "QUERY_STRING": "",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_SOFTWARE": "test",
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()},
    }
    seen: list[Any] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> None:
        seen[:] = [status, list(response_headers)]

    body = app(environ, start_response)
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return seen[0], seen[1], data


class Pair:
    """The same tree served with the hot cache and without it."""

    def __init__(self, root: Path, limits: HotLimits, **kwargs: Any) -> None:
        self.root = root
        self.source = LocalSource(root, hot=limits)
        self.hot = WSGIMedia(self.source, prefix="/media/", **kwargs)
        self.oracle = WSGIMedia(LocalSource(root, hot=None), prefix="/media/", **kwargs)

    @property
    def cache(self) -> HotCache:
        assert self.source.hot is not None
        return self.source.hot

    def both(self, name: str, **headers: str) -> Answer:
        """The hot answer, after checking that the oracle gives exactly the same."""
        hot = call(self.hot, "/media/" + name, **headers)
        expected = call(self.oracle, "/media/" + name, **headers)
        assert hot == expected
        return hot


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    os.replace(tmp, path)
