"""``mediaserve``: the command line.

``mediaserve serve DIR`` runs a production server for a directory, without Django;
``mediaserve config KIND`` prints proxy config (proxyconf/cli.py). Each subcommand sets
its handler with ``set_defaults(handler=...)``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..http.plan import ServeOptions
from ..pipeline.request import normalise_prefix
from .argtypes import nonnegative, port, positive
from .standalone import (
    ENV_CACHE_CONTROL,
    ENV_CHUNK_SIZE,
    ENV_HOT_CACHE_SIZE,
    ENV_PREFIX,
    ENV_ROOT,
    GRANIAN_CHUNK_SIZE,
    choose_server,
    hot_from_env,
    options_from_env,
)

__all__ = ["main"]


SERVERS = ("granian", "gunicorn")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mediaserve",
        description="Production media serving: RFC 9110 ranges and validators, safe lookup.",
    )
    parser.add_argument("--version", action="version", version=f"mediaserve {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    from .sign import add_parser as add_sign_parser

    add_sign_parser(commands)
    serve = commands.add_parser(
        "serve",
        help="serve a directory over HTTP with a production server (granian or gunicorn)",
        description="Serve DIR over HTTP (GET/HEAD, ranges, ETags), without Django.",
    )
    serve.add_argument("directory", metavar="DIR", help="the directory to serve")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=port, default=8000, help="port to bind (default 8000)")
    serve.add_argument(
        "--workers", type=positive, default=1, help="worker processes (default 1; one per core)"
    )
    serve.add_argument("--prefix", default="/", help="URL prefix to serve under (default /)")
    serve.add_argument(
        "--server",
        choices=("auto", "granian", "gunicorn"),
        default="auto",
        help="granian (most requests per second for small files), gunicorn (sendfile: least "
        "CPU per GB for large files) or auto (default: chosen from the tree's file sizes, "
        "granian unless large files dominate); see docs/serve.md",
    )
    serve.add_argument(
        "--interface",
        choices=("wsgi", "asgi"),
        default="wsgi",
        help="granian interface (default wsgi: about 3x the small-file request rate; asgi also "
        "sees the raw URL and refuses encoded slashes, see docs/serve.md)",
    )
    serve.add_argument(
        "--threads",
        type=positive,
        default=16,
        help="gunicorn threads per worker (default 16; each slow client holds one)",
    )
    serve.add_argument(
        "--hot-cache",
        type=nonnegative,
        default=None,
        metavar="BYTES",
        help="memory per worker for small files kept hot (default 32 MiB; 0 turns it off)",
    )
    serve.add_argument(
        "--cache-control",
        default=None,
        help=f"Cache-Control for files (default {ServeOptions().cache_control!r})",
    )
    serve.add_argument(
        "--metrics-bind",
        metavar="HOST:PORT",
        default=None,
        help="serve Prometheus metrics on this separate address (e.g. 127.0.0.1:9100; "
        "needs mediaserve[metrics]); off by default, see docs/observability.md",
    )
    serve.set_defaults(handler=_serve)

    from ..doctor.cli import add_parser as add_doctor
    from ..proxyconf.cli import add_parser as add_config
    from ..sync.cli import add_parser as add_sync_parser
    from .health import add_parser as add_health
    from .renditions import add_parser as add_renditions

    add_config(commands)
    add_doctor(commands)
    add_sync_parser(commands)
    add_health(commands)
    add_renditions(commands)
    return parser


def _serve(args: argparse.Namespace) -> int:
    directory = os.path.abspath(args.directory)
    if not os.path.isdir(directory):
        print(f"mediaserve serve: {args.directory!r} is not a directory", file=sys.stderr)
        return 2
    if not os.access(directory, os.R_OK | os.X_OK):
        print(
            f"mediaserve serve: {directory!r} is not readable by this user (chmod 755 it)",
            file=sys.stderr,
        )
        return 2
    if args.server == "auto":
        args.server, args.why = _auto_server(directory, args.interface)
    else:
        args.why = ""
    if args.server == "gunicorn" and args.interface != "wsgi":
        print("mediaserve serve: --server gunicorn serves WSGI only; drop --interface asgi",
              file=sys.stderr)  # fmt: skip
        return 2
    problem = _cannot_listen(args.host, args.port)
    if problem:
        print(f"mediaserve serve: cannot listen on {args.host}:{args.port}: {problem}",
              file=sys.stderr)  # fmt: skip
        return 1
    args.prefix = normalise_prefix(args.prefix)
    os.environ[ENV_ROOT] = directory
    os.environ[ENV_PREFIX] = args.prefix
    if args.cache_control:
        os.environ[ENV_CACHE_CONTROL] = args.cache_control
    if args.hot_cache is not None:
        os.environ[ENV_HOT_CACHE_SIZE] = str(args.hot_cache)
    if args.server == "granian":
        os.environ.setdefault(ENV_CHUNK_SIZE, str(GRANIAN_CHUNK_SIZE))
    try:
        # Each worker reads these again; a bad value is one line here, not a traceback
        # per worker after the server has started.
        options_from_env()
        hot_from_env()
    except (RuntimeError, ValueError) as exc:
        print(f"mediaserve serve: {exc}", file=sys.stderr)
        return 2
    if args.metrics_bind:
        from .metrics_bind import start_metrics

        problem = start_metrics(args.metrics_bind)
        if problem:
            print(f"mediaserve serve: --metrics-bind {problem}", file=sys.stderr)
            return 2
    if args.server == "gunicorn":
        return _serve_gunicorn(args, directory)
    return _serve_granian(args, directory)


def _auto_server(directory: str, interface: str) -> tuple[str, str]:
    """The server ``--server auto`` runs, and why (for the start-up line)."""
    installed = {name: importlib.util.find_spec(name) is not None for name in SERVERS}
    if interface != "wsgi":
        return "granian", ""  # the only ASGI server offered
    if not installed["gunicorn"]:
        return "granian", "auto: gunicorn is not installed"
    if not installed["granian"]:
        return "gunicorn", "auto: granian is not installed"
    server, why = choose_server(directory)
    return server, f"auto: {why}"


def _cannot_listen(host: str, port: int) -> str | None:
    """Why binding ``host:port`` fails, or None.

    Both servers report a taken port badly (granian with a Rust backtrace, gunicorn after
    retrying for five seconds), so the CLI tries the bind itself first. The socket is closed
    again at once; SO_REUSEADDR matches what the servers set, so a port in TIME_WAIT passes.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"unknown host ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return f"{exc.strerror or exc} (another server running? choose --port)"
    return None


