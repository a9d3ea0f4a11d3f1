"""``manage.py mediaserve COMMAND ...``: the ``mediaserve`` CLI with the project's settings.

Every subcommand of the command line works here (``manage.py mediaserve config nginx``);
settings-aware ones read MEDIA_URL, MEDIA_ROOT and MEDIASERVE from the running project.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ....cli import main


class Command(BaseCommand):
    help = "mediaserve's command line (config, ...) with this project's settings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("argv", nargs=argparse.REMAINDER, help="mediaserve arguments")

    def handle(self, *args: Any, **options: Any) -> None:
        argv = list(options["argv"])
        try:
            code = main(argv, django_configured=True)
        except SystemExit as exc:  # argparse's --help and usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        if code:
            raise CommandError(
                f"mediaserve {' '.join(argv[:1])} exited with status {code}", returncode=code
            )
