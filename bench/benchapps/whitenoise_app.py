"""WhiteNoise anchor: the WhiteNoise WSGI wrapper around a trivial 404 app.

Production mode (``autorefresh=False``): the directory is scanned once at start-up and
each file's headers are precomputed, which is WhiteNoise's fastest configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from whitenoise import WhiteNoise

from benchapps._env import MEDIA_PREFIX, media_root

StartResponse = Callable[..., Any]


def not_found(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"not found"]


app = WhiteNoise(not_found, root=media_root(), prefix=MEDIA_PREFIX, autorefresh=False)
