"""HTTP(S) fetches for the doctor, with the standard library only, and never an exception.

Every failure a user can meet (no DNS, connection refused, a server that never answers, a
certificate the client rejects, a reply cut short, a redirect loop) becomes a
:class:`Fetch` with ``error`` set to one line, so each hop can turn it into a verdict.

``connect_to`` maps ``(host, port)`` to another address, like curl's ``--resolve``: the
request still says ``Host: host`` and TLS still checks the certificate against ``host``,
only the TCP connection goes elsewhere. That is how a public name is tested before DNS
points at the server, and how the tests reach ``https://shop.example.com`` on loopback.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

__all__ = ["Fetch", "FetchOptions", "Response", "fetch", "probe_tls"]

#: Bytes of each body kept for sniffing and HTML detection; 512 KiB + 1 is what Meta's
#: ``Range: bytes=0-524288`` asks for, and enough to find a JPEG's size after big EXIF data.
HEAD_BYTES = 524289
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "mediaserve-doctor"


@dataclass(frozen=True)
class FetchOptions:
    """How to reach servers: timeouts, extra trusted CA, address overrides."""

    timeout: float = 10.0
    cafile: str | None = None
    connect_to: Mapping[tuple[str, int], str] = field(default_factory=dict)
    #: Reading stops after this many body bytes (the checksum then covers only those).
    max_body: int = 128 * 1024 * 1024
    max_redirects: int = 10


@dataclass
class Response:
    """One HTTP exchange (one link of a redirect chain)."""

    url: str
    method: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    length: int
    sha256: str
    head: bytes
    elapsed: float
    truncated: bool = False
    #: The body ended before Content-Length said it would.
    incomplete: bool = False
    #: Seconds from sending the request to the status line (the "first byte").
    first_byte: float = 0.0

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        values = [v for k, v in self.headers if k.lower() == wanted]
        return ", ".join(values) if values else None

    @property
    def location(self) -> str | None:
        value = self.header("location")
        return urljoin(self.url, value) if value else None

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    def describe(self) -> str:
        server = self.header("server")
        ctype = self.header("content-type") or "no Content-Type"
        via = f", Server: {server}" if server else ""
        return (
            f"{self.method} {self.url} -> {self.status} {self.reason}, {self.length} bytes, "
            f"{ctype}{via} ({self.elapsed * 1000:.0f} ms)"
        )


@dataclass
class Fetch:
    """A request and the redirects it followed; ``error`` is one line when it failed."""

    url: str
    chain: list[Response] = field(default_factory=list)
    error: str | None = None
    #: dns, refused, timeout, tls, closed, protocol, network, redirect-loop, redirects, url
    error_kind: str | None = None
    #: What else was seen (e.g. the exception behind an in-process 500).
    notes: list[str] = field(default_factory=list)

    @property
    def final(self) -> Response | None:
        return self.chain[-1] if self.chain and self.error is None else None

    @property
    def last(self) -> Response | None:
        return self.chain[-1] if self.chain else None

    @property
    def redirected(self) -> bool:
        return len(self.chain) > 1


class _Connection(http.client.HTTPConnection):
    """An HTTP(S) connection that may dial another address than the URL's host."""

    def __init__(
        self, host: str, port: int, address: str, timeout: float, tls: ssl.SSLContext | None
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._tls = tls
        self.peer_cert: dict[str, object] | None = None

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self.host)
            cert = sock.getpeercert()
            self.peer_cert = dict(cert) if cert else None
        self.sock = sock


