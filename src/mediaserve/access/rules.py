"""Who may read a file: ``public``, ``private`` (a permission callable) or ``signed`` (an
HMAC-signed URL that expires).

The decision is made from the decoded, mount-relative name, the method and the query string,
BEFORE any lookup: a refused read costs no file system call and answers the same whether the
file exists or not (404 by default, so a refusal does not confirm that an invoice exists).
The pipeline
(``pipeline/decide.py``) is the only caller of :meth:`Access.decide`, for every entry point
and every source, local or stored.

Policies are chosen per name prefix, longest prefix first, compared case-insensitively
(a case-insensitive file system must not let ``INVOICES/x.pdf`` dodge ``invoices/``).

* ``public``: anyone; the mount's own Cache-Control.
* ``signed``: only with a valid signature in the query string.
* ``private``: a valid signature, or a request the permission callable approves. Entry points
  that have no request object (the fast WSGI/ASGI wrappers in front of Django) get
  :data:`DEFER` and hand the request to the application, which has a session.

Whatever is admitted as private or signed is sent with ``Cache-Control: private, no-store``:
a shared cache must never keep it for the next client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlencode

from ..http.plan import ALLOWED_METHODS, ResponsePlan, text_plan

__all__ = [
    "DEFER",
    "NO_REQUEST",
    "POLICIES",
    "PRIVATE_CACHE_CONTROL",
    "Access",
    "BadSignature",
    "Permission",
    "Signer",
    "Verdict",
    "forbidden",
]

logger = logging.getLogger("mediaserve")

PUBLIC: Final = "public"
PRIVATE: Final = "private"
SIGNED: Final = "signed"
POLICIES: Final = (PUBLIC, PRIVATE, SIGNED)
#: RFC 9111 §5.2.2.7/§5.2.2.5: no shared cache may store it, and no cache may keep it at all.
PRIVATE_CACHE_CONTROL: Final = "private, no-store"
DENIED_STATUSES: Final = (403, 404)

#: ``(request, name) -> bool``; ``request`` is a Django HttpRequest, a WSGI environ or an
#: ASGI scope, depending on the entry point.
Permission = Callable[[Any, str], bool]

# Query parameters of a signed URL. Readable on purpose: they end up in logs and support
# tickets ("the link expired at ...").
EXPIRES_PARAM: Final = "expires"
METHOD_PARAM: Final = "method"
SIGNATURE_PARAM: Final = "signature"
_SIGNED_PARAMS = frozenset({EXPIRES_PARAM, METHOD_PARAM, SIGNATURE_PARAM})
# Domain separation: the derived key signs media URLs only, so a signature made here can
# never be replayed against Django's own signing (sessions, password reset tokens).
_KEY_CONTEXT = b"mediaserve.signed-url.v1"
_MAX_EXPIRES_DIGITS = 12  # year 33658: anything longer is not a time, it is a probe


class BadSignature(Exception):
    """A signed URL that does not admit the request; ``reason`` is for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _derive(key: str | bytes) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    return hmac.new(raw, _KEY_CONTEXT, hashlib.sha256).digest()


