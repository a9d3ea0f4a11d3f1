"""``manage.py mediaserve <subcommand>``: the ``mediaserve`` command line, with Django loaded.

The subcommands and their options are the CLI's (one parser, ``mediaserve.cli``); under
Django they may take their defaults from settings (``sync``: MEDIA_ROOT and
MEDIASERVE["STORAGE"]).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "mediaserve subcommands, e.g. 'sync' (see: manage.py mediaserve --help)"

    def run_from_argv(self, argv: list[str]) -> None:
        from ....cli import main

        code = main(argv[2:])
        if code:
            sys.exit(code)

    def handle(self, *args: Any, **options: Any) -> None:  # call_command() path
        from ....cli import main

        code = main([str(a) for a in args])
        if code:
            raise SystemExit(code)
