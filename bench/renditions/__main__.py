"""``python -m bench.renditions``: see :mod:`bench.renditions.run`."""

from __future__ import annotations

import sys

from bench.renditions.run import main

sys.exit(main())
