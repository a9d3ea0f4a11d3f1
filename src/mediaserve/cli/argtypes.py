"""argparse value types shared by the subcommands: one message per kind of mistake."""

from __future__ import annotations

import argparse

__all__ = ["nonnegative", "port", "positive"]


def port(text: str) -> int:
    """A TCP port, 1-65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, not {value}")
    return value


def positive(text: str) -> int:
    """A whole number of at least 1 (workers, threads, concurrency, ranges)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def nonnegative(text: str) -> int:
    """A whole number of at least 0 (a size where 0 turns a feature off)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return value
