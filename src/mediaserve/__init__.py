"""mediaserve: production media serving for Django and plain WSGI/ASGI apps.

The public names live here; the layers behind them are described in ARCHITECTURE.md:
``http`` decides (pure RFC 9110), ``sources`` look files up safely, ``delivery`` moves bytes.
"""

from .delivery.asgi import ASGIMedia
from .delivery.wsgi import WSGIMedia
from .http.plan import FileMeta, RequestHeaders, ResponsePlan, ServeOptions, plan
from .mount import Mount
from .sources import LocalSource, NotFound, OpenFile, Refused

__version__ = "0.1.0"

__all__ = [
    "ASGIMedia",
    "FileMeta",
    "LocalSource",
    "Mount",
    "NotFound",
    "OpenFile",
    "Refused",
    "RequestHeaders",
    "ResponsePlan",
    "ServeOptions",
    "WSGIMedia",
    "__version__",
    "plan",
]
