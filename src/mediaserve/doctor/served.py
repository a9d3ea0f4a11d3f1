"""Hops ``in-process``, ``upstream`` and ``public``: one response judged against the file.

The same questions are asked of every answer along the way (what Django would answer
in-process, what the app server answers with the public Host, what the public URL answers):
status, body length and checksum against the file on disk, Content-Type against the magic
bytes, Content-Length against the size, HEAD against GET, Range, validators, redirects.
The first hop where the answers go wrong is the broken one; when a status is wrong the
answer's own signature (nginx's error page, Django's 400 page, a 502) names the culprit.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .fetch import Fetch, Response
from .file import FileFacts
from .magic import same_family, sniffed_type
from .report import Finding

__all__ = ["Exchanges", "check_served", "origin_of"]

RANGE_END = 1023
LOGIN_WORDS = ("login", "signin", "sign-in", "sign_in", "accounts/", "auth", "sso")


@dataclass
class Exchanges:
    """The requests one hop made: a GET, and optionally HEAD, a Range GET, a conditional GET."""

    get: Fetch
    head: Fetch | None = None
    ranged: Fetch | None = None
    conditional: Fetch | None = None
    #: A second plain GET right after the first: Meta fetches again and compares.
    again: Fetch | None = None
    #: A Range GET with ``Accept-Encoding: gzip``, as crawlers and browsers send it.
    gzip_ranged: Fetch | None = None


#: Meta's fetchers give up on media that is slow to start; "within a few seconds". Over
#: half the budget is a warning, over the budget a failure (``--max-first-byte``).
FIRST_BYTE_BUDGET = 5.0


def origin_of(response: Response) -> str:
    """Who produced this answer: the body's signature first (a proxy replaces the Server
    header of what it passes on, so Django's 404 page through nginx says "Server: nginx"),
    then the Server header."""
    server = (response.header("server") or "").lower()
    body = response.head[:2048].lower()
    if b"the requested url was not found on this server" in body or b"<address>apache" in body:
        return "apache"  # before Django's 404, whose sentence ends the same way
    if b"<h1>bad request (400)</h1>" in body or b"not found on this server" in body:
        return "django"
    if b"<center>nginx" in body:
        return "nginx"
    if server.startswith(("nginx", "openresty")):
        return "nginx"
    for name in ("cloudflare", "caddy", "apache"):
        if server.startswith(name):
            return name
    if server.startswith(("gunicorn", "uvicorn", "granian", "wsgiserver", "daphne")):
        return "app"
    return server or "unknown"


def _is_login(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return any(word in path for word in LOGIN_WORDS)


def explain_status(hop: str, response: Response, facts: FileFacts | None) -> tuple[str, str]:
    """``(summary, fix)`` for a non-200 answer, from its status and who sent it."""
    status = response.status
    who = "django" if hop == "in-process" else origin_of(response)
    if status == 400 and who in ("django", "app", "unknown", "gunicorn"):
        host = urlsplit(response.url).hostname or ""
        return (
            "400 Bad Request from Django: the Host is not in ALLOWED_HOSTS (DisallowedHost)",
            f"ALLOWED_HOSTS = [..., {host!r}]  # the public host, as the proxy passes it\n"
            "and in the proxy: proxy_set_header Host $host;",
        )
    if status in (502, 504) and who != "app":
        return (
            f"{status} from {who}: the proxy cannot reach the app server",
            "Start the app server (gunicorn/uvicorn) and check the proxy's upstream address:\n"
            "  proxy_pass http://web:8000;  # the app's name and port as the proxy sees them\n"
            "Run the doctor with --upstream http://web:8000 to test that hop directly.",
        )
    if status == 503 and who != "app":
        return (
            f"503 from {who}: the service is unavailable (upstream down or rate limit)",
            "Check the app server and the proxy's error log.",
        )
    if status == 404 and who == "nginx":
        return (
            "404 from nginx itself: the proxy serves this path from its own disk and has no "
            "such file there",
            "Either mount the media volume into the proxy at the path its root/alias names "
            "(docker compose: the same volume in both services, e.g. "
            "- media:/app/media:ro), or pass /media/ to the app:\n"
            "  location ^~ /media/ { proxy_pass http://web:8000; proxy_set_header Host $host; }\n"
            "If the media block is there, another server block may answer this Host (on "
            "Debian/Ubuntu the stock sites-enabled/default is the default_server for port "
            "80). With --proxy-config the doctor shows which server block and location "
            "answer.",
        )
    if status == 404:
        return (
            f"404 from {who}: the app has no route or no file for this path",
            "See the 'routing' and 'file' hops; with DEBUG = False, static() routes nothing:\n"
            "  urlpatterns += media_urlpatterns()  # from mediaserve.django.urls",
        )
    if status == 403 and who in ("nginx", "apache", "caddy"):
        mode = f" (file mode {facts.mode:04o})" if facts else ""
        path = facts.path if facts else "FILE"
        return (
            f"403 from {who}: it cannot read the file{mode}, or a deny rule matches",
            f"chmod 644 {path}   # and o+x on every folder above it\n"
            "and so new uploads are readable by the proxy, in settings.py:\n"
            "  FILE_UPLOAD_PERMISSIONS = 0o644\n"
            "  FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o755",
        )
    if status in (401, 403):
        return (
            f"{status} from {who}: the file needs credentials",
            "Media sent to Meta must be public (or a signed URL valid long enough).",
        )
    if status == 429:
        return (
            f"429 from {who}: rate limited",
            "Raise the limit for media, or exempt the crawler.",
        )
    if status == 416:
        return ("416: the server refused the range", "Check the proxy's range handling.")
    if status >= 500:
        return (f"{status} from {who}: the server failed", "Read the app server's error log.")
    return (f"{status} {response.reason} from {who}", "Serve the file with 200.")


def _header_problems(response: Response, facts: FileFacts | None) -> list[tuple[str, str, str]]:
    """``(verdict, summary, fix)`` for a 200 whose headers or body disagree with the file."""
    problems: list[tuple[str, str, str]] = []
    body_type = sniffed_type(response.head) if response.head else None
    declared = response.content_type
    if facts is not None and facts.size > 0 and response.length == 0:
        problems.append(
            (
                "fail",
                f"200 with an empty body (Content-Length: {response.header('content-length')}); "
                f"the file has {facts.size} bytes",
                "Something answers without the file: a `return 200;` location, an X-Accel-Redirect "
                "to a location that does not exist, or a view returning HttpResponse(). "
                "--proxy-config shows which nginx location answers.",
            )
        )
        return problems
    if body_type == "text/html" and (facts is None or facts.sniffed != "text/html"):
        problems.append(
            (
                "fail",
                "200 with an HTML page instead of the file (a catch-all, a SPA fallback or a login "
                "page answered)",
                "Route media before the catch-all:\n"
                "  urlpatterns = media_urlpatterns() + urlpatterns\n"
                "in nginx, no `try_files $uri /index.html` for media:\n"
                "  location ^~ /media/ { try_files $uri =404; }",
            )
        )
        return problems
    if facts is not None and not response.truncated:
        if response.length != facts.size:
            problems.append(
                (
                    "fail",
                    f"body has {response.length} bytes, the file {facts.size}",
                    "The served file is not the one on disk: check the proxy's "
                    "root/alias and the volume it sees.",
                )
            )
        elif facts.sha256 and response.sha256 != facts.sha256:
            problems.append(
                (
                    "fail",
                    "body has the file's size but other bytes (sha256 differs)",
                    "A stale copy or another volume is being served.",
                )
            )
    truth = body_type or (facts.sniffed if facts else None) or (facts.expected if facts else None)
    if not declared:
        problems.append(
            ("warn", "no Content-Type", "Send the file's type (nginx: include mime.types;).")
        )
    elif truth and not same_family(declared, truth):
        problems.append(
            (
                "fail",
                f"Content-Type is {declared} but the bytes are {truth}",
                "Send the right type: in nginx `include /etc/nginx/mime.types;` in http {}, and no "
                "`default_type`/`types {}` overriding it for media; in Django, mediaserve sets it "
                "from the name (MEDIASERVE['CONTENT_TYPES'] for extra extensions).",
            )
        )
    length_header = response.header("content-length")
    if length_header is None:
        problems.append(
            (
                "warn",
                "no Content-Length (chunked): consumers cannot see the size up front",
                "Serve the file directly (sendfile) rather than streamed through a "
                "filter; disable gzip for media.",
            )
        )
    elif (
        length_header.strip().isdigit()
        and int(length_header) != response.length
        and not response.truncated
    ):
        problems.append(
            (
                "fail",
                f"Content-Length {length_header} but {response.length} body bytes",
                "A proxy or middleware changed the body without fixing the length.",
            )
        )
    if response.incomplete:
        problems.append(
            (
                "fail",
                "the body ended before Content-Length bytes arrived",
                "The connection was cut: check proxy timeouts and the app's log.",
            )
        )
    encoding = response.header("content-encoding")
    if encoding and encoding.lower() != "identity":
        problems.append(
            (
                "warn",
                f"Content-Encoding: {encoding} on a media file",
                "Don't gzip images/video (nginx: gzip_types without image/*).",
            )
        )
    return problems


def _scheme_flip(get: Fetch) -> bool:
    schemes = [urlsplit(r.url).scheme for r in get.chain]
    targets = [urlsplit(r.location or "").scheme for r in get.chain]
    return "http" in schemes + targets and "https" in schemes + targets


def check_served(
    hop: str,
    exchanges: Exchanges,
    facts: FileFacts | None,
    *,
    label: str,
    first_byte_budget: float = FIRST_BYTE_BUDGET,
) -> list[Finding]:
    """Findings for one hop's answers. ``label`` says what was asked (e.g. the URL)."""
    get = exchanges.get
    response = get.last
    if response is None or (get.error and get.error_kind not in ("redirect-loop", "redirects")):
        summary = get.error or "no response"
        fix = {
            "refused": "Start the server, or fix the address/port (a container name from "
            "inside the network, a published port from outside).",
            "dns": "Use a name that resolves from where the fetch runs; --resolve HOST:PORT:ADDR "
            "tests a server before DNS points at it.",
            "timeout": "The server accepted nothing or answered nothing in time: check a "
            "firewall, the proxy's upstream, and the app's workers (all busy?).",
            "tls": "See the 'tls' hop.",
            "closed": "The server closed the connection without an answer: check that the port "
            "speaks this protocol (http vs https) and the server's error log.",
        }.get(get.error_kind or "", "Check the address and that the server runs.")
        return [Finding(hop, "fail", summary, [f"{label}"], fix)]
    evidence = [r.describe() for r in get.chain] + get.notes
    if get.error_kind == "redirect-loop" and _scheme_flip(get):
        return [
            Finding(
                hop,
                "fail",
                f"HTTP<->HTTPS redirect loop: {get.error}",
                evidence,
                "One rule sends http to https and another sends https back to http. Usual "
                "pairs: a CDN in 'Flexible' TLS mode (it talks http to an origin that forces "
                "https: use 'Full (strict)'), or a proxy forcing https in front of an app or "
                "a second proxy redirecting to http (its base URL or X-Forwarded-Proto says "
                "http: proxy_set_header X-Forwarded-Proto $scheme;). Keep one redirect, to "
                "https, at the edge.",
            )
        ]
    if get.error_kind == "redirect-loop":
        return [
            Finding(
                hop,
                "fail",
                get.error or "redirect loop",
                evidence,
                "A redirect loop behind a TLS proxy is SECURE_SSL_REDIRECT without "
                "SECURE_PROXY_SSL_HEADER: Django sees http and redirects to https forever.\n"
                "  SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')\n"
                "and in nginx: proxy_set_header X-Forwarded-Proto $scheme;",
            )
        ]
    if get.error_kind == "redirects":
        return [
            Finding(
                hop,
                "fail",
                get.error or "too many redirects",
                evidence,
                "Serve the file without redirects.",
            )
        ]
    findings: list[Finding] = []
    if get.redirected:
        target = response.url
        if _is_login(target):
            return [
                Finding(
                    hop,
                    "fail",
                    f"redirected to a login page: {target}",
                    evidence,
                    "Media for Meta must be public: exempt MEDIA_URL from the login "
                    "requirement (or send a signed URL).",
                )
            ]
        findings.append(
            Finding(
                hop,
                "warn",
                f"{len(get.chain) - 1} redirect(s) before the file: {target}",
                evidence,
                "Emit the final URL; crawlers may not follow redirects.",
            )
        )
    elif response.status in (301, 302, 303, 307, 308):
        location = response.location or ""
        same = urlsplit(location)._replace(scheme="") == urlsplit(response.url)._replace(scheme="")
        if location.startswith("https://") and same:
            return [
                Finding(
                    hop,
                    "fail",
                    f"{response.status} to the same URL on https: behind the proxy this is a "
                    "redirect loop",
                    [*evidence, f"Location: {location}"],
                    "SECURE_SSL_REDIRECT needs to know the proxy terminated TLS:\n"
                    "  SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')\n"
                    "and in nginx: proxy_set_header X-Forwarded-Proto $scheme;",
                )
            ]
        return [
            Finding(
                hop,
                "fail",
                f"{response.status} redirect to {location}",
                evidence,
                "Serve the file at this URL without a redirect.",
            )
        ]
    if response.status != 200:
        summary, fix = explain_status(hop, response, facts)
        if response.status >= 500 and get.notes:
            summary = f"{response.status} from django: {get.notes[0]}"
            fix = "Fix that exception (the app's log has the traceback)."
        return [Finding(hop, "fail", summary, evidence, fix)]
    problems = _header_problems(response, facts)
    for verdict, summary, fix in problems:
        findings.append(
            Finding(hop, "fail" if verdict == "fail" else "warn", summary, evidence, fix)
        )
    if any(f.verdict == "fail" for f in findings):
        return findings
    findings.extend(_extras(hop, exchanges, response, facts))
    findings.extend(_crawler_concerns(hop, exchanges, response, first_byte_budget))
    if not any(f.verdict in ("warn", "fail") for f in findings):
        checks = "status, size"
        if facts is not None and facts.sha256:
            checks += ", sha256"
        findings.append(
            Finding(
                hop,
                "pass",
                f"200, {response.length} bytes, {response.content_type}: "
                f"{checks}, type, HEAD, Range and validators agree",
                evidence,
            )
        )
    return findings


