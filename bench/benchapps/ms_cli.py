"""Candidate ``ms-serve``: the ``mediaserve`` command, as its console script runs it.

``python -m benchapps.ms_cli serve DIR ...`` does what ``.venv/bin/mediaserve`` does
(``from mediaserve.cli import main``), which works in every tree (``mediaserve/cli.py``
before the layout move, ``mediaserve/cli/`` after it), and first names the ``mediaserve``
it imported (:mod:`benchapps.witness`). The server's workers are forked from this process
(granian and gunicorn alike), so they run the same modules.
"""

from __future__ import annotations

import sys

from benchapps.witness import announce
from mediaserve.cli import main

if __name__ == "__main__":
    announce("mediaserve")
    sys.argv[0] = "mediaserve"
    sys.exit(main())
