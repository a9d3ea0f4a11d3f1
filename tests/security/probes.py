"""The one list of attack probes, run against every delivery path (``targets.TARGETS``).

A probe is a request as it goes on the wire (curl would normalise the path) and what every
target must answer: the allowed statuses and, for a 200, whose bytes. Checked for every
probe on every target (``check``): never a 5xx, never a byte from outside the root or of a
dotfile, never an injected header, ``nosniff`` on every file.

Statuses: 404 is mediaserve's refusal (absence, traversal, dotfile, denied read); 400/431
are the server refusing a request it cannot parse (before any application runs); 405 a
method a file does not support; 412 a failed If-Match.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from harness import RawResponse
from mediaserve import Signer

# Each entry is a request-target as it goes on the wire. The secret lives in BASE/outside/,
# next to the root; ".secret" is a dotfile inside the root.
TRAVERSALS = [
    "/media/../outside/secret.txt",
    "/media/..%2foutside/secret.txt",
    "/media/..%2Foutside%2Fsecret.txt",
    "/media/%2e%2e/outside/secret.txt",
    "/media/%2E%2E%2Foutside%2Fsecret.txt",
    "/media/%252e%252e/outside/secret.txt",  # double-encoded: decoded once it is literal
    "/media/..\\outside\\secret.txt",
    "/media/..%5coutside%5csecret.txt",
    "/media/%c0%ae%c0%ae/outside/secret.txt",  # overlong UTF-8 for "."
    "/media/%e0%80%ae%e0%80%ae/outside/secret.txt",
    "/media/\uff0e\uff0e/outside/secret.txt".encode().decode("latin-1"),  # fullwidth dots
    "/media/%ef%bc%8e%ef%bc%8e/outside/secret.txt",
    "/media/%e2%80%a4%e2%80%a4/outside/secret.txt",  # U+2024 one dot leader
    "/media/%e2%80%a5/outside/secret.txt",  # U+2025 two dot leader, one character
    "/media/%ef%b9%92%ef%b9%92/outside/secret.txt",  # U+FE52 small full stop
    "/media/%u002e%u002e/outside/secret.txt",  # IIS-style %u escapes
    "/media/.%2e/outside/secret.txt",
    "/media/%2e./outside/secret.txt",
    "/media/...//outside/secret.txt",
    "/media/nested/../../outside/secret.txt",
    "/media/nested/%2e%2e/%2e%2e/outside/secret.txt",
    "/media/./../outside/secret.txt",
    "/media//etc/passwd",
    "/media/%2fetc%2fpasswd",
    "/media/C:/Windows/win.ini",
    "/media/C:%5cWindows%5cwin.ini",
    "/media/hello.txt%00.png",
    "/media/hello.txt%00",
    "/media/link-outside.txt",  # symlink leaving the root
    "/media/link-outside-dir/secret.txt",  # directory symlink leaving the root
    "/media/.secret",
    "/media/%2esecret",
    "/media/nested/../.secret",
    "/media/.git/config",
    "/media/.env",
    "/media/nested/",  # a directory: no listing
    "/media/nested",
    "/media/",
    "/media",
    "/media/" + "a/" * 300 + "x.txt",  # deep path
    "/media/" + "x" * 4000 + ".txt",  # name longer than NAME_MAX
    "/media/hello.txt/",
    "/media/hello.txt/..",
    "/media/%",
    "/media/%zz",
    "/media/%c3",
    "http://t/media/../outside/secret.txt",  # absolute-form (RFC 9112 §3.2.2)
    "http://t/media/%2e%2e/outside/secret.txt",
    "/media/hello.txt;/../../outside/secret.txt",  # path parameters are not special
]

FORBIDDEN_CONTENT = (b"outside the media root", b"SECRET_KEY=dotfiles", b"root:x:0:0")

# Reflected file download: a URL that makes a trusted host's response save as "setup.bat".
# The name of a download only ever comes from the file actually served.
RFD = [
    "/media/hello.txt;/setup.bat",
    "/media/hello.txt/setup.bat",
    "/media/hello.txt%3b/setup.cmd",
    "/media/hello.txt;setup.bat",
    "/media/uploads/evil.html;/setup.bat",
]

#: Stored names with a quote, CR, LF + a header, ';' (what an uploader could get on disk).
HOSTILE_NAMES = ['names/quote".svg', "names/cr\r.html", "names/lf\nSet-Cookie: a=b.html",
                 "names/semi;filename=setup.bat.html"]  # fmt: skip

# Names with CR/LF, quotes and the like in the URL: no header may come out of them.
INJECTIONS = [
    "/media/hello.txt%0d%0aSet-Cookie:%20injected=1",
    "/media/x%0d%0aSet-Cookie:%20injected=1.html",
    "/media/x%22;%20filename=setup.bat.html",
    "/media/%0aLocation:%20http://evil/",
]

RANGE_FILE = "random.bin"
# As many as fit in gunicorn's 8190-byte header line limit: far past MAX_RANGES (16).
_MANY_RANGES = ",".join(f"{i * 3}-{i * 3}" for i in range(700))

#: attachment; filename="ASCII without quote, backslash, CR, LF"; filename*=UTF-8''...
DISPOSITION = re.compile(r"""attachment; filename="[^"\\\r\n]*"(; filename\*=UTF-8''[^\s";]*)?""")
Expect = frozenset[int]
#: 404 from mediaserve, 400 from a server that cannot parse the request line.
REFUSED: Expect = frozenset({400, 404})
#: Django's APPEND_SLASH sends "/media" to "/media/" (a same-site redirect, no file involved).
SLASH_REDIRECT = frozenset({301})
NOT_FOUND: Expect = frozenset({404})


@dataclass(frozen=True)
class Probe:
    """One request and what every target must answer to it.

    ``target`` is the request-target, or a function of the suite's signer (signed URLs).
    ``body`` names the tree file a 200/206 must be byte for byte; ``private`` says a 200
    must be uncacheable.
    """

    id: str
    target: str | Callable[[Signer], str]
    expect: Expect
    headers: tuple[str, ...] = ()
    method: str = "GET"
    body: str | None = None
    private: bool = False

    def request_target(self, signer: Signer) -> str:
        return self.target if isinstance(self.target, str) else self.target(signer)


def _signed(
    name: str, *, expires_in: int = 60, method: str | None = None
) -> Callable[[Signer], str]:
    return lambda s: s.url("/media/", name, expires_in=expires_in, method=method)


def _expired(name: str) -> Callable[[Signer], str]:
    def make(s: Signer) -> str:
        past = copy.copy(s)
        past.clock = lambda: s.clock() - 3600
        return past.url("/media/", name, expires_in=60)

    return make


def _tampered(name: str, other: str) -> Callable[[Signer], str]:
    return lambda s: s.url("/media/", name).replace(name, other, 1)


def _garbage_if(header: str, status: int) -> Probe:
    return Probe(f"garbage {header}", f"/media/{RANGE_FILE}", frozenset({status}),
                 headers=(f"{header}: \xff\"W/;*,,\\ garbage 99999999999999999999",),
                 body=RANGE_FILE if status == 200 else None)  # fmt: skip


PROBES: list[Probe] = [
    *(Probe(f"traversal {t[:60]!r}", t, REFUSED) for t in TRAVERSALS),
    *(Probe(f"rfd {t!r}", t, NOT_FOUND) for t in RFD),
    *(Probe(f"injection {t!r}", t, REFUSED) for t in INJECTIONS),
    # Files whose stored names carry a quote, CR, LF + a header, ';': served, and the
    # download name stays inside one Content-Disposition field (check() looks).
    *(Probe(f"hostile name {n!r}", "/media/" + quote(n), frozenset({200}), body=n)
      for n in HOSTILE_NAMES),
    # -- access ----------------------------------------------------------------------------
    Probe("public file", "/media/public/doc.pdf", frozenset({200}), body="public/doc.pdf"),
    Probe("signed, no signature", "/media/signed/doc.pdf", NOT_FOUND),
    Probe("signed, valid", _signed("signed/doc.pdf"), frozenset({200}),
          body="signed/doc.pdf", private=True),
    Probe("signed, valid, non-ASCII name", _signed("signed/relatório de vendas ü.pdf"),
          frozenset({200}), body="signed/relatório de vendas ü.pdf", private=True),
    Probe("signed, valid, HEAD", _signed("signed/doc.pdf", method="GET"), frozenset({200}),
          method="HEAD", private=True),
    Probe("signed, bound to HEAD, used for GET", _signed("signed/doc.pdf", method="HEAD"),
          NOT_FOUND),
    Probe("signed, expired", _expired("signed/doc.pdf"), NOT_FOUND),
    Probe("signed, for another file", _tampered("public/doc.pdf", "signed/doc.pdf"), NOT_FOUND),
    Probe("signed, forged", "/media/signed/doc.pdf?expires=99999999999&signature=AAAA",
          NOT_FOUND),
    Probe("signed, non-ASCII signature",
          "/media/signed/doc.pdf?expires=99999999999&signature=%C3%A9%00", NOT_FOUND),
    Probe("signed, upper-case prefix", "/media/SIGNED/doc.pdf", NOT_FOUND),
    Probe("signed, via public/..", "/media/public/../signed/doc.pdf", REFUSED),
    Probe("signed, via %2e%2e", "/media/public/%2e%2e/signed/doc.pdf", REFUSED),
    Probe("signed, via encoded slash", "/media/signed%2fdoc.pdf", REFUSED),
    Probe("signed, via double slash", "/media//signed/doc.pdf", REFUSED),
    Probe("signed, missing file, no signature", "/media/signed/nothing.pdf", NOT_FOUND),
    Probe("private, anonymous", "/media/private/doc.pdf", NOT_FOUND),
    Probe("private, wrong credentials", "/media/private/doc.pdf", NOT_FOUND,
          headers=("Authorization: Bearer guess",)),
    Probe("private, permitted", "/media/private/doc.pdf", frozenset({200}),
          headers=("Authorization: Bearer let-me-in",), body="private/doc.pdf", private=True),
    Probe("private, signed", _signed("private/doc.pdf"), frozenset({200}),
          body="private/doc.pdf", private=True),
    # Django's CSRF middleware answers a POST before the view: 403 there, 405 elsewhere.
    Probe("private, POST", "/media/private/doc.pdf", frozenset({403, 405}), method="POST"),
    # -- ranges and conditional requests --------------------------------------------------
    Probe("700 ranges", f"/media/{RANGE_FILE}", frozenset({200}),
          headers=(f"Range: bytes={_MANY_RANGES}",), body=RANGE_FILE),
    Probe("range past the end", f"/media/{RANGE_FILE}", frozenset({416}),
          headers=("Range: bytes=99999999-",)),
    Probe("range with 40 digits", f"/media/{RANGE_FILE}", frozenset({200}),
          headers=("Range: bytes=0-" + "9" * 40,), body=RANGE_FILE),
    _garbage_if("If-Match", 412),
    _garbage_if("If-None-Match", 200),
    _garbage_if("If-Modified-Since", 200),
    _garbage_if("If-Unmodified-Since", 200),
    Probe("garbage If-Range", f"/media/{RANGE_FILE}", frozenset({200}),
          headers=("If-Range: \xffnot a date", "Range: bytes=0-9"), body=RANGE_FILE),
    # -- oversized requests: the server refuses them before any application runs ------------
    # uvicorn (httptools) has no header size limit: 200 is its answer; never a 5xx.
    Probe("a 64 KiB header", "/media/hello.txt", frozenset({200, 400, 431}),
          headers=("X-Big: " + "a" * 65536,)),
    Probe("a 64 KiB path", "/media/" + "a" * 65536, frozenset({400, 404, 414, 431})),
]  # fmt: skip

# Bytes that may never appear in any answer: outside the root, a dotfile, /etc/passwd.
NEVER = FORBIDDEN_CONTENT


def check(probe: Probe, response: RawResponse, files: dict[str, bytes]) -> None:
    """The expectations shared by every probe on every target."""
    status, headers, body = response
    where = f"{probe.id}: {status}"
    target = probe.target if isinstance(probe.target, str) else ""
    if status in SLASH_REDIRECT and headers.get("location") == target + "/":
        return
    assert status in probe.expect, where
    for secret in NEVER:
        assert secret not in body, f"{probe.id} leaked {secret!r}"
    assert "set-cookie" not in headers, where
    assert "location" not in headers, where
    disposition = headers.get("content-disposition", "")
    assert not disposition.endswith((".bat", '.bat"', ".cmd", '.cmd"')), disposition
    if disposition:  # RFC 6266/8187: one quoted ASCII fallback, then an encoded filename*
        assert DISPOSITION.fullmatch(disposition), disposition
    if status in (200, 206):
        assert headers["x-content-type-options"] == "nosniff", where
        if probe.body is not None and probe.method != "HEAD":
            assert body == files[probe.body], where
        cache = headers.get("cache-control", "")
        if probe.private:
            assert cache == "private, no-store", where
        else:
            assert "public" in cache, where
