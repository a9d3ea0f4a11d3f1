"""The ``mediaserve`` command line (``main``); each subcommand lives beside its feature.

``main`` imports the dispatcher when called, so that importing ``mediaserve.cli.argtypes``
from a feature's own ``cli`` module never imports every other subcommand.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    from .main import main as run

    return run(argv)
