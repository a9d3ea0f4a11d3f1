"""``python -m mediaserve.cli``: the same as the ``mediaserve`` command."""

import sys

from . import main

sys.exit(main())
