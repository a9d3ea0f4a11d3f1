"""``mediaserve sign NAME``: print a signed, expiring URL for a file (see mediaserve.access).

For operators of plain WSGI/ASGI apps (and scripts): the key is read from an environment
variable, never from the command line, where every user on the machine could read it in
``ps``. Django projects use ``mediaserve.signed_url()`` or ``{% signed_media_url %}``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..access.rules import Signer
from ..http.plan import ALLOWED_METHODS

__all__ = ["add_parser", "run"]

DEFAULT_KEY_ENV = "MEDIASERVE_SIGNING_KEY"


def add_parser(commands: Any) -> None:
    sign = commands.add_parser(
        "sign",
        help="print a signed, expiring URL for a file under a 'signed' or 'private' prefix",
        description="Print PREFIX/NAME?expires=...&signature=... for NAME (relative to the "
        f"served directory), signed with the key in ${DEFAULT_KEY_ENV} (or --key-env).",
    )
    sign.add_argument("name", metavar="NAME", help="the file's name relative to the root")
    sign.add_argument("--prefix", default="/media/", help="URL prefix (default /media/)")
    sign.add_argument(
        "--expires", type=int, default=3600, help="lifetime in seconds (default 3600)"
    )
    sign.add_argument(
        "--method", choices=ALLOWED_METHODS, help="bind the URL to one method (GET admits HEAD)"
    )
    sign.add_argument(
        "--key-env",
        default=DEFAULT_KEY_ENV,
        help=f"environment variable holding the key (default {DEFAULT_KEY_ENV})",
    )
    sign.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    key = os.environ.get(args.key_env, "")
    if not key:
        print(
            f"mediaserve sign: ${args.key_env} is not set; export the signing key the server "
            f"uses, e.g. export {args.key_env}=... (never pass it as an argument)",
            file=sys.stderr,
        )
        return 2
    if args.expires < 1:
        print("mediaserve sign: --expires must be at least 1 second", file=sys.stderr)
        return 2
    name = args.name.lstrip("/")
    print(Signer(key).url(args.prefix, name, expires_in=args.expires, method=args.method))
    return 0
