"""The harness's Django project (``harness/djsite``) under a real server.

:func:`start_django_site` runs it under gunicorn (gthread: the worker that sends
``wsgi.file_wrapper`` bodies with sendfile) for WSGI, or uvicorn for ASGI, with media
routed to mediaserve by the view, ``MediaMiddleware`` or the WSGI/ASGI wrapper, from a
folder or, with ``storage``, from ``MEDIASERVE["STORAGE"]``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Literal

from .djsite import ENV_MEDIA_ROOT, ENV_ROUTE, ENV_STORAGE
from .paths import TESTS_DIR
from .process import ServerProcess
from .servers import start_gunicorn, start_uvicorn

Route = Literal["view", "middleware", "wrapper"]


def django_site_env(
    route: Route,
    media_root: str | os.PathLike[str] = "",
    storage: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The environment that configures ``harness.djsite`` for ``route``."""
    env = {
        "DJANGO_SETTINGS_MODULE": "harness.djsite.settings",
        ENV_ROUTE: route,
        ENV_MEDIA_ROOT: os.fspath(media_root),
        # No AWS config files from the developer's home: only the settings name the store.
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    if storage is not None:
        env[ENV_STORAGE] = json.dumps(dict(storage))
    return env


def start_django_site(
    route: Route,
    interface: Literal["wsgi", "asgi"],
    *,
    media_root: str | os.PathLike[str] = "",
    storage: Mapping[str, Any] | None = None,
    threads: int = 4,
) -> ServerProcess:
    """Start the project: ``wsgi`` under gunicorn gthread, ``asgi`` under uvicorn."""
    env = django_site_env(route, media_root, storage)
    if interface == "asgi":
        return start_uvicorn(
            "harness.djsite.asgi:application", env=env, pythonpath=[TESTS_DIR],
            lifespan="off", ready_path="/healthz",
        )  # fmt: skip
    return start_gunicorn(
        "harness.djsite.wsgi:application", env=env, pythonpath=[TESTS_DIR],
        worker_class="gthread", threads=threads, ready_path="/healthz",
    )  # fmt: skip


__all__ = ["Route", "django_site_env", "start_django_site"]