class Signer:
    """Signs and verifies ``(name, expiry, method)`` with HMAC-SHA256.

    ``key`` signs; ``key`` and every ``fallbacks`` key verify, which is how a key is rotated
    without breaking links already sent (Django's ``SECRET_KEY_FALLBACKS`` model): move the
    old key to the fallbacks, wait for the longest expiry, then drop it.
    """

    def __init__(
        self,
        key: str | bytes,
        fallbacks: Iterable[str | bytes] = (),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not key:
            raise ValueError("a signing key must not be empty")
        self._keys = tuple(_derive(k) for k in (key, *fallbacks) if k)
        self.clock = clock

    @staticmethod
    def _message(name: str, expires: str, method: str) -> bytes:
        # Neither the expiry (digits) nor the method (letters) can hold NUL, so reading the
        # message from the right is unambiguous whatever the name contains.
        return b"\0".join(
            (name.encode("utf-8", "surrogateescape"), expires.encode(), method.encode())
        )

    def _signature(self, key: bytes, name: str, expires: str, method: str) -> str:
        digest = hmac.new(key, self._message(name, expires, method), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def query(self, name: str, *, expires_in: int = 3600, method: str | None = None) -> str:
        """The query string (without ``?``) that admits ``name`` for ``expires_in`` seconds,
        for ``method`` only when given (a GET-bound URL also admits HEAD)."""
        if expires_in <= 0:
            raise ValueError("expires_in must be a positive number of seconds")
        expires = str(int(self.clock()) + int(expires_in))
        bound = (method or "").upper()
        if bound and bound not in ALLOWED_METHODS:
            raise ValueError(f"method must be one of {', '.join(ALLOWED_METHODS)}, not {method!r}")
        params = [(EXPIRES_PARAM, expires)]
        if bound:
            params.append((METHOD_PARAM, bound))
        params.append((SIGNATURE_PARAM, self._signature(self._keys[0], name, expires, bound)))
        return urlencode(params)

    def url(
        self, prefix: str, name: str, *, expires_in: int = 3600, method: str | None = None
    ) -> str:
        """``prefix`` + the percent-encoded ``name`` + the signed query string."""
        query = self.query(name, expires_in=expires_in, method=method)
        return f"{prefix.rstrip('/')}/{quote(name, safe='/')}?{query}"

    def verify(self, name: str, query: str, method: str) -> None:
        """Return if ``query`` admits ``method`` on ``name`` now; raise BadSignature otherwise."""
        found: dict[str, str] = {}
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
        except ValueError:
            raise BadSignature("unparsable query string") from None
        for key, value in pairs:
            if key in _SIGNED_PARAMS:
                if key in found:
                    raise BadSignature(f"repeated {key!r} parameter")
                found[key] = value
        signature = found.get(SIGNATURE_PARAM)
        expires = found.get(EXPIRES_PARAM)
        if signature is None or expires is None:
            raise BadSignature("no signature")
        if not (expires.isascii() and expires.isdigit()) or len(expires) > _MAX_EXPIRES_DIGITS:
            raise BadSignature("malformed expiry")
        bound = found.get(METHOD_PARAM, "")
        # Compared as bytes: compare_digest refuses str with non-ASCII characters, and a
        # query string can hold any (a TypeError here would be a 500).
        given = signature.encode("utf-8", "surrogateescape")
        if not any(
            hmac.compare_digest(self._signature(key, name, expires, bound).encode(), given)
            for key in self._keys
        ):
            raise BadSignature("signature does not match")
        # Checked after the MAC so that an expiry can be trusted when it is reported.
        if int(expires) < self.clock():
            raise BadSignature(f"signature expired at {expires}")
        if bound and not (bound == method or (bound == "GET" and method == "HEAD")):
            raise BadSignature(f"signature is for {bound}, not {method}")


def has_signature(query: str) -> bool:
    """Whether the query string carries a signature at all (cheap; no parsing)."""
    return SIGNATURE_PARAM + "=" in query


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of :meth:`Access.decide`: ``public``, ``private``, ``deny`` or ``defer``."""

    outcome: str
    reason: str = ""


_PUBLIC = Verdict("public")
_PRIVATE = Verdict("private")
#: The entry point has no request object to ask the permission callable with: hand the
#: request to the application behind it (Django), which has the session.
DEFER: Final = Verdict("defer")
#: ``request`` value meaning "this entry point has no request object".
NO_REQUEST: Final[Any] = object()


def _normalise_rule(prefix: str) -> str:
    text = prefix.strip().strip("/").casefold()
    return text + "/" if text else ""


class Access:
    """Per-prefix policies, the signer and the permission callable, checked per request.

    ``rules`` maps a name prefix (``"invoices/"``; ``""`` for everything) to a policy. A
    prefix names a directory: ``"invoices"`` covers ``invoices/a.pdf``, not ``invoices-2024/``.
    """

    def __init__(
        self,
        rules: Mapping[str, str],
        *,
        signer: Signer | None = None,
        permission: Permission | None = None,
        denied_status: int = 404,
    ) -> None:
        normalised: dict[str, str] = {}
        for prefix, policy in rules.items():
            if policy not in POLICIES:
                raise ValueError(
                    f"access policy for {prefix!r} must be one of {', '.join(POLICIES)}, "
                    f"not {policy!r}"
                )
            normalised[_normalise_rule(prefix)] = policy
        if signer is None and SIGNED in normalised.values():
            raise ValueError("a 'signed' policy needs a signing key (Signer)")
        if denied_status not in DENIED_STATUSES:
            raise ValueError(f"denied_status must be 403 or 404, not {denied_status!r}")
        # Longest prefix first: "invoices/public/" can re-open part of a private "invoices/".
        self.rules: tuple[tuple[str, str], ...] = tuple(
            sorted(normalised.items(), key=lambda item: len(item[0]), reverse=True)
        )
        #: Whether any name is not public (else the per-request check is skipped).
        self.restricts = any(policy != PUBLIC for _, policy in self.rules)
        self.signer = signer
        self.permission = permission
        self.denied_status = denied_status

    def policy_for(self, name: str) -> str:
        folded = name.casefold()
        for prefix, policy in self.rules:
            if folded.startswith(prefix):
                return policy
        return PUBLIC

    def decide(self, method: str, name: str, query: str, request: Any = NO_REQUEST) -> Verdict:
        """The verdict for one request; pure apart from the permission callable."""
        policy = self.policy_for(name)
        if policy == PUBLIC:
            return _PUBLIC
        failure = "no signature"
        if self.signer is not None and has_signature(query):
            try:
                self.signer.verify(name, query, method)
            except BadSignature as exc:
                failure = exc.reason
            else:
                return _PRIVATE
        if policy == SIGNED:
            return Verdict("deny", failure)
        if request is NO_REQUEST:
            return DEFER
        if self.permission is None:
            return Verdict("deny", "no permission callable for private media")
        if self.permission(request, name):
            return _PRIVATE
        return Verdict("deny", "permission denied")

    def restricted_prefixes(self) -> tuple[str, ...]:
        """The prefixes under which a name may be refused, for whoever must route or report
        them (proxy config, system checks, the doctor) without re-deciding the policy.

        Each is in the form :meth:`policy_for` compares: case-folded, ending in ``/``, and
        ``""`` (alone) for every name. A prefix inside another one is left out: the outer one
        covers it. Sorted, so the output is stable.

        A superset on purpose: a public prefix that re-opens part of a restricted one
        (``invoices/public/`` under a private ``invoices/``, the longest prefix wins) stays
        inside it. Sending those names to the application is safe, since it answers them
        publicly itself; leaving a restricted name out would not be.

        Compare names with these as this class does, case-insensitively (``casefold``): a
        proxy matches locations case-sensitively, so ``INVOICES/`` must be routed to the
        application or refused, never read from disk as public media.
        """
        cover: list[str] = []
        for prefix in sorted(prefix for prefix, policy in self.rules if policy != PUBLIC):
            # Sorted, an outer prefix comes before every prefix it covers.
            if not any(prefix.startswith(outer) for outer in cover):
                cover.append(prefix)
        return tuple(cover)


def forbidden(method: str = "GET") -> ResponsePlan:
    """The 403 sent instead of the 404 when ``denied_status`` is 403."""
    headers = (("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-cache"))
    return text_plan(403, b"Forbidden\n", method, headers)
