"""Entry points for ``mediaserve serve``: the app is configured from the environment.

Server processes import the app by name in each worker, so the CLI passes the
directory and options through environment variables rather than objects.
"""

from __future__ import annotations

import os

from ..delivery.asgi import ASGIMedia
from ..delivery.wsgi import WSGIMedia
from ..http.plan import ServeOptions
from ..metrics.env import configure_from_env

__all__ = ["asgi_app", "options_from_env", "run_gunicorn", "wsgi_app"]

ENV_ROOT = "MEDIASERVE_ROOT"
ENV_PREFIX = "MEDIASERVE_PREFIX"
ENV_CACHE_CONTROL = "MEDIASERVE_CACHE_CONTROL"
ENV_CHUNK_SIZE = "MEDIASERVE_CHUNK_SIZE"
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


def _root() -> str:
    root = os.environ.get(ENV_ROOT)
    if not root:
        raise RuntimeError(f"{ENV_ROOT} is not set: start the server with `mediaserve serve DIR`")
    return root


def wsgi_app() -> WSGIMedia:
    """Factory used by granian/gunicorn: ``mediaserve.cli.standalone:wsgi_app()``."""
    configure_from_env()  # --metrics-bind
    return WSGIMedia(_root(), prefix=os.environ.get(ENV_PREFIX, "/"), options=options_from_env())


def asgi_app() -> ASGIMedia:
    """Factory used by granian/uvicorn: ``mediaserve.cli.standalone:asgi_app()``."""
    configure_from_env()  # --metrics-bind
    return ASGIMedia(_root(), prefix=os.environ.get(ENV_PREFIX, "/"), options=options_from_env())


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
