"""mediaserve: production media serving for Django and plain WSGI/ASGI apps.

The public names live here; the layers behind them are described in ARCHITECTURE.md:
``http`` is RFC 9110 (pure), ``sources`` find files and objects safely, ``pipeline`` decides
every request in one order, ``delivery`` moves the bytes for WSGI and ASGI servers.
"""

from typing import Any

from .access.rules import Access, Signer
from .delivery.asgi import ASGIMedia
from .delivery.wsgi import WSGIMedia
from .http.plan import FileMeta, RequestHeaders, ResponsePlan, ServeOptions, plan
from .pipeline import Mount, Offload, Outcome, Pipeline, Request, StoreOptions
from .ratelimit.limiter import MemoryStore, RateLimiter
from .sources import LocalSource, NotFound, OpenFile, Refused

# The one place the version is spelled: pyproject.toml reads it (`[tool.setuptools.dynamic]`),
# `mediaserve --version` and the generated proxy configs print it.
__version__ = "0.2.0"


def signed_url(file_or_name: Any, expires_in: int | None = None, method: str | None = None) -> str:
    """A signed, expiring MEDIA_URL link for a storage name or FieldFile (Django projects).

    See ``mediaserve.django.access.signed_url``; imported lazily so that plain WSGI/ASGI use
    never imports Django (use ``Signer.url`` there).
    """
    from .django.access import signed_url as django_signed_url

    return django_signed_url(file_or_name, expires_in=expires_in, method=method)


__all__ = [
    "ASGIMedia",
    "Access",
    "FileMeta",
    "LocalSource",
    "MemoryStore",
    "Mount",
    "NotFound",
    "Offload",
    "OpenFile",
    "Outcome",
    "Pipeline",
    "RateLimiter",
    "Refused",
    "Request",
    "RequestHeaders",
    "ResponsePlan",
    "ServeOptions",
    "Signer",
    "StoreOptions",
    "WSGIMedia",
    "__version__",
    "plan",
    "signed_url",
]
