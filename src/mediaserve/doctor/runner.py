"""Walk every hop for one target and assemble the report.

The target is a URL (``https://shop.example.com/media/products/a.jpg``) or a media name
(``products/a.jpg``); each is turned into the other with MEDIA_URL and the public base URL,
so both ends of the path can be checked: the file on disk and what the internet sees.
Hops that cannot run (no Django settings, no --upstream) are reported as ``skip``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from .consumer import check_consumer
from .dns import check_dns
from .fetch import Fetch, FetchOptions, fetch
from .file import FileFacts, inspect_file, resolve_name
from .outside import check_outside, media_prefix_of
from .proxy import check_proxy
from .report import Finding, Report
from .robots import check_robots
from .served import FIRST_BYTE_BUDGET, RANGE_END, Exchanges, check_served
from .tls import check_tls
from .url import check_url, parse_url_or_none

__all__ = ["DoctorOptions", "diagnose"]

_LOOKS_LIKE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


@dataclass
class DoctorOptions:
    upstream: str | None = None
    profile: str | None = None
    base_url: str | None = None
    proxy_config: Path | None = None
    media_root: Path | None = None
    media_url: str | None = None
    use_django: bool = False
    fetch: FetchOptions = field(default_factory=FetchOptions)
    #: ``--local``: a loopback or private URL is not a failure (a set-up not public yet).
    local: bool = False
    #: ``--resolver HOST:PORT``: the DNS server asked for the URL's host (else the system's).
    resolver: tuple[str, int] | None = None
    #: ``--max-first-byte``: seconds a crawler waits for the status line.
    max_first_byte: float = FIRST_BYTE_BUDGET


@dataclass
class _Media:
    root: Path | None
    url: str | None  # MEDIA_URL as configured (a path or an absolute URL)
    served_externally: bool = False


def _media(options: DoctorOptions) -> _Media:
    if options.use_django:
        from django.conf import settings

        root = Path(str(settings.MEDIA_ROOT)) if settings.MEDIA_ROOT else None
        external = bool((getattr(settings, "MEDIASERVE", None) or {}).get("SERVED_EXTERNALLY"))
        return _Media(root, str(settings.MEDIA_URL or "") or None, external)
    return _Media(options.media_root, options.media_url)


def _media_path_prefix(media_url: str | None) -> str | None:
    if not media_url:
        return None
    path = urlsplit(media_url).path or "/"
    return (path if path.startswith("/") else "/" + path).rstrip("/") + "/"


def _name_from_url(url: str, media: _Media, base_url: str | None) -> str | None:
    if media.url and urlsplit(media.url).netloc:
        return unquote(url[len(media.url) :]) if url.startswith(media.url) else None
    prefix = _media_path_prefix(media.url)
    if prefix is None:
        return None
    path = urlsplit(url).path
    base_path = urlsplit(base_url).path.rstrip("/") if base_url else ""
    if base_path and path.startswith(base_path + "/"):
        path = path[len(base_path) :]
    return unquote(path[len(prefix) :]) if path.startswith(prefix) else None


def _url_from_name(name: str, media: _Media, base_url: str | None) -> str | None:
    if media.url and urlsplit(media.url).netloc:
        return media.url + quote(name)
    prefix = _media_path_prefix(media.url) or "/media/"
    if base_url:
        return base_url.rstrip("/") + prefix + quote(name)
    return None


def _base_url(options: DoctorOptions) -> str | None:
    if options.base_url:
        return options.base_url
    if options.use_django:
        from django.conf import settings

        value = getattr(settings, "PUBLIC_BASE_URL", None)  # a common project convention
        return str(value) if value else None
    return None


def _http_exchanges(
    url: str, headers: dict[str, str], options: FetchOptions, follow: bool
) -> Exchanges:
    get = fetch(url, headers=headers, options=options, follow=follow)
    exchanges = Exchanges(get=get)
    final = get.final
    if final is None or final.status != 200:
        return exchanges
    exchanges.again = fetch(url, headers=headers, options=options, follow=follow)
    exchanges.head = fetch(url, "HEAD", headers=headers, options=options, follow=follow)
    ranged = {**headers, "Range": f"bytes=0-{RANGE_END}"}
    exchanges.ranged = fetch(url, headers=ranged, options=options, follow=follow)
    exchanges.gzip_ranged = fetch(
        url, headers={**ranged, "Accept-Encoding": "gzip, deflate"}, options=options, follow=follow
    )
    etag = final.header("etag")
    if etag:
        exchanges.conditional = fetch(
            url, headers={**headers, "If-None-Match": etag}, options=options, follow=follow
        )
    return exchanges


def _skip(hop: str, summary: str, fix: str = "") -> Finding:
    return Finding(hop, "skip", summary, [], fix)


def _target(target: str, media: _Media, base_url: str | None) -> tuple[str | None, str | None]:
    """``(url, name)`` for a target that is a URL or a media name (either may be None)."""
    if "://" in target or _LOOKS_LIKE_URL.match(target):
        return target, _name_from_url(target, media, base_url)
    name = target
    prefix = _media_path_prefix(media.url)
    if prefix and name.startswith(prefix):
        name = unquote(name[len(prefix) :])
    return _url_from_name(name, media, base_url), name


def diagnose(target: str, options: DoctorOptions) -> Report:
    """The report for one URL or media name; never raises for bad input or network trouble."""
    report = Report(target=target)
    if "://" in target or _LOOKS_LIKE_URL.match(target):
        problem = parse_url_or_none(target)
        if problem:
            fix = (
                "Pass an absolute URL (https://host/media/file.jpg) or a media name relative "
                "to MEDIA_ROOT (products/file.jpg)."
            )
            report.add([Finding("input", "fail", problem, [], fix)])
            return report
    media = _media(options)
    url, name = _target(target, media, _base_url(options))
    report.url, report.name = url, name

    report.local = options.local
    if url:
        report.add(check_url(url, profile=options.profile, local=options.local))
    else:
        report.add(
            [
                _skip(
                    "url",
                    "no public URL to check (MEDIA_URL is a path, no base URL)",
                    "Pass the public URL, or --base-url https://shop.example.com",
                )
            ]
        )

    facts, escaped = _file_hop(report, media, name, url)
    served_by_app = _django_hops(report, options, media, name, url, facts, escaped)
    if escaped or url is None:
        return _correlate(report)

    upstream = _upstream_hop(report, options, url, facts, served_by_app)
    if options.proxy_config:
        report.add(
            check_proxy(
                options.proxy_config,
                url,
                _media_path_prefix(media.url),
                forwarded_proto=_trusts_forwarded_proto(options),
            )
        )
    reach = _dns_hop(report, options, url)
    if reach is None:
        why = "no address for the host (see the 'dns' hop)"
        report.add([_skip(hop, why) for hop in ("tls", "robots", "public")])
        return _correlate(report)
    report.add(check_tls(url, reach))
    report.add(check_robots(url, reach))
    public = _http_exchanges(url, {}, reach, follow=True)
    budget = options.max_first_byte
    report.add(check_served("public", public, facts, label=f"GET {url}", first_byte_budget=budget))
    upstream_base = options.upstream if upstream is not None else None
    prefix = media_prefix_of(urlsplit(url).path, _media_path_prefix(media.url))
    outside = check_outside(
        url, prefix, public.get, upstream_base, upstream, reach, django=options.use_django
    )
    if report.hop_verdict("proxy") == "fail":  # the config's replay already named the rule
        outside = [f for f in outside if f.hop != "proxy"]
    report.add(outside)
    if facts is None and upstream is not None:
        differences = compare_hops(upstream, public.get)
        if differences:  # the public answer looked fine on its own; it is not
            report.findings = [
                f for f in report.findings if not (f.hop == "public" and f.verdict == "pass")
            ]
            report.add(differences)
    _off_the_media_path(report, upstream)
    if options.profile:
        report.add(check_consumer(url, options.profile, reach, public.get, facts))
    return _correlate(report)


def _dns_hop(report: Report, options: DoctorOptions, url: str) -> FetchOptions | None:
    """Resolve the URL's host; the fetch options that reach it, or None when nothing can.

    With ``--resolver`` the addresses it gave are the ones connected to (as a crawler using
    that resolver would); the system resolver's answer is the one ``fetch`` finds itself.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    pinned = options.fetch.connect_to.get((host, port))
    answer, findings = check_dns(
        host, options.resolver, options.fetch.timeout, local=options.local, pinned=pinned
    )
    report.add(findings)
    if answer is None:
        return None if any(f.verdict == "fail" for f in findings) else options.fetch
    if not answer.addresses:
        return None
    if options.resolver is None:
        return options.fetch
    address = (answer.a or answer.aaaa)[0]
    connect_to = dict(options.fetch.connect_to)
    for each in {port, 80, 443}:
        connect_to.setdefault((host, each), address)
    return replace(options.fetch, connect_to=connect_to)


