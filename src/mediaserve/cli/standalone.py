"""Entry points for ``mediaserve serve``: the app is configured from the environment.

Server processes import the app by name in each worker, so the CLI passes the
directory and options through environment variables rather than objects.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ..delivery.asgi import ASGIMedia
from ..delivery.wsgi import WSGIMedia
from ..http.plan import ServeOptions
from ..metrics.env import configure_from_env
from ..sources.local import DEFAULT_HOT, HotLimits, LocalSource

__all__ = [
    "TreeSample",
    "asgi_app",
    "choose_server",
    "hot_from_env",
    "options_from_env",
    "run_gunicorn",
    "sample_tree",
    "wsgi_app",
]

ENV_ROOT = "MEDIASERVE_ROOT"
ENV_PREFIX = "MEDIASERVE_PREFIX"
ENV_CACHE_CONTROL = "MEDIASERVE_CACHE_CONTROL"
ENV_CHUNK_SIZE = "MEDIASERVE_CHUNK_SIZE"
# Bytes the hot cache may hold per worker ("0": no cache), see sources/local.py's HotCache.
ENV_HOT_CACHE_SIZE = "MEDIASERVE_HOT_CACHE_SIZE"
# granian's WSGI mode queues several chunks of each response ahead of a slow client: with
# 256 KiB chunks, 16 rate-limited downloads grew a worker by ~40 MB, with 64 KiB by ~17 MB,
# at ~8 % more CPU per GB (bench/, memory and large scenarios). It is also the library
# default (ServeOptions.chunk_size); the CLI pins it so a default change cannot undo this.
GRANIAN_CHUNK_SIZE = 64 * 1024


def options_from_env() -> ServeOptions:
    defaults = ServeOptions()
    cache_control = os.environ.get(ENV_CACHE_CONTROL) or defaults.cache_control
    text = os.environ.get(ENV_CHUNK_SIZE)
    chunk_size = defaults.chunk_size
    if text:
        try:
            chunk_size = int(text)
        except ValueError:
            raise RuntimeError(
                f"{ENV_CHUNK_SIZE} must be a number of bytes, not {text!r}"
            ) from None
        if chunk_size < 4096:
            raise RuntimeError(f"{ENV_CHUNK_SIZE} must be at least 4096, not {text}")
    return ServeOptions(cache_control=cache_control, chunk_size=chunk_size)


def hot_from_env() -> HotLimits | None:
    """The hot cache's limits from ``MEDIASERVE_HOT_CACHE_SIZE`` (bytes; 0 turns it off)."""
    text = os.environ.get(ENV_HOT_CACHE_SIZE)
    if not text:
        return DEFAULT_HOT
    try:
        size = int(text)
    except ValueError:
        raise RuntimeError(
            f"{ENV_HOT_CACHE_SIZE} must be a number of bytes, not {text!r}"
        ) from None
    if size < 0:
        raise RuntimeError(f"{ENV_HOT_CACHE_SIZE} must be >= 0 (0 turns the cache off), not {text}")
    return HotLimits(max_bytes=size, max_file=DEFAULT_HOT.max_file) if size else None


def _root() -> str:
    root = os.environ.get(ENV_ROOT)
    if not root:
        raise RuntimeError(f"{ENV_ROOT} is not set: start the server with `mediaserve serve DIR`")
    return root


def wsgi_app() -> WSGIMedia:
    """Factory used by granian/gunicorn: ``mediaserve.cli.standalone:wsgi_app()``."""
    configure_from_env()  # --metrics-bind
    source = LocalSource(_root(), hot=hot_from_env())
    return WSGIMedia(source, prefix=os.environ.get(ENV_PREFIX, "/"), options=options_from_env())


def asgi_app() -> ASGIMedia:
    """Factory used by granian/uvicorn: ``mediaserve.cli.standalone:asgi_app()``."""
    configure_from_env()  # --metrics-bind
    source = LocalSource(_root(), hot=hot_from_env())
    return ASGIMedia(source, prefix=os.environ.get(ENV_PREFIX, "/"), options=options_from_env())