def _extras(
    hop: str, exchanges: Exchanges, response: Response, facts: FileFacts | None
) -> list[Finding]:
    findings: list[Finding] = []
    head = exchanges.head.final if exchanges.head else None
    if exchanges.head is not None:
        if head is None:
            findings.append(
                Finding(
                    hop,
                    "warn",
                    f"HEAD failed: {exchanges.head.error}",
                    [],
                    "Answer HEAD like GET without the body.",
                )
            )
        elif (
            head.status != response.status
            or (head.header("content-length") not in (None, response.header("content-length")))
            or head.content_type != response.content_type
        ):
            findings.append(
                Finding(
                    hop,
                    "warn",
                    "HEAD disagrees with GET",
                    [
                        head.describe(),
                        f"HEAD Content-Length {head.header('content-length')}, "
                        f"GET Content-Length {response.header('content-length')}",
                    ],
                    "Some consumers check with HEAD first: answer it with GET's headers.",
                )
            )
    ranged = exchanges.ranged.final if exchanges.ranged else None
    if exchanges.ranged is not None and ranged is not None:
        size = facts.size if facts else response.length
        want_end = min(RANGE_END, size - 1)
        if ranged.status == 206:
            expected = f"bytes 0-{want_end}/{size}"
            got = ranged.header("content-range") or ""
            if got != expected or (facts and ranged.head != facts.head[: want_end + 1]):
                findings.append(
                    Finding(
                        hop,
                        "fail",
                        f"206 with wrong range: Content-Range {got!r}, expected {expected!r}",
                        [ranged.describe()],
                        "A proxy altered the partial body: don't gzip or filter media.",
                    )
                )
        elif ranged.status == 200 and size > RANGE_END + 1:
            findings.append(
                Finding(
                    hop,
                    "warn",
                    "Range ignored: 200 with the whole file instead of 206",
                    [ranged.describe()],
                    "Serve media with mediaserve (RFC 9110 ranges) or the proxy's static "
                    "file handling; video seeking and Meta's partial fetches need 206.",
                )
            )
    etag = response.header("etag")
    last_modified = response.header("last-modified")
    if not etag and not last_modified:
        findings.append(
            Finding(
                hop,
                "warn",
                "no ETag or Last-Modified: every fetch downloads the file again",
                [],
                "Serve with mediaserve or the proxy's static handling (both send validators).",
            )
        )
    elif exchanges.conditional is not None:
        cond = exchanges.conditional.final
        if cond is not None and cond.status not in (304, 200):
            findings.append(
                Finding(
                    hop, "warn", f"a conditional GET answered {cond.status}", [cond.describe()], ""
                )
            )
    if response.elapsed > 5:
        findings.append(
            Finding(
                hop,
                "warn",
                f"slow: {response.elapsed:.1f} s for the whole file",
                [],
                "Crawlers time out on slow media: serve it with sendfile, check the network.",
            )
        )
    return findings


