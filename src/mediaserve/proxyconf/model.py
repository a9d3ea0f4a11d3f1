"""What every generated proxy config is made from, and the checks that keep it valid.

The same :class:`ProxySetup` renders nginx, Nginx Proxy Manager, Caddy, Apache and Traefik
output, so the five agree on the prefix, the directory, the private prefixes and the
security headers -- and agree with what in-process serving sends.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..http.content_types import FALLBACK_TYPE, passive_extensions, served_types
from ..http.plan import SANDBOX_CSP, ServeOptions, not_found
from ..pipeline.offload import DEFAULT_INTERNAL_PREFIX, METHODS
from ..policy.platforms import MB, WHATSAPP_DOCUMENT

__all__ = [
    "FALLBACK_TYPE",
    "NOT_FOUND_BODY",
    "NOT_FOUND_HEADERS",
    "NOT_FOUND_TYPE",
    "REFUSED_ESCAPES",
    "SANDBOX_CSP",
    "ConfigError",
    "ProxySetup",
    "Upstream",
    "extension_regex",
    "other_case_regex",
    "refused_escape_regex",
]

# In-process serving's one 404 (http/plan.py ``not_found``), which every refusal shares so
# that a refusal cannot be told from absence. The proxies answer whatever is not a regular
# file they may send -- a folder, a symlink, a dotfile, an unreadable file, a private
# folder's bare name -- with these same bytes and headers.
_NOT_FOUND = not_found()
NOT_FOUND_TYPE = dict(_NOT_FOUND.headers)["Content-Type"]
#: The 404's headers besides Content-Type and Content-Length (nosniff, no-cache).
NOT_FOUND_HEADERS = tuple(
    (name, value)
    for name, value in _NOT_FOUND.headers
    if name not in ("Content-Type", "Content-Length")
)
NOT_FOUND_BODY = b"".join(part for part in _NOT_FOUND.body if isinstance(part, bytes)).decode()

#: Escapes in-process serving refuses in the raw URL (pipeline/request.py ``decode_path``):
#: a proxy that decodes ``%2f`` would merge two segments into one name, ``%5c`` is a
#: backslash and ``%00`` cuts the name. The proxies refuse them too, in any letter case.
REFUSED_ESCAPES = ("%2f", "%5c", "%00")


def refused_escape_regex() -> str:
    """A regex (apply it case-insensitively) finding a refused escape in a raw URL's path,
    i.e. before its first ``?``."""
    return r"^[^?]*%(?:" + "|".join(e[1:] for e in REFUSED_ESCAPES) + ")"


class ConfigError(ValueError):
    """Input that no config can be generated from; the message names the option and the fix."""


def extension_regex(exts: Iterable[str]) -> str:
    """A regex alternation matching exactly these extensions (no dot, no anchors)."""
    return "|".join(re.escape(ext) for ext in exts)


@dataclass(frozen=True)
class Upstream:
    """The app server: ``http://host:port``."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Upstream:
        value = text.strip()
        if "://" not in value:
            value = "http://" + value
        try:
            parts = urlsplit(value)
            port = parts.port or 80
        except ValueError:
            raise ConfigError(f"--upstream {text!r} is not host:port (e.g. web:8000)") from None
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            raise ConfigError(
                f"--upstream {text!r} must be http://HOST:PORT of the app server "
                "(e.g. http://web:8000 or 127.0.0.1:8000)"
            )
        return cls(parts.hostname, port)

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"


_EXT_RE = re.compile(r"[a-z0-9][a-z0-9+_-]*")
# RFC 6838 §4.2 restricted names, '$' left out (nginx would expand it).
_TYPE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#&^_.+-]*")
_PREFIX_RE = re.compile(r"^/(?:[^\x00-\x20\x7f?#]+/)*$")


def _clean_prefix(value: str, what: str) -> str:
    text = "/" + value.strip().strip("/") + "/" if value.strip().strip("/") else "/"
    if not _PREFIX_RE.match(text) or "/../" in text or "/./" in text:
        raise ConfigError(
            f"{what} {value!r} must be a URL path such as /media/ (no spaces, '?', '#' or '..')"
        )
    return text


# In-process serving's defaults: a proxy left at its defaults answers as the app does.
_IN_PROCESS = ServeOptions()