def _announce(args: argparse.Namespace, directory: str, how: str) -> None:
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"mediaserve {__version__}: serving {directory} at http://{host}:{args.port}{args.prefix}"
        f" ({how}, {args.workers} worker(s){'; ' + args.why if args.why else ''})",
        file=sys.stderr,
        flush=True,
    )


def _serve_granian(args: argparse.Namespace, directory: str) -> int:
    try:
        from granian import Granian
        from granian.constants import Interfaces
    except ImportError:
        print(
            "mediaserve serve needs granian: pip install 'mediaserve[serve]'",
            file=sys.stderr,
        )
        return 2
    interface = Interfaces.WSGI if args.interface == "wsgi" else Interfaces.ASGI
    target = (
        "mediaserve.cli.standalone:wsgi_app"
        if args.interface == "wsgi"
        else "mediaserve.cli.standalone:asgi_app"
    )
    _announce(args, directory, f"granian {args.interface}")
    server = Granian(
        target,
        address=args.host,
        port=args.port,
        interface=interface,
        workers=args.workers,
        factory=True,
        log_access=False,
    )
    try:
        server.serve()
    except (OSError, RuntimeError) as exc:  # granian raises RuntimeError for bind failures
        print(f"mediaserve serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def _serve_gunicorn(args: argparse.Namespace, directory: str) -> int:
    from .standalone import run_gunicorn

    try:
        import gunicorn  # noqa: F401
    except ImportError:
        print(
            "mediaserve serve --server gunicorn needs gunicorn: "
            "pip install 'mediaserve[serve-gunicorn]'",
            file=sys.stderr,
        )
        return 2
    _announce(args, directory, f"gunicorn gthread, {args.threads} threads")
    host = f"[{args.host}]" if ":" in args.host else args.host
    return run_gunicorn(f"{host}:{args.port}", workers=args.workers, threads=args.threads)


def main(argv: Sequence[str] | None = None, *, django_configured: bool = False) -> int:
    """Run one subcommand; ``django_configured`` when called by ``manage.py mediaserve``."""
    args = build_parser().parse_args(argv)
    args.django_configured = django_configured
    handler: Callable[[argparse.Namespace], int] = args.handler
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
