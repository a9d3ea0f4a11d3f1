"""``python -m mediaserve``: the same as the ``mediaserve`` command."""

import sys

from .cli import main

sys.exit(main())