@dataclass(frozen=True)
class ProxySetup:
    """One site: where the media is, where the app is, and which media is private."""

    media_url: str = "/media/"
    media_root: str = "/srv/media"
    upstream: Upstream = field(default_factory=lambda: Upstream("127.0.0.1", 8000))
    server_name: str = "_"
    listen: str = "80"
    # The offload method the app uses for private media (its MEDIASERVE['OFFLOAD']).
    offload: str | None = "x-accel-redirect"
    internal_prefix: str = DEFAULT_INTERNAL_PREFIX
    # Name prefixes under media_url that go to the app (checked there, then offloaded).
    # "" means all of MEDIA_URL goes to the app.
    private: tuple[str, ...] = ()
    cache_control: str = _IN_PROCESS.cache_control
    # nginx limit_req rate for public media, e.g. "20r/s"; None for no limit.
    limit_req: str | None = None
    # The largest upload the proxy lets through to the app: the largest WhatsApp document
    # (nginx's "m" is 1024-based, as the table reads MB).
    max_body: str = f"{WHATSAPP_DOCUMENT.max_bytes // MB}m"
    # Ranges per request before the whole file is sent instead (MEDIASERVE MAX_RANGES).
    max_ranges: int = _IN_PROCESS.max_ranges
    # MEDIASERVE CONTENT_TYPES: extension -> type overrides in-process serving applies.
    content_types: tuple[tuple[str, str], ...] = ()
    # MEDIASERVE NEUTRALISE_ACTIVE: False serves every type inline (trusted media only).
    neutralise_active: bool = _IN_PROCESS.neutralise_active
    # Object storage in offload mode: the nginx location(s) that fetch from the store
    # (proxyconf/store.py). Media then live in the bucket: every media URL
    # goes to the app, which answers X-Accel-Redirect into this location.
    store_block: str = ""
    # Renditions (MEDIASERVE['RENDITION_DIRECTORY'], docs/renditions.md): files under
    # MEDIA_URL + this + "/" are served with the immutable Cache-Control, and a miss goes to
    # the app, which builds the rendition (or answers the Accept-negotiated URL). nginx/NPM.
    renditions: str | None = None
    # The docker-compose volume that holds MEDIA_ROOT (NPM and Traefik output).
    volume: str = "media"
    # Where the app's container mounts that volume (its MEDIA_ROOT), for compose output.
    app_media_root: str = "/app/media"

    def __post_init__(self) -> None:
        object.__setattr__(self, "media_url", _clean_prefix(self.media_url, "MEDIA_URL"))
        if self.media_url == "/":
            raise ConfigError("MEDIA_URL must not be '/': the proxy would serve the whole site")
        object.__setattr__(
            self, "internal_prefix", _clean_prefix(self.internal_prefix, "--internal-prefix")
        )
        root = self.media_root
        if not root.startswith("/") or any(ch in root for ch in "\r\n\0"):
            raise ConfigError(
                f"--media-root {root!r} must be an absolute path (the directory as the proxy "
                "sees it, e.g. /srv/media)"
            )
        object.__setattr__(self, "media_root", posixpath.normpath(root))
        if self.offload is not None and self.offload not in METHODS:
            raise ConfigError(f"--offload {self.offload!r}: use one of {', '.join(METHODS)}")
        if (
            self.offload is not None
            and self.offload != "x-sendfile"
            and (
                self.internal_prefix.startswith(self.media_url)
                or self.media_url.startswith(self.internal_prefix)
            )
        ):
            raise ConfigError(
                f"--internal-prefix {self.internal_prefix!r} overlaps MEDIA_URL "
                f"{self.media_url!r}: give it a prefix of its own, e.g. /_mediaserve/"
            )
        cleaned = []
        for name in self.private:
            text = name.strip().strip("/")
            cleaned.append("" if not text else _clean_prefix(text, "--private")[1:])
        object.__setattr__(self, "private", tuple(dict.fromkeys(cleaned)))
        for label, text in (
            ("--cache-control", self.cache_control),
            ("--server-name", self.server_name),
            ("--listen", self.listen),
        ):
            if not text or any(ch in text for ch in "\r\n\0\"';{}"):
                raise ConfigError(
                    f"{label} {text!r} must be one line without quotes, ';' or braces"
                )
        if self.limit_req is not None and not re.fullmatch(r"\d+r/[sm]", self.limit_req):
            raise ConfigError(f"--limit-req {self.limit_req!r} must look like 20r/s or 600r/m")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.volume):
            raise ConfigError(
                f"--volume {self.volume!r} must be a compose volume name (a-z, 0-9, _.-)"
            )
        if not self.app_media_root.startswith("/") or any(
            ch in self.app_media_root for ch in "\r\n\0:"
        ):
            raise ConfigError(
                f"--app-media-root {self.app_media_root!r} must be an absolute path without ':'"
            )
        overrides = []
        for ext, content_type in self.content_types:
            ext = ext.strip().lower().lstrip(".")
            if not _EXT_RE.fullmatch(ext) or not _TYPE_RE.fullmatch(content_type):
                raise ConfigError(
                    f"CONTENT_TYPES {ext!r}: {content_type!r} must map an extension (a-z, 0-9, "
                    "+_-) to a type/subtype without parameters, e.g. 'glb': 'model/gltf-binary'"
                )
            overrides.append((ext, content_type))
        object.__setattr__(self, "content_types", tuple(overrides))
        if self.max_ranges < 1:
            raise ConfigError(f"--max-ranges {self.max_ranges} must be at least 1")
        if not re.fullmatch(r"\d+[kmg]?", self.max_body):
            raise ConfigError(f"--max-body {self.max_body!r} must look like 100m")

    @property
    def served_types(self) -> dict[str, tuple[str, ...]]:
        """Content-Type value -> extensions: in-process serving's table with CONTENT_TYPES
        applied. A proxy sets these by extension and FALLBACK_TYPE for any other name."""
        return served_types(dict(self.content_types))

    @property
    def known_regex(self) -> str:
        """A regex alternation of every extension in :attr:`served_types`."""
        return extension_regex(e for exts in self.served_types.values() for e in exts)

    @property
    def passive_regex(self) -> str:
        """The extensions served inline. Proxies choose headers by extension, mediaserve by
        type: both come from the one table, and every name outside this -- HTML, SVG, an
        extension only the proxy's own MIME map knows, none at all -- is neutralised as
        in-process serving neutralises it."""
        return extension_regex(passive_extensions(dict(self.content_types)))

    @property
    def all_private(self) -> bool:
        return "" in self.private

    @property
    def private_urls(self) -> tuple[str, ...]:
        """The URL prefixes that go to the app (empty when everything is public)."""
        if self.all_private:
            return (self.media_url,)
        return tuple(self.media_url + p for p in self.private)

    @property
    def root_slash(self) -> str:
        return self.media_root.rstrip("/") + "/"

    @property
    def needs_internal(self) -> bool:
        """Whether the proxy needs an internal location for offloaded files."""
        return not self.store_block and self.offload in ("x-accel-redirect", "x-litespeed-location")


