"""Routing seen from outside: which proxy rule answers a media URL, without its config.

When the public answer is wrong (a 404, an HTML page) and the proxy's config is not at hand
(Nginx Proxy Manager in a container, a managed proxy), the doctor asks the same prefix for
names that cannot exist, with other extensions, and the app server directly (``--upstream``)
for the same paths. Who answers each one (the proxy by itself, or the app: the error page's
signature, or the same bytes as the app's own answer) draws the routing table:

- images go to the app while a ``.txt`` under the same prefix gets the proxy's own 404: an
  extension rule (nginx's regex ``location ~* \\.(jpe?g|png...)$``, NPM's "Cache Assets",
  Apache's ``ProxyPassMatch``, a Caddy matcher, a Traefik ``PathRegexp``) beats the prefix
  location that serves media;
- everything under the prefix gets the proxy's own 404 while the app has the file: the proxy
  serves the prefix from a disk where the media volume is not mounted;
- the app answers 200 directly and 404 through the proxy: the proxy changes the path;
- every name under the prefix gets the app's 404: the app has no media route;
- a name that cannot exist gets 200 and an HTML page: a catch-all (the proxy's SPA fallback
  when the app itself answers 404, the app's own catch-all view when it answers the page).

Probe names start with ``mediaserve-doctor-probe-``: a 200 for one is never a real file.
"""

from __future__ import annotations

import posixpath
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .fetch import Fetch, FetchOptions, Response, fetch
from .fingerprints import Origin, identify
from .magic import sniffed_type
from .report import Finding

__all__ = ["check_outside", "media_prefix_of"]

#: Extensions asked for besides the target's: images (what asset rules capture), a style
#: sheet (NPM's list has css/js too), and kinds no asset rule names.
PROBE_EXTENSIONS = (".jpg", ".png", ".webp", ".css", ".mp4", ".pdf", ".txt")
#: The extensions Nginx Proxy Manager's "Cache Assets" location matches (its assets.conf).
NPM_ASSETS = frozenset(
    {".css", ".js", ".jpg", ".jpeg", ".gif", ".png", ".webp", ".woff", ".eot", ".ttf", ".svg"}
)
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".ico", ".avif"})


@dataclass
class Probe:
    """One path asked through the proxy (``public``) and, when known, of the app directly."""

    path: str
    extension: str
    public: Response | None
    upstream: Response | None

    @property
    def origin(self) -> Origin | None:
        return identify(self.public) if self.public is not None else None

    @property
    def who(self) -> str:
        """``app`` (the app's answer came through), ``proxy`` (the proxy answered by
        itself) or ``?``."""
        public, upstream = self.public, self.upstream
        if public is None:
            return "?"
        origin = identify(public)
        if origin.strong:
            return "app" if origin.role == "app" else origin.role
        if upstream is not None and _same(public, upstream):
            return "app"
        if upstream is not None and public.status != upstream.status:
            return "proxy"
        return "app" if origin.role == "app" else "?"

    def line(self) -> str:
        if self.public is None:
            return f"{self.path}: no answer"
        origin = identify(self.public)
        clue = f" ({origin.clue})" if origin.clue else ""
        direct = f"; the app directly: {self.upstream.status}" if self.upstream else ""
        return f"{self.path}: {self.public.status} from the {self.who}{clue}{direct}"


def _grouped(probes: list[Probe]) -> list[str]:
    """One evidence line per distinct answer: "probes .jpg .png: 404 from the app (...)"."""
    groups: dict[str, list[str]] = {}
    for probe in probes:
        tail = probe.line().split(": ", 1)[1]
        groups.setdefault(tail, []).append(probe.extension)
    name = probes[0].path.rsplit("/", 1)[0] + "/mediaserve-doctor-probe-*" if probes else ""
    return [f"{name} {' '.join(exts)}: {tail}" for tail, exts in groups.items()]


def _same(a: Response, b: Response) -> bool:
    return a.status == b.status and a.sha256 == b.sha256 and a.length == b.length


def media_prefix_of(path: str, configured: str | None) -> str | None:
    """The media prefix: MEDIA_URL's path when known, else the URL's first folder."""
    if configured and path.startswith(configured):
        return configured
    parts = path.split("/")
    return f"/{parts[1]}/" if len(parts) > 2 and parts[1] else None


def _ask(url: str, options: FetchOptions, headers: dict[str, str] | None = None) -> Response | None:
    # A bounded read: error pages are small, and a 200 for a probe name says enough early.
    small = FetchOptions(
        timeout=options.timeout,
        cafile=options.cafile,
        connect_to=options.connect_to,
        max_body=65536,
    )
    return fetch(url, headers=headers or {}, options=small, follow=False).last


