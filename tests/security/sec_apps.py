"""The plain WSGI and ASGI apps the security suite attacks (started by ``targets.py``).

``/media/`` serves ``MEDIA_TEST_ROOT`` with the suite's access rules (``signed/`` needs a
signature made with ``SEC_SIGNING_KEY``; ``private/`` needs ``Authorization: Bearer
let-me-in``), the same rules the Django targets read from ``sec_settings``. ``/unsafe/``
serves the same tree with active-content neutralisation switched OFF: the browser test's
control, proving its check would see a script run. ``/beacon`` records that a script ran.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from sec_beacon import record_beacon

from mediaserve import (
    Access,
    ASGIMedia,
    MemoryStore,
    Offload,
    RateLimiter,
    ServeOptions,
    Signer,
    WSGIMedia,
)

ROOT = os.environ["MEDIA_TEST_ROOT"]
RULES = {"signed/": "signed", "private/": "private"}
BEARER = "Bearer let-me-in"
# The same limit as sec_settings: the probes' own User-Agent is exempt, so only the burst
# test (another agent, a client address forwarded by the trusted 127.0.0.1) meets it.
RATE_LIMIT = 60
PROBE_AGENT = "mediaserve-probe"


def rate_limit() -> RateLimiter:
    return RateLimiter(
        MemoryStore(), RATE_LIMIT, 3600, trusted_proxies=(ipaddress.ip_network("127.0.0.1"),),
        allow_agents=(PROBE_AGENT, "facebookexternalhit"),
    )  # fmt: skip


# Refusals are logged by mediaserve at WARNING; the suite counts them in the server's output.
logging.basicConfig(
    stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
)


#: A permission callable with a bug: ``Authorization: Bearer crash`` makes it raise (the
#: hardening tests prove that is a refusal, not a 500).
CRASH_BEARER = "Bearer crash"


class PermissionBug(RuntimeError):
    """What the permission callable raises for CRASH_BEARER."""


def _bearer_wsgi(environ: Any, name: str) -> bool:
    if environ.get("HTTP_AUTHORIZATION") == CRASH_BEARER:
        raise PermissionBug(f"permission check crashed for {name!r}")
    return bool(environ.get("HTTP_AUTHORIZATION") == BEARER)


def _bearer_asgi(scope: Any, name: str) -> bool:
    headers = [(k.lower(), v) for k, v in scope["headers"]]
    if (b"authorization", CRASH_BEARER.encode()) in headers:
        raise PermissionBug(f"permission check crashed for {name!r}")
    return (b"authorization", BEARER.encode()) in headers


def access(permission: Callable[[Any, str], bool]) -> Access:
    return Access(RULES, signer=Signer(os.environ["SEC_SIGNING_KEY"]), permission=permission)


CRASH_PATH = "/__crash__"


class DeliberateCrash(RuntimeError):
    """Raised on CRASH_PATH: the control proving the suite's log check sees an app error."""


def _fallback_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == CRASH_PATH:
        raise DeliberateCrash("the log check's control")
    if environ.get("PATH_INFO") == "/beacon":
        record_beacon(environ.get("QUERY_STRING", ""))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]


async def _fallback_asgi(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == CRASH_PATH:
        raise DeliberateCrash("the log check's control")
    if scope["path"] == "/beacon":
        record_beacon(scope["query_string"].decode("latin-1"))
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"3")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok\n"})


UNSAFE = ServeOptions(neutralise_active=False)
# The hardening tests (test_hardening.py) switch on symlink following and proxy offload.
OPTIONS = ServeOptions(follow_symlinks=bool(os.environ.get("SEC_FOLLOW_SYMLINKS")))
OFFLOAD = Offload(os.environ["SEC_OFFLOAD"]) if os.environ.get("SEC_OFFLOAD") else None

wsgi = WSGIMedia(
    ROOT, prefix="/media/", access=access(_bearer_wsgi), rate_limit=rate_limit(),
    options=OPTIONS, offload=OFFLOAD,
    app=WSGIMedia(ROOT, prefix="/unsafe/", options=UNSAFE, app=_fallback_wsgi),
)  # fmt: skip
asgi = ASGIMedia(
    ROOT, prefix="/media/", access=access(_bearer_asgi), rate_limit=rate_limit(),
    options=OPTIONS, offload=OFFLOAD,
    app=ASGIMedia(ROOT, prefix="/unsafe/", options=UNSAFE, app=_fallback_asgi),
)  # fmt: skip