def _regex_literal(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_/-" or ord(ch) > 127 else "\\" + ch for ch in text)


def other_case_regex(
    setup: ProxySetup, *, strip_media: bool = False, lookahead: bool = True
) -> str:
    """A PCRE matching the private prefixes in any letter case *but their own*.

    mediaserve compares ACCESS prefixes case-insensitively (``INVOICES/`` is as private as
    ``invoices/``); proxies match locations case-sensitively, so without this a folder named
    ``INVOICES`` would be served by the proxy as public media. The exact spelling is routed
    to the app by its own prefix location; only the other spellings match here (and get a
    404). ``strip_media`` drops MEDIA_URL for matchers that see the path without it;
    ``lookahead=False`` (Go's RE2, in Caddy, has none) relies on the exact spelling being
    routed elsewhere before this matcher is tried.
    """
    private = [p.rstrip("/") for p in setup.private if p]
    for prefix in private:
        if any(ch in prefix for ch in "\"';{}\\") or any(ord(ch) < 33 for ch in prefix):
            raise ConfigError(
                f"--private {prefix!r} contains a quote, ';', a brace or a backslash, which a "
                "proxy's regex cannot express literally; rename the directory"
            )
    exact = "|".join(_regex_literal(p) + "/" for p in private)
    media = "/" if strip_media else _regex_literal(setup.media_url)
    if not lookahead:
        return f"(?i)^{media}(?:{exact})"
    return f"^{media}(?!(?:{exact}))(?i:{exact})"