# --- which server for a tree ----------------------------------------------------------------
#
# Server CPU on one core per request and per byte, from docs/benchmarks.md ("Server choice"):
# granian answers a small request for the least CPU but copies every byte of a body through
# user space (it has no sendfile: tokio, under it, offers none, granian issue #434); gunicorn
# costs ~8x more per request and sends large bodies with sendfile(2), at nginx's CPU per GB.
GRANIAN_US_PER_REQUEST = 15.0
GRANIAN_NS_PER_BYTE = 0.39
GUNICORN_US_PER_REQUEST = 125.0
GUNICORN_NS_PER_BYTE = 0.15
# Bodies below this are copied by both servers (delivery/wsgi.py's SENDFILE_MIN).
SENDFILE_FROM = 64 * 1024


@dataclass(frozen=True)
class TreeSample:
    """What ``sample_tree`` saw: regular files, their bytes, and the bytes that gunicorn
    would send with sendfile; ``complete`` is False when the walk stopped at its bound."""

    files: int
    total: int
    sendfile_bytes: int
    complete: bool

    def cost_us(self, server: str) -> float:
        """Server CPU (µs) to send every file once, by the constants above."""
        if server == "gunicorn":
            copied = self.total - self.sendfile_bytes
            return (
                self.files * GUNICORN_US_PER_REQUEST
                + copied * GRANIAN_NS_PER_BYTE / 1000
                + self.sendfile_bytes * GUNICORN_NS_PER_BYTE / 1000
            )
        return self.files * GRANIAN_US_PER_REQUEST + self.total * GRANIAN_NS_PER_BYTE / 1000


def sample_tree(root: str, *, max_files: int = 20_000, max_seconds: float = 2.0) -> TreeSample:
    """Walk ``root`` (no symlinks, no dotfiles: what would be served) up to a bound."""
    files = total = big = 0
    deadline = time.monotonic() + max_seconds
    pending = [root]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        size = entry.stat(follow_symlinks=False).st_size
                        files += 1
                        total += size
                        big += size if size > SENDFILE_FROM else 0
                    if files >= max_files or time.monotonic() > deadline:
                        return TreeSample(files, total, big, complete=False)
        except OSError:
            continue
    return TreeSample(files, total, big, complete=True)


def choose_server(root: str) -> tuple[str, str]:
    """``("granian" | "gunicorn", why)`` for serving ``root``, assuming every file is asked
    for equally often: gunicorn when sending the tree once costs it less CPU than granian,
    i.e. when large files (sendfile) outweigh the per-request cost (mean size above ~0.5 MB).
    """
    sample = sample_tree(root)
    seen = f"{sample.files:,} files{'' if sample.complete else ' (sampled)'}"
    if not sample.files:
        return "granian", "no files yet: small-file request rate"
    mean = sample.total / sample.files
    granian, gunicorn = sample.cost_us("granian"), sample.cost_us("gunicorn")
    detail = f"{seen}, mean {mean / 1e6:.2f} MB"
    if gunicorn < granian:
        return "gunicorn", f"{detail}: large files, sent with sendfile"
    return "granian", f"{detail}: small files, request rate"


def run_gunicorn(bind: str, *, workers: int, threads: int) -> int:
    """Run :func:`wsgi_app` under gunicorn's gthread workers until stopped.

    gunicorn is the server whose ``wsgi.file_wrapper`` sends exactly Content-Length bytes
    from the file's offset with sendfile(2), so large files and single ranges never pass
    through Python. Raises ImportError when gunicorn is not installed.
    """
    from gunicorn.app.base import BaseApplication

    settings: dict[str, object] = {
        "bind": bind,
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        # Newer gunicorn opens a control socket under ~/.gunicorn by default; not needed.
        "control_socket_disable": True,
        "accesslog": None,
    }

    class _Standalone(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> WSGIMedia:
            return wsgi_app()

    _Standalone().run()
    return 0
