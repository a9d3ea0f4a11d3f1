"""Factories for the real Python app servers: gunicorn, uvicorn and granian.

Each binds 127.0.0.1 on a free port, runs from the interpreter running the tests
(``sys.executable -m SERVER``, so the virtualenv's copy), waits until the app answers, and
returns a started :class:`~harness.process.ServerProcess` (``.base_url``, ``.port``,
``.logs()``, ``.stop()``; also a context manager). If the port was taken between picking it
and binding it, the start is retried on another port.

``pythonpath`` entries are put in front of ``PYTHONPATH``; pass ``[TESTS_DIR]`` to serve the
apps in ``tests/apps`` (``"apps.hello:wsgi"``). ``env`` is laid over the current environment.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from .ports import LOOPBACK, free_port
from .process import ServerProcess, ServerStartError

PathLike = str | os.PathLike[str]

#: Starts are retried this many times when the chosen port turned out to be taken.
PORT_RETRIES = 3


def server_env(
    env: Mapping[str, str] | None = None, pythonpath: Sequence[PathLike] = ()
) -> dict[str, str]:
    """The current environment, ``pythonpath`` prepended to ``PYTHONPATH``, then ``env``."""
    merged = dict(os.environ)
    merged["PYTHONUNBUFFERED"] = "1"
    if pythonpath:
        entries = [os.fspath(p) for p in pythonpath]
        if merged.get("PYTHONPATH"):
            entries.append(merged["PYTHONPATH"])
        merged["PYTHONPATH"] = os.pathsep.join(entries)
    merged.update(env or {})
    return merged


def start_with_port_retry(build: Callable[[int], ServerProcess]) -> ServerProcess:
    """Call ``build(port)`` with a free port and start it; on "address in use" try a new port."""
    for attempt in range(PORT_RETRIES):
        server = build(free_port())
        try:
            return server.start()
        except ServerStartError as exc:
            if not exc.address_in_use or attempt == PORT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


@functools.cache
def gunicorn_has_flag(flag: str) -> bool:
    """Whether the installed gunicorn's ``--help`` lists ``flag``."""
    out = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return flag in out.stdout


def start_gunicorn(
    app_spec: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: PathLike | None = None,
    pythonpath: Sequence[PathLike] = (),
    workers: int = 1,
    worker_class: Literal["sync", "gthread"] | str = "sync",
    threads: int = 1,
    extra_args: Sequence[str] = (),
    ready_path: str | None = "/",
    timeout: float = 30.0,
) -> ServerProcess:
    """Start ``gunicorn app_spec`` (``"module:callable"``) on 127.0.0.1 and a free port.

    ``--no-control-socket`` is passed when the installed gunicorn knows it (gunicorn 27
    otherwise opens a control socket under ``~/.gunicorn``). Access and error logs go to the
    captured output.
    """
    control = ["--no-control-socket"] if gunicorn_has_flag("--no-control-socket") else []

    def build(port: int) -> ServerProcess:
        argv = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"{LOOPBACK}:{port}",
            "--workers", str(workers),
            "--worker-class", worker_class,
            "--threads", str(threads),
            "--graceful-timeout", "3",
            "--access-logfile", "-",
            "--error-logfile", "-",
            *control,
            *extra_args,
            app_spec,
        ]  # fmt: skip
        return ServerProcess(
            argv,
            port=port,
            env=server_env(env, pythonpath),
            cwd=cwd,
            ready_url=ready_path,
            timeout=timeout,
            name="gunicorn",
        )

    return start_with_port_retry(build)


def start_uvicorn(
    app_spec: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: PathLike | None = None,
    pythonpath: Sequence[PathLike] = (),
    workers: int = 1,
    interface: Literal["auto", "asgi3", "asgi2", "wsgi"] = "auto",
    lifespan: Literal["auto", "on", "off"] = "auto",
    extra_args: Sequence[str] = (),
    ready_path: str | None = "/",
    timeout: float = 30.0,
) -> ServerProcess:
    """Start ``uvicorn app_spec`` on 127.0.0.1 and a free port."""

    def build(port: int) -> ServerProcess:
        argv = [
            sys.executable, "-m", "uvicorn",
            "--host", LOOPBACK,
            "--port", str(port),
            "--workers", str(workers),
            "--interface", interface,
            "--lifespan", lifespan,
            "--timeout-graceful-shutdown", "3",
            *extra_args,
            app_spec,
        ]  # fmt: skip
        return ServerProcess(
            argv,
            port=port,
            env=server_env(env, pythonpath),
            cwd=cwd,
            ready_url=ready_path,
            timeout=timeout,
            name="uvicorn",
        )

    return start_with_port_retry(build)


def start_granian(
    app_spec: str,
    *,
    interface: Literal["wsgi", "asgi"] = "wsgi",
    env: Mapping[str, str] | None = None,
    cwd: PathLike | None = None,
    pythonpath: Sequence[PathLike] = (),
    workers: int = 1,
    blocking_threads: int | None = None,
    extra_args: Sequence[str] = (),
    ready_path: str | None = "/",
    timeout: float = 30.0,
) -> ServerProcess:
    """Start ``granian --interface wsgi|asgi app_spec`` on 127.0.0.1 and a free port.

    ``--working-dir`` is set to ``cwd`` (granian puts it on ``sys.path``); access logging is
    on so requests show in :meth:`~harness.process.ServerProcess.logs`.
    """

    def build(port: int) -> ServerProcess:
        argv = [
            sys.executable, "-m", "granian",
            "--interface", interface,
            "--host", LOOPBACK,
            "--port", str(port),
            "--workers", str(workers),
            "--access-log",
            *(["--working-dir", os.fspath(cwd)] if cwd is not None else []),
            *(["--blocking-threads", str(blocking_threads)] if blocking_threads else []),
            *extra_args,
            app_spec,
        ]  # fmt: skip
        return ServerProcess(
            argv,
            port=port,
            env=server_env(env, pythonpath),
            cwd=cwd,
            ready_url=ready_path,
            timeout=timeout,
            name=f"granian-{interface}",
        )

    return start_with_port_retry(build)


__all__ = [
    "gunicorn_has_flag",
    "server_env",
    "start_granian",
    "start_gunicorn",
    "start_uvicorn",
    "start_with_port_retry",
]
