"""The request pipeline: a plain request description in, an outcome to execute out.

``Pipeline.decide`` (decide.py) owns the order of the steps; ``Mount`` (mount.py) is one
prefix over one source, local or stored; ``Request`` and ``Outcome`` (request.py) are what
the adapters build and execute. See ARCHITECTURE.md.
"""

from .decide import Pipeline
from .mount import Mount
from .offload import Offload, OffloadError
from .request import DEFERRED, Outcome, Request
from .store import StoreOptions

__all__ = [
    "DEFERRED",
    "Mount",
    "Offload",
    "OffloadError",
    "Outcome",
    "Pipeline",
    "Request",
    "StoreOptions",
]
