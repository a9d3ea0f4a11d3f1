"""nginx and Nginx Proxy Manager: public media by ``alias``, private media by X-Accel-Redirect.

Choices, each against a way this set-up is seen to break:

* ``location ^~ /media/``: the ``^~`` stops nginx from checking regex locations, so an
  asset-caching ``location ~* \\.(jpe?g|png)$`` (NPM's "Cache Assets") cannot take images
  away from the media location and send them to the app.
* ``alias "/srv/media/";`` with both trailing slashes: ``alias /srv/media`` turns
  ``/media/a.jpg`` into ``/srv/mediaa.jpg`` (404), ``root`` would append ``/media/`` again.
* ``disable_symlinks on`` and a 404 for dotfiles, like in-process serving.
* The Content-Type comes from in-process serving's table (a ``types {}`` block replacing
  nginx's ``mime.types`` in the media location, ``default_type application/octet-stream``),
  and everything but the passive types (images, audio, video, documents) gets the same
  ``Content-Security-Policy: sandbox`` and ``Content-Disposition: attachment`` as in-process
  serving: HTML, SVG, XML, JS, and any extension only nginx's own map knows (.rss, .kml,
  .htc...) or none at all. ``nosniff`` everywhere.
* The internal location passes on the app's sandbox header through ``$upstream_http_*``
  (nginx keeps Content-Type, Content-Disposition and Cache-Control of the app's response
  on an X-Accel-Redirect, but not other headers).
"""

from __future__ import annotations

from .. import __version__
from .model import (
    FALLBACK_TYPE,
    SANDBOX_CSP,
    ConfigError,
    ProxySetup,
    other_case_regex,
)

__all__ = ["nginx_quote", "render_nginx", "render_npm_advanced", "server_locations"]

PROXY_HEADERS = """\
proxy_http_version 1.1;
proxy_set_header Connection "";
proxy_set_header Host $host;
proxy_set_header X-Real-IP $remote_addr;
proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
proxy_set_header X-Forwarded-Proto $scheme;"""


def nginx_quote(text: str, what: str) -> str:
    """``text`` as one double-quoted nginx token.

    nginx expands ``$name`` inside quotes and offers no escape for a literal ``$``, so such
    paths are refused with the reason rather than written into a config that means
    something else.
    """
    if "$" in text or any(ord(ch) < 32 or ch == "\x7f" for ch in text):
        raise ConfigError(
            f"{what} {text!r} contains '$' or a control character, which an nginx config "
            "cannot express literally; rename the directory"
        )
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _indent(text: str, by: int = 4) -> str:
    pad = " " * by
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


def _types_block(setup: ProxySetup) -> str:
    lines = [
        f"    {nginx_quote(value, 'type')} {' '.join(exts)};"
        for value, exts in setup.served_types.items()
    ]
    return "types {\n" + "\n".join(lines) + "\n}"


def _public_location(setup: ProxySetup, upstream: str | None = None) -> str:
    cache = nginx_quote(setup.cache_control, "--cache-control")
    sandbox = (
        f'\nadd_header Content-Security-Policy "{SANDBOX_CSP}" always;'
        '\nadd_header Content-Disposition "attachment" always;'
        if setup.neutralise_active
        else ""
    )
    limit = (
        "\n# Per client address; burst absorbs a page of thumbnails.\n"
        "limit_req zone=mediaserve_media burst=50 nodelay;\nlimit_req_status 429;"
        if setup.limit_req
        else ""
    )
    return f"""\
# Public media, read by nginx from the shared directory.
location ^~ {nginx_quote(setup.media_url, "MEDIA_URL")} {{
    alias {nginx_quote(setup.root_slash, "--media-root")};
    disable_symlinks on;
    autoindex off;
    # The types in-process serving sends, not mime.types': an extension only nginx knows
    # (.rss, .kml, .htc...) must not get a type the app never sends.
{_indent(_types_block(setup))}
    default_type {FALLBACK_TYPE};
    # Uploaded HTML/SVG/XML/JS and any unknown type: downloaded, never rendered on this
    # origin. Only the passive types below are shown inline.
    add_header X-Content-Type-Options "nosniff" always;
    add_header Cache-Control {cache};{_indent(sandbox + limit)}{_nested_private(setup, upstream)}
    # Dotfiles (.env, .git/...) are never media.
    location ~ /\\. {{
        return 404;
    }}
    # Images, audio, video, documents: inline (add_header here replaces those above).
    location ~* \\.(?:{setup.passive_regex})$ {{
        add_header X-Content-Type-Options "nosniff" always;
        add_header Cache-Control {cache};
    }}
}}"""


def _nested_private(setup: ProxySetup, upstream: str | None) -> str:
    if not any(setup.private):
        return ""
    return f"""
    # A private prefix in another letter case ("INVOICES/"): mediaserve compares ACCESS
    # prefixes case-insensitively, nginx's locations do not; never serve it as public.
    location ~ {other_case_regex(setup)} {{
        return 404;
    }}"""