def _probes(
    url: str, prefix: str, extension: str, upstream: str | None, options: FetchOptions
) -> list[Probe]:
    parts = urlsplit(url)
    token = secrets.token_hex(4)
    extensions = [extension] + [e for e in PROBE_EXTENSIONS if e != extension]
    probes: list[Probe] = []
    for ext in extensions:
        path = f"{prefix}mediaserve-doctor-probe-{token}{ext}"
        public = _ask(urlunsplit((parts.scheme, parts.netloc, path, "", "")), options)
        direct = None
        if upstream:
            headers = {"Host": parts.netloc}
            if parts.scheme == "https":
                headers["X-Forwarded-Proto"] = "https"
            direct = _ask(upstream.rstrip("/") + path, options, headers)
        probes.append(Probe(path, ext, public, direct))
    return probes


def edge_origin(url: str, options: FetchOptions) -> Origin | None:
    """The proxy at the edge, from its answer to a Host it has no site for: nginx's default
    server, NPM's default page, Caddy's empty 200, Traefik's Go 404. A proxy that passes
    every answer through unchanged (Traefik) shows itself only there."""
    parts = urlsplit(url)
    probe = urlunsplit((parts.scheme, parts.netloc, "/mediaserve-doctor-probe", "", ""))
    answer = _ask(probe, options, {"Host": "mediaserve-doctor-probe.invalid"})
    if answer is None:
        return None
    origin = identify(answer)
    return origin if origin.strong and origin.role == "proxy" else None


def check_outside(
    url: str,
    prefix: str | None,
    public: Fetch,
    upstream: str | None,
    upstream_get: Fetch | None,
    options: FetchOptions,
    *,
    django: bool,
) -> list[Finding]:
    """Findings about the proxy's routing for ``url`` when the public answer went wrong;
    nothing when it was right (a healthy set-up costs no probe)."""
    answer = public.last
    if answer is None or public.redirected or prefix is None:
        return []
    html = answer.status == 200 and sniffed_type(answer.head) == "text/html"
    if answer.status == 200 and not html:
        return []
    if answer.status in (301, 302, 303, 307, 308, 401, 403, 429) or answer.status >= 500:
        return []  # a redirect, a refusal or a dead upstream: the public hop says it all
    path = urlsplit(url).path
    extension = posixpath.splitext(path)[1].lower()
    direct = upstream_get.last if upstream_get is not None else None
    target = Probe(path, extension, answer, direct)
    probes = _probes(url, prefix, extension or ".jpg", upstream, options)
    evidence = [target.line(), *_grouped(probes)]
    if html:
        return _catch_all(probes, evidence, prefix, django=django)
    return _not_found(
        target, probes, evidence, prefix, django=django, edge=lambda: edge_origin(url, options)
    )


def _flavour(probes: list[Probe], captured: set[str], front: Origin | None) -> str:
    """Which proxy this is, for the fix: the edge's own default answer, else the pages it
    wrote for the probes (a proxy behind Traefik shows its own pages through it)."""
    if front is not None and front.name in ("traefik", "caddy", "apache", "npm", "openresty"):
        return "npm" if front.name == "openresty" else front.name
    for probe in probes:
        origin = probe.origin
        if origin is not None and origin.role == "proxy" and origin.name != "cloudflare":
            if origin.name in ("openresty", "npm"):
                return "npm"
            if origin.name == "nginx" and {".css"} <= captured and ".mp4" not in captured:
                return "npm"  # NPM's Cache Assets list (css, js, images, fonts), not video
            return origin.name
    return "unknown"


#: How each proxy calls the two rules: (the extension rule, the media prefix's rule).
_RULE_NAMES = {
    "nginx": ("a regex location", "prefix location"),
    "npm": ("a regex location", "prefix location"),
    "openresty": ("a regex location", "prefix location"),
    "apache": ("a ProxyPassMatch", "Alias"),
    "caddy": ("a path matcher handled first", "route"),
    "traefik": ("a PathRegexp router", "PathPrefix router"),
}


def _regex_fix(flavour: str, prefix: str, exts: str) -> str:
    nginx = (
        f"Make the media prefix win over regex locations with ^~ (nginx then checks no "
        f"regex for it):\n  location ^~ {prefix} {{ ... }}   # instead of location {prefix}"
    )
    fixes = {
        "nginx": nginx,
        "npm": (
            "Nginx Proxy Manager's 'Cache Assets' switch (Details tab of the proxy host) adds\n"
            "  location ~* ^.*\\.(css|js|jpe?g|gif|png|webp|woff|eot|ttf|svg|ico"
            "|css\\.map|js\\.map)$\n"
            "which nginx prefers to the /media/ custom location. Turn Cache Assets off, or "
            "serve media from the Advanced tab with a location regexes cannot beat:\n"
            f"  location ^~ {prefix} {{ alias /data/media/; }}   # your media folder"
        ),
        "openresty": nginx,
        "apache": (
            "mod_proxy maps URLs before mod_alias: a ProxyPassMatch for the extensions wins "
            f"over Alias {prefix}. Exclude media from proxying, before the other ProxyPass "
            f"lines:\n  ProxyPass {prefix} !\nor narrow the ProxyPassMatch regex."
        ),
        "caddy": (
            f"A matcher for the extensions ({exts}) is handled before the {prefix} route. "
            f"Put media first and exclude it from the asset rule:\n"
            f"  @assets {{ path *.jpg *.png ...\n             not path {prefix}* }}\n"
            f"or route media with handle {prefix}* before the asset handle inside one route {{}}."
        ),
        "traefik": (
            "Traefik tries the router with the longest rule first: the extensions' "
            "PathRegexp rule is longer than PathPrefix(`" + prefix + "`). Give the media "
            "router a higher priority (priority: 1000) or exclude the prefix from the regex."
        ),
    }
    return fixes.get(
        flavour,
        f"Make the {prefix} rule take precedence over the extension rule in the proxy "
        "(nginx: location ^~; Apache: ProxyPass " + prefix + " !; Traefik: priority).",
    )


