"""``manage.py mediaserve <subcommand>``: the ``mediaserve`` command line, inside Django.

Django is already set up with the project's settings here, so ``manage.py mediaserve
doctor products/a.jpg`` checks the project's own MEDIA_ROOT, URLconf and settings. The
arguments go to the same parser as the ``mediaserve`` command; its exit code is kept.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "The mediaserve command line (doctor, ...) with this project's settings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("args", nargs=argparse.REMAINDER, help="subcommand and its options")

    def run_from_argv(self, argv: list[str]) -> None:
        # Not Django's parser: `mediaserve doctor --help` and every option belong to ours.
        from ....cli import main

        sys.exit(main(argv[2:]))

    def handle(self, *args: Any, **options: Any) -> None:
        """The call_command() path: a non-zero exit becomes a CommandError with that code."""
        from ....cli import main

        code = main([str(a) for a in args])
        if code:
            raise CommandError(
                f"mediaserve {' '.join(map(str, args[:1]))} exited {code}", returncode=code
            )