def _file_hop(
    report: Report, media: _Media, name: str | None, url: str | None
) -> tuple[FileFacts | None, bool]:
    """The file's facts, and whether the name escapes MEDIA_ROOT (then nothing is fetched)."""
    if media.root is None:
        report.add(
            [
                _skip(
                    "file",
                    "no MEDIA_ROOT known",
                    "Run with Django settings (--settings) or --media-root DIR",
                )
            ]
        )
        return None, False
    if name is None:
        report.add([_skip("file", f"the URL is not under MEDIA_URL ({media.url!r})")])
        return None, False
    facts, found = inspect_file(media.root, name)
    report.add(found)
    return facts, isinstance(resolve_name(media.root, name), str)


def _django_hops(
    report: Report,
    options: DoctorOptions,
    media: _Media,
    name: str | None,
    url: str | None,
    facts: FileFacts | None,
    escaped: bool,
) -> bool:
    """settings, routing and in-process; returns whether the app is meant to serve media."""
    if not options.use_django:
        why = "no Django settings (--settings or DJANGO_SETTINGS_MODULE)"
        report.add([_skip(hop, why) for hop in ("settings", "routing", "in-process")])
        return True
    from .django_settings import check_settings
    from .inprocess import in_process_exchanges
    from .routing import check_routing, media_path

    report.add(check_settings(url))
    if name is None or escaped:
        why = "the URL is not under MEDIA_URL" if name is None else "the name escapes MEDIA_ROOT"
        report.add([_skip(hop, why) for hop in ("routing", "in-process")])
        return True
    routing, found = check_routing(name)
    report.add(found)
    served_by_app = routing.kind != "external" and not (
        routing.kind == "none" and media.served_externally
    )
    path = media_path(name)
    if not served_by_app or path is None:
        report.add(
            [
                _skip(
                    "in-process",
                    "the app does not serve this path (MEDIA_URL elsewhere or SERVED_EXTERNALLY)",
                )
            ]
        )
        return False
    parts = urlsplit(url) if url else None
    host = parts.netloc if parts and parts.netloc else _fallback_host()
    https = bool(parts and parts.scheme == "https")
    exchanges = in_process_exchanges(path, host, https)
    report.add(check_served("in-process", exchanges, facts, label=f"GET {path} (Host: {host})"))
    return True