def _internal_location(setup: ProxySetup) -> str:
    return f"""\
# Files the app allowed (X-Accel-Redirect: {setup.internal_prefix}<name>). Clients cannot
# request these URIs: "internal" answers them 404.
location ^~ {nginx_quote(setup.internal_prefix, "--internal-prefix")} {{
    internal;
    alias {nginx_quote(setup.root_slash, "--media-root")};
    disable_symlinks on;
    autoindex off;
    add_header X-Content-Type-Options "nosniff" always;
    add_header Content-Security-Policy $upstream_http_content_security_policy always;
}}"""


def _app_location(path: str, upstream: str, offload: str | None, exact: str = "^~ ") -> str:
    announce = (
        f'\nproxy_set_header X-Mediaserve-Offload "{offload}";'
        if offload in ("x-accel-redirect", "x-litespeed-location")
        else ""
    )
    # "location / {" unquoted: NPM looks for exactly that to leave out its own.
    where = "/" if path == "/" and not exact else nginx_quote(path, "path")
    return f"""location {exact}{where} {{
    proxy_pass {upstream};
{_indent(PROXY_HEADERS + announce)}
}}"""


def server_locations(
    setup: ProxySetup, upstream: str | None, *, default_location: bool = True
) -> str:
    """The locations inside ``server {}``.

    ``upstream`` None is a server without an app (Traefik's sidecar): private prefixes
    answer 404 there instead of going to the app.
    """
    blocks: list[str] = []
    if not setup.all_private:
        blocks.append(_public_location(setup, upstream))
    for url in setup.private_urls:
        if upstream is None:
            blocks.append(
                f"# Private media is the app's to serve.\nlocation ^~ {nginx_quote(url, 'path')} "
                "{\n    return 404;\n}"
            )
            continue
        blocks.append(
            "# Private media: the app checks access, then hands the file back to nginx.\n"
            + _app_location(url, upstream, setup.offload)
        )
    if setup.needs_internal:
        blocks.append(_internal_location(setup))
    if setup.store_block:
        blocks.append(
            "# Object storage, offload mode: the app signs, nginx fetches from the store.\n"
            + setup.store_block.strip()
        )
    if default_location and upstream is not None:
        blocks.append(
            "# Everything else: the app.\n" + _app_location("/", upstream, setup.offload, "")
        )
    return "\n\n".join(blocks)


def render_nginx(setup: ProxySetup) -> str:
    """A file for ``/etc/nginx/conf.d/`` (it is included inside ``http {}``)."""
    limit_zone = (
        f"limit_req_zone $binary_remote_addr zone=mediaserve_media:10m rate={setup.limit_req};\n\n"
        if setup.limit_req
        else ""
    )
    return f"""\
# Generated by `mediaserve config nginx` (mediaserve {__version__}).
# MEDIA_URL {setup.media_url} is served from {setup.media_root}; the app is {setup.upstream.url}.
# Install as /etc/nginx/conf.d/mediaserve.conf, then: nginx -t && nginx -s reload
# nginx's worker user must be able to read the files (0644) and enter every directory (0755).

upstream mediaserve_app {{
    server {setup.upstream.address};
    keepalive 16;
}}

{limit_zone}server {{
    listen {setup.listen};
    server_name {setup.server_name};
    client_max_body_size {setup.max_body};
    # sendfile without tcp_nopush: with tcp_nopush, unaligned byte ranges over keep-alive
    # were seen to wait ~40 ms each for the corked last segment.
    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    # "Location: /media/" rather than http://host/media/: behind a TLS terminator nginx
    # would otherwise redirect https clients to http.
    absolute_redirect off;
    # Like MAX_RANGES in-process: more ranges than this and the whole file is sent.
    max_ranges {setup.max_ranges};

{_indent(server_locations(setup, "http://mediaserve_app"))}
}}
"""


def render_npm_advanced(setup: ProxySetup) -> str:
    """The text for NPM's proxy host, Advanced tab ("Custom Nginx Configuration").

    It defines its own ``location /`` so that it can announce offload to the app: NPM then
    leaves out its generated ``location /`` (it looks for one in the Advanced text), whose
    own ``proxy_set_header`` lines would hide a server-level one.
    """
    upstream = setup.upstream.url
    return f"""\
# Generated by `mediaserve config npm` (mediaserve {__version__}).
# Paste into: Proxy Host -> Edit -> Advanced -> Custom Nginx Configuration.
# {setup.media_root} is the media volume as mounted in the NPM container (read-only).

# Relative redirects (NPM terminates TLS: an absolute one would say http://) and the
# same range limit as MAX_RANGES in-process.
absolute_redirect off;
max_ranges {setup.max_ranges};

{server_locations(setup, upstream)}
"""
