"""``manage.py mediaserve <subcommand>``: the ``mediaserve`` command line, inside Django.

Django is already set up with the project's settings here, so ``manage.py mediaserve
doctor products/a.jpg`` checks the project's own MEDIA_ROOT, URLconf and settings and
``manage.py mediaserve config nginx`` reads MEDIA_URL, MEDIA_ROOT and MEDIASERVE. The
arguments go to the same parser as the ``mediaserve`` command; its exit code is kept.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "The mediaserve command line (config, doctor, sync, ...) with this project's settings."

    def run_from_argv(self, argv: list[str]) -> None:
        # Django's own parser would claim options such as --settings; every argument after
        # the command name belongs to mediaserve's parser.
        from ....cli.main import main

        sys.exit(main(argv[2:], django_configured=True))

    def add_arguments(self, parser: CommandParser) -> None:  # for call_command()
        parser.add_argument("argv", nargs=argparse.REMAINDER, help="mediaserve arguments")

    def handle(self, *args: Any, **options: Any) -> None:  # call_command() path
        from ....cli.main import main

        argv = [*args, *options.get("argv", [])]
        try:
            code = main(argv, django_configured=True)
        except SystemExit as exc:  # argparse's --help and usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        if code:
            raise CommandError(
                f"mediaserve {' '.join(argv[:1])} exited with status {code}", returncode=code
            )