def _upstream_hop(
    report: Report, options: DoctorOptions, url: str, facts: FileFacts | None, served: bool
) -> Fetch | None:
    """The app server as the proxy reaches it, asked with the public Host header."""
    if not options.upstream:
        report.add([_skip("upstream", "no --upstream given (the app server behind the proxy)")])
        return None
    problem = parse_url_or_none(options.upstream)
    if problem:
        report.add(
            [
                Finding(
                    "upstream",
                    "fail",
                    f"--upstream: {problem}",
                    [],
                    "--upstream http://web:8000 (the app server as the proxy reaches it)",
                )
            ]
        )
        return None
    if not served:
        report.add([_skip("upstream", "the app does not serve media (SERVED_EXTERNALLY)")])
        return None
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    upstream_url = options.upstream.rstrip("/") + (parts.path or "/") + query
    # What a correct proxy sends: the public Host, and the scheme it terminated.
    headers = {"Host": parts.netloc}
    if parts.scheme == "https":
        headers["X-Forwarded-Proto"] = "https"
    exchanges = _http_exchanges(upstream_url, headers, options.fetch, follow=False)
    label = f"GET {upstream_url} (Host: {parts.netloc})"
    budget = options.max_first_byte
    report.add(check_served("upstream", exchanges, facts, label=label, first_byte_budget=budget))
    return exchanges.get