def _not_found(
    target: Probe,
    probes: list[Probe],
    evidence: list[str],
    prefix: str,
    *,
    django: bool,
    edge: Callable[[], Origin | None],
) -> list[Finding]:
    if target.public is None or target.public.status != 404:
        return []
    by_app = {p.extension for p in probes if p.who == "app"}
    by_proxy = {p.extension for p in probes if p.who == "proxy"}
    target_who = target.who
    direct = target.upstream
    if target_who == "app" and target.extension in by_app and by_proxy:
        captured = sorted(by_app)
        exts = " ".join(captured)
        front = edge()
        if front is not None:
            evidence.append(f"a Host it has no site for gets {front.clue}: {front.label} in front")
        flavour = _flavour(probes, by_app, front)
        kind = "image " if by_app <= IMAGE_EXTENSIONS | {".css", ".js"} else ""
        rule, media_rule = _RULE_NAMES.get(flavour, ("an extension rule", "rule"))
        summary = (
            f"{rule} for {kind}extensions ({exts}) wins over your {prefix} {media_rule}: "
            f"those go to the app, the rest of {prefix} is served by the proxy"
        )
        if flavour == "npm":
            summary += " (Nginx Proxy Manager's 'Cache Assets')"
        return [Finding("proxy", "fail", summary, evidence, _regex_fix(flavour, prefix, exts))]
    if target_who == "proxy" and not by_app and direct is not None and direct.status == 200:
        origin = target.origin
        name = origin.label if origin else "the proxy"
        return [
            Finding(
                "proxy",
                "fail",
                f"{name} serves {prefix} from its own disk and has no such file there; the app "
                "has it",
                evidence,
                "Mount the media volume into the proxy at the folder its root/alias names "
                "(docker compose: the same volume in both services, read-only in the proxy), "
                f"or pass {prefix} to the app.",
            )
        ]
    if target_who == "app" and direct is not None and direct.status == 200:
        return [
            Finding(
                "proxy",
                "fail",
                "the app answers 200 directly but 404 through the proxy: the proxy changes "
                "the path or passes to another app",
                evidence,
                "Pass the path unchanged: nginx proxy_pass http://web:8000; without a URI "
                "part (no trailing /), no rewrite; Caddy handle (not handle_path); Apache "
                f"ProxyPass {prefix} http://web:8000{prefix}. Check the upstream address.",
            )
        ]
    if target_who == "app" and not by_proxy and not django:
        origin = target.origin
        page = f" ({origin.clue})" if origin and origin.clue else ""
        return [
            Finding(
                "routing",
                "fail",
                f"every name under {prefix} gets the app's 404{page}: the app has no media route "
                "(with DEBUG = False, static() routes nothing)",
                evidence,
                "In the ROOT_URLCONF: from mediaserve.django.urls import media_urlpatterns;\n"
                "  urlpatterns += media_urlpatterns()\n"
                "or let the proxy serve the media folder. Run with --settings to check "
                "the routing from inside.",
            )
        ]
    return []


def _catch_all(
    probes: list[Probe], evidence: list[str], prefix: str, *, django: bool
) -> list[Finding]:
    caught = [
        p
        for p in probes
        if p.public is not None
        and p.public.status == 200
        and sniffed_type(p.public.head) == "text/html"
    ]
    if not caught:
        return []
    direct = caught[0].upstream
    if direct is not None and direct.status == 404:
        return [
            Finding(
                "proxy",
                "fail",
                f"the proxy answers names under {prefix} that do not exist with an HTML page "
                "(a SPA fallback) while the app says 404",
                evidence,
                "Keep media out of the fallback:\n"
                f"  location ^~ {prefix} {{ try_files $uri =404; }}\n(Caddy: handle "
                + prefix
                + "* before the try_files route).",
            )
        ]
    if django:
        return []  # the routing hop names the view from inside
    return [
        Finding(
            "routing",
            "fail",
            f"names under {prefix} that do not exist get 200 and an HTML page: a catch-all "
            "answers instead of the media files",
            evidence,
            "Route media before the catch-all (urlpatterns = media_urlpatterns() + urlpatterns)"
            f", or in the proxy: location ^~ {prefix} {{ try_files $uri =404; }}",
        )
    ]
