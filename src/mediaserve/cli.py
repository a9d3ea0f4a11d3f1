"""``mediaserve``: the command line.

``mediaserve serve DIR`` runs a production server for a directory, without Django.
Later commands (config, doctor, sync) join here as subcommands.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from .standalone import ENV_CACHE_CONTROL, ENV_PREFIX, ENV_ROOT

__all__ = ["main"]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, not {value}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mediaserve",
        description="Production media serving: RFC 9110 ranges and validators, safe lookup.",
    )
    parser.add_argument("--version", action="version", version=f"mediaserve {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    serve = commands.add_parser(
        "serve",
        help="serve a directory over HTTP with a production server (granian)",
        description="Serve DIR over HTTP (GET/HEAD, ranges, ETags), without Django.",
    )
    serve.add_argument("directory", metavar="DIR", help="the directory to serve")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to bind (default 8000)")
    serve.add_argument(
        "--workers", type=_positive, default=1, help="worker processes (default 1; one per core)"
    )
    serve.add_argument("--prefix", default="/", help="URL prefix to serve under (default /)")
    serve.add_argument(
        "--interface",
        choices=("wsgi", "asgi"),
        default="wsgi",
        help="granian interface (default wsgi: fastest here, see docs/serve.md)",
    )
    serve.add_argument(
        "--cache-control",
        default=None,
        help="Cache-Control for files (default 'public, max-age=3600')",
    )
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
    try:
        from granian import Granian
        from granian.constants import Interfaces
    except ImportError:
        print(
            "mediaserve serve needs granian: pip install 'mediaserve[serve]'",
            file=sys.stderr,
        )
        return 2
    os.environ[ENV_ROOT] = directory
    os.environ[ENV_PREFIX] = args.prefix
    if args.cache_control:
        os.environ[ENV_CACHE_CONTROL] = args.cache_control
    interface = Interfaces.WSGI if args.interface == "wsgi" else Interfaces.ASGI
    target = (
        "mediaserve.standalone:wsgi_app"
        if args.interface == "wsgi"
        else "mediaserve.standalone:asgi_app"
    )
    print(
        f"mediaserve {__version__}: serving {directory} at http://{args.host}:{args.port}{args.prefix}"
        f" (granian {args.interface}, {args.workers} worker(s))",
        file=sys.stderr,
        flush=True,
    )
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
    except OSError as exc:
        print(f"mediaserve serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return 2  # argparse already rejected anything else


if __name__ == "__main__":
    sys.exit(main())