def compare_hops(upstream: Fetch, public: Fetch) -> list[Finding]:
    """Without the file to compare with, the app server's answer is the reference: a proxy
    that changes the bytes or the type between the two is the broken hop."""
    up, out = upstream.final, public.final
    if up is None or out is None or up.status != 200 or out.status != 200:
        return []
    evidence = [
        f"upstream: {up.describe()} sha256 {up.sha256[:16]}",
        f"public:   {out.describe()} sha256 {out.sha256[:16]}",
    ]
    if (up.length, up.sha256) != (out.length, out.sha256) and not (up.truncated or out.truncated):
        return [
            Finding(
                "public",
                "fail",
                "the public body differs from the app server's",
                evidence,
                "The proxy serves another copy (its own root/alias, a cache) "
                "or alters the body (gzip, sub_filter): pass media through unchanged.",
            )
        ]
    if up.content_type != out.content_type:
        return [
            Finding(
                "public",
                "fail",
                f"the proxy changes Content-Type from {up.content_type} to {out.content_type}",
                evidence,
                "Remove the proxy's types/default_type override for media.",
            )
        ]
    return []


def _off_the_media_path(report: Report, upstream: Fetch | None) -> None:
    """A good public answer and the app's 404: the proxy serves media itself (its own
    root/alias, NPM's custom location), so the app not having the path is no failure."""
    answer = upstream.final if upstream is not None else None
    captured = any(
        f.hop == "proxy" and f.verdict == "fail" and "wins over your" in f.summary
        for f in report.findings
    )
    if answer is None or answer.status != 404:
        return
    if report.hop_verdict("public") != "pass" and not captured:
        return
    for finding in report.findings:
        if finding.hop == "upstream" and finding.verdict == "fail":
            finding.verdict = "skip"
            finding.summary = f"media is the proxy's to serve here; the app says: {finding.summary}"
            finding.fix = ""


def _trusts_forwarded_proto(options: DoctorOptions) -> bool:
    if not options.use_django:
        return False
    from django.conf import settings

    header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not header:
        return False
    return str(header[0]).upper() == "HTTP_X_FORWARDED_PROTO"


def _fallback_host() -> str:
    from django.conf import settings

    for host in settings.ALLOWED_HOSTS:
        host = str(host).lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def _correlate(report: Report) -> Report:
    """Promote a warning to the failure it explains, so the first failing hop is the cause.

    A 0600 file is only a warning until a proxy answers 403; SECURE_SSL_REDIRECT without
    SECURE_PROXY_SSL_HEADER, or a proxy not sending X-Forwarded-Proto, only until a redirect
    loop shows up; a proxy that does not pass the Host header only until Django answers 400.
    """
    summaries = " ".join(f.summary for f in report.findings if f.verdict == "fail")
    proxy_403 = "403 from" in summaries or "cannot read" in summaries
    looped = "redirect loop" in summaries
    disallowed = "DisallowedHost" in summaries
    for finding in report.findings:
        if finding.verdict != "warn":
            continue
        text = finding.summary
        if (
            (finding.hop == "file" and proxy_403 and ("mode" in text or "folder" in text))
            or (finding.hop == "settings" and looped and "SECURE_SSL_REDIRECT" in text)
            or (finding.hop == "proxy" and disallowed and "proxy_set_header Host" in text)
            or (finding.hop == "proxy" and looped and "X-Forwarded-Proto" in text)
        ):
            finding.verdict = "fail"
    if any(f.hop == "proxy" and f.verdict == "fail" for f in report.findings):
        for finding in report.findings:
            if finding.hop == "public" and finding.verdict == "fail":
                finding.fix = (
                    "The 'proxy' hop explains this answer: fix that first.\n" + finding.fix
                )
    return report