def _crawler_concerns(
    hop: str, exchanges: Exchanges, response: Response, budget: float
) -> list[Finding]:
    """What Meta's fetchers meet and a single plain GET does not show: a slow first byte,
    bytes that change between fetches, gzip that turns a Range into another body."""
    findings: list[Finding] = []
    if response.first_byte > budget / 2:
        over = response.first_byte > budget
        findings.append(
            Finding(
                hop,
                "fail" if over else "warn",
                f"slow first byte: {response.first_byte:.1f} s before the status line "
                f"(budget {budget:g} s)",
                [response.describe()],
                "Meta's fetchers want the image within a few seconds. Serve files directly "
                "(the proxy's static handling, or mediaserve's sendfile path) instead of "
                "generating them per request; pre-build renditions; check busy app workers.",
            )
        )
    again = exchanges.again.final if exchanges.again else None
    if (
        again is not None
        and again.status == 200
        and not (again.truncated or response.truncated)
        and (again.sha256, again.length) != (response.sha256, response.length)
    ):
        findings.append(
            Finding(
                hop,
                "fail",
                "the same URL answered different bytes on two fetches in a row",
                [
                    f"1st: {response.length} bytes, sha256 {response.sha256[:16]}, "
                    f"ETag {response.header('etag')}",
                    f"2nd: {again.length} bytes, sha256 {again.sha256[:16]}, "
                    f"ETag {again.header('etag')}",
                ],
                "Meta fetches an image again and treats changed bytes as a new image (or a "
                "broken one). Serve one stored file per URL: no per-request re-encoding, and "
                "behind a load balancer every replica must see the same volume (or the "
                "object store).",
            )
        )
    gz = exchanges.gzip_ranged.final if exchanges.gzip_ranged else None
    encoding = (gz.header("content-encoding") or "identity").lower() if gz else "identity"
    if gz is not None and gz.status in (200, 206) and encoding != "identity":
        vary = gz.header("vary")
        what = (
            "drops the Range (200 with the whole compressed body)"
            if gz.status == 200
            else "applies the Range to the compressed bytes"
        )
        findings.append(
            Finding(
                hop,
                "fail",
                f"with Accept-Encoding: gzip the answer is Content-Encoding: {encoding} and {what}",
                [gz.describe(), f"Vary: {vary or '(none)'}"],
                "Don't compress media: nginx gzip_types without image/video types (and no "
                "gzip on in the media location); Apache SetEnvIfNoCase Request_URI "
                "\\.(jpe?g|png|gif|webp|mp4)$ no-gzip; Caddy: encode only text types. "
                "Crawlers send Accept-Encoding and Range together.",
            )
        )
    return findings