def tls_context(options: FetchOptions, verify: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if options.cafile:
        context.load_verify_locations(options.cafile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _describe_error(exc: BaseException, host: str, port: int, timeout: float) -> tuple[str, str]:
    """``(kind, one line)`` for an exception raised while talking to ``host:port``."""
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return "dns", f"cannot resolve {host!r} ({exc.strerror or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "refused", f"connection refused by {where}: nothing is listening there"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timeout", f"no answer from {where} within {timeout:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "tls", f"TLS certificate of {where} rejected: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return "tls", f"TLS handshake with {where} failed: {exc.reason or exc}"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "closed", f"{where} closed the connection without sending a response"
    if isinstance(exc, http.client.IncompleteRead):
        return "closed", f"{where} closed the connection in the middle of the body"
    if isinstance(exc, http.client.HTTPException):
        return "protocol", f"{where} sent something that is not HTTP ({type(exc).__name__})"
    if isinstance(exc, ConnectionError):
        return "network", f"connection to {where} failed: {exc.strerror or exc}"
    if isinstance(exc, OSError):
        return "network", f"cannot reach {where}: {exc.strerror or exc}"
    return "network", f"request to {where} failed: {exc}"


def _one(
    url: str, method: str, headers: Mapping[str, str], options: FetchOptions
) -> tuple[Response | None, str | None, str | None]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    try:
        port = parts.port or (443 if https else 80)
    except ValueError:
        return None, "url", f"{url!r} has an invalid port"
    address = options.connect_to.get((host, port), host)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = {"User-Agent": USER_AGENT, "Accept": "*/*", **headers}
    conn = _Connection(
        host, port, address, options.timeout, tls_context(options) if https else None
    )
    started = time.monotonic()
    deadline = started + options.timeout * 3  # a server trickling bytes forever is bounded too
    try:
        conn.request(method, target, headers=sent)
        raw = conn.getresponse()
        first_byte = time.monotonic() - started
        digest = hashlib.sha256()
        head = bytearray()
        length = 0
        truncated = incomplete = False
        while method != "HEAD":
            if time.monotonic() > deadline:
                truncated = True
                break
            try:
                chunk = raw.read(65536)
            except http.client.IncompleteRead as exc:
                chunk, incomplete = bytes(exc.partial), True
            if not chunk:
                break
            digest.update(chunk)
            if len(head) < HEAD_BYTES:
                head.extend(chunk[: HEAD_BYTES - len(head)])
            length += len(chunk)
            if incomplete:
                break
            if length >= options.max_body:
                truncated = True
                break
        response = Response(
            url=url,
            method=method,
            status=raw.status,
            reason=raw.reason,
            headers=list(raw.getheaders()),
            length=length,
            sha256=digest.hexdigest(),
            head=bytes(head),
            elapsed=time.monotonic() - started,
            truncated=truncated,
            incomplete=incomplete,
            first_byte=first_byte,
        )
        return response, None, None
    except Exception as exc:  # every failure is a verdict, never a traceback
        kind, line = _describe_error(exc, host, port, options.timeout)
        return None, kind, line
    finally:
        conn.close()


def fetch(
    url: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    options: FetchOptions | None = None,
    *,
    follow: bool = True,
) -> Fetch:
    """Request ``url`` and follow redirects (when ``follow``), recording every link."""
    options = options or FetchOptions()
    result = Fetch(url=url)
    seen: set[str] = set()
    current = url
    while True:
        parts = urlsplit(current)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            result.error_kind, result.error = "url", f"{current!r} is not an http(s) URL"
            return result
        seen.add(current)
        response, kind, error = _one(current, method, headers or {}, options)
        if response is None:
            result.error_kind, result.error = kind, error
            return result
        result.chain.append(response)
        target = response.location
        if not follow or response.status not in REDIRECT_STATUSES or not target:
            return result
        if target in seen:
            result.error_kind = "redirect-loop"
            result.error = f"redirect loop: {response.status} from {current} back to {target}"
            return result
        if len(result.chain) > options.max_redirects:
            result.error_kind = "redirects"
            result.error = f"more than {options.max_redirects} redirects"
            return result
        current = target


@dataclass
class TLSInfo:
    """What a TLS handshake showed: the certificate when verified, else the reason."""

    host: str
    port: int
    ok: bool
    error: str | None = None
    verify_code: int | None = None
    #: The TCP connection itself failed (nothing to say about TLS).
    unreachable: bool = False
    version: str | None = None
    subject: str = ""
    issuer: str = ""
    not_after: str = ""
    days_left: float | None = None
    names: list[str] = field(default_factory=list)
    #: The certificates the server sent, as ``(subject, issuer)``: read when verification
    #: failed, to tell a missing intermediate from an unknown CA.
    sent: list[tuple[str, str]] = field(default_factory=list)


def _name(rdns: object) -> str:
    parts: list[str] = []
    if isinstance(rdns, tuple):
        for rdn in rdns:
            for key, value in rdn:
                parts.append(f"{key}={value}")
    return ", ".join(parts)


def sent_chain(address: str, host: str, port: int, options: FetchOptions) -> list[tuple[str, str]]:
    """``(subject, issuer)`` of each certificate the server sends, unverified.

    ``SSLSocket.get_unverified_chain`` is public from Python 3.13; 3.10 to 3.12 have it on
    the C object (``_sslobj``). Without either the list is empty and the caller says less.
    """
    try:
        with socket.create_connection((address, port), options.timeout) as raw:
            context = tls_context(options, verify=False)
            with context.wrap_socket(raw, server_hostname=host) as sock:
                getter = getattr(sock, "get_unverified_chain", None) or getattr(
                    getattr(sock, "_sslobj", None), "get_unverified_chain", None
                )
                chain = getter() if getter is not None else None
    except Exception:
        return []
    sent: list[tuple[str, str]] = []
    for cert in chain or ():
        info = cert.get_info() if hasattr(cert, "get_info") else {}
        sent.append((_name(info.get("subject")), _name(info.get("issuer"))))
    return sent


def probe_tls(host: str, port: int, options: FetchOptions) -> TLSInfo:
    """Handshake with ``host:port`` verifying chain, expiry and hostname."""
    address = options.connect_to.get((host, port), host)
    info = TLSInfo(host=host, port=port, ok=False)
    try:
        with socket.create_connection((address, port), options.timeout) as raw:
            context = tls_context(options)
            with context.wrap_socket(raw, server_hostname=host) as sock:
                cert = sock.getpeercert() or {}
                info.ok = True
                info.version = sock.version()
    except ssl.SSLCertVerificationError as exc:
        info.error = str(exc.verify_message or exc.reason)
        info.verify_code = exc.verify_code
        info.sent = sent_chain(address, host, port, options)
        return info
    except Exception as exc:
        kind, info.error = _describe_error(exc, host, port, options.timeout)
        info.unreachable = kind != "tls"
        return info
    info.subject = _name(cert.get("subject"))
    info.issuer = _name(cert.get("issuer"))
    not_after = cert.get("notAfter")
    if isinstance(not_after, str):
        info.not_after = not_after
        info.days_left = (ssl.cert_time_to_seconds(not_after) - time.time()) / 86400
    names = cert.get("subjectAltName") or ()
    if isinstance(names, tuple):
        info.names = [str(value) for _, value in names]
    return info
