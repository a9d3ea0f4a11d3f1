"""``manage.py mediaserve <subcommand>``: the ``mediaserve`` command line, inside Django.

Django is already set up with the project's settings here, so ``manage.py mediaserve
doctor products/a.jpg`` checks the project's own MEDIA_ROOT, URLconf and settings. The
arguments go to the same parser as the ``mediaserve`` command; its exit code is kept.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "The mediaserve command line (doctor, ...) with this project's settings."

    def run_from_argv(self, argv: list[str]) -> None:
        from ....cli import main

        sys.exit(main(argv[2:]))

    def handle(self, *args: Any, **options: Any) -> None:  # call_command() path
        from ....cli import main

        code = main(list(args))
        if code:
            sys.exit(code)
