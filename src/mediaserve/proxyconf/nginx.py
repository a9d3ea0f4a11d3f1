"""nginx and Nginx Proxy Manager: public media by ``alias``, private media by X-Accel-Redirect.

Choices, each against a way this set-up is seen to break:

* ``location ^~ /media/``: the ``^~`` stops nginx from checking regex locations, so an
  asset-caching ``location ~* \\.(jpe?g|png)$`` (NPM's "Cache Assets") cannot take images
  away from the media location and send them to the app.
* ``alias "/srv/media/";`` with both trailing slashes: ``alias /srv/media`` turns
  ``/media/a.jpg`` into ``/srv/mediaa.jpg`` (404), ``root`` would append ``/media/`` again.
* Whatever is not a regular file nginx may send answers exactly as absence does in-process
  (the one 404 of ``http/plan.py``, from ``location @mediaserve_not_found``): a folder
  (nginx would redirect ``/media/photos`` to add the slash, and answer 403 with it), a
  symlink (``disable_symlinks on``: 403), a file its workers cannot read (403), a dotfile, a
  private folder's bare name. No Location header, no listing, no index page: a client
  cannot tell what exists from what does not.
* ``%2f``, ``%5c`` and ``%00`` in the URL are refused as in-process (nginx decodes ``%2f``
  and would serve ``a%2fb.jpg`` as ``a/b.jpg``); ``%00`` never gets that far: nginx answers
  400 to a NUL in a path before any location is chosen.
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
from ..renditions.presets import CONTENT_TYPES as RENDITION_TYPES
from ..renditions.presets import EXTENSIONS
from ..renditions.store import IMMUTABLE as RENDITION_CACHE_CONTROL
from .model import (
    FALLBACK_TYPE,
    NOT_FOUND_BODY,
    NOT_FOUND_HEADERS,
    NOT_FOUND_TYPE,
    SANDBOX_CSP,
    ConfigError,
    ProxySetup,
    other_case_regex,
    refused_escape_regex,
)

__all__ = [
    "NOT_FOUND_LOCATION",
    "nginx_quote",
    "render_nginx",
    "render_npm_advanced",
    "server_locations",
]

#: The named location every "no such file" answer of the media locations comes from.
NOT_FOUND_LOCATION = "@mediaserve_not_found"

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


def _nginx_text(text: str) -> str:
    """``text`` as a double-quoted nginx string; nginx reads ``\\n`` as a newline there."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _not_found_location() -> str:
    """In-process serving's 404, byte for byte: its type, its headers, its body.

    ``types {}`` is emptied so that the 404 of ``x.jpg`` is not labelled image/jpeg.
    """
    headers = "\n".join(
        f"    add_header {name} {nginx_quote(value, name)} always;"
        for name, value in NOT_FOUND_HEADERS
    )
    return f"""\
# The answer to anything that is not a file nginx may send (absent, a folder, a symlink,
# unreadable, a dotfile): in-process serving's one 404, so none can be told from absence.
location {NOT_FOUND_LOCATION} {{
    types {{ }}
    default_type {nginx_quote(NOT_FOUND_TYPE, "type")};
{headers}
    return 404 {_nginx_text(NOT_FOUND_BODY)};
}}"""


def _file_guards() -> str:
    """What every location that reads a file from the media root repeats: nginx runs only
    the innermost location's ``if``/``try_files``, so a nested location needs its own."""
    return f"""\
# "%2f", "%5c", "%00" in the path: refused in-process; nginx would decode them.
if ($request_uri ~* {_nginx_text(refused_escape_regex())}) {{
    return 404;
}}
# A regular file or nothing: a folder would be redirected to add its slash.
try_files $uri =404;"""


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
    # Absent, a folder, a symlink, unreadable: the same 404 (no Location, no listing).
    error_page 403 404 = {NOT_FOUND_LOCATION};
{_indent(_file_guards())}
    # The types in-process serving sends, not mime.types': an extension only nginx knows
    # (.rss, .kml, .htc...) must not get a type the app never sends.
{_indent(_types_block(setup))}
    default_type {FALLBACK_TYPE};
    # Uploaded HTML/SVG/XML/JS and any unknown type: downloaded, never rendered on this
    # origin. Only the passive types below are shown inline.
    add_header X-Content-Type-Options "nosniff" always;
    add_header Cache-Control {cache};{_indent(sandbox + limit)}{_nested_private(setup, upstream)}
    # Dotfiles (.env, .git/...) are never media, and a folder URL is never a file (nginx
    # would look for an index.html in it).
    location ~ /\\.|/$ {{
        return 404;
    }}
    # Images, audio, video, documents: inline (add_header here replaces those above).
    location ~* \\.(?:{setup.passive_regex})$ {{
{_indent(_file_guards(), 8)}
        add_header X-Content-Type-Options "nosniff" always;
        add_header Cache-Control {cache};
    }}
}}"""


#: The named location a missing rendition is handed to.
RENDITIONS_APP_LOCATION = "@mediaserve_renditions"


def _renditions_location(setup: ProxySetup, upstream: str) -> str:
    """Renditions (docs/renditions.md): content-addressed files nginx serves with the
    immutable Cache-Control; what is not there (not built yet, or the Accept-negotiated URL,
    which is no file) goes to the app, which builds it once and answers. ``error_page``
    rather than ``try_files``: ``try_files`` with ``alias`` mis-resolves names (nginx
    ticket #97)."""
    url = setup.media_url + setup.renditions.strip("/") + "/"  # type: ignore[union-attr]
    folder = setup.root_slash + setup.renditions.strip("/") + "/"  # type: ignore[union-attr]
    immutable = nginx_quote(RENDITION_CACHE_CONTROL, "cache-control")
    # Only the formats renditions are encoded in (presets.py): anything else is a download.
    formats = "\n".join(f"    {value} {EXTENSIONS[fmt]};" for fmt, value in RENDITION_TYPES.items())
    types = "types {\n" + formats + "\n}"
    return f"""\
# Renditions: built once, immutable URLs. A miss (not built yet, or the negotiated URL that
# picks AVIF/WebP/JPEG by Accept) goes to the app, which builds it and answers.
location ^~ {nginx_quote(url, "RENDITION_DIRECTORY")} {{
    alias {nginx_quote(folder, "--media-root")};
    disable_symlinks on;
    autoindex off;
    error_page 404 = {RENDITIONS_APP_LOCATION};
    error_page 403 = {NOT_FOUND_LOCATION};
    if ($request_uri ~* {_nginx_text(refused_escape_regex())}) {{
        return 403;
    }}
    # A folder is never a rendition (nginx would redirect it to add a slash).
    if (-d $request_filename) {{
        return 403;
    }}
    location ~ /\\. {{
        return 403;
    }}
{_indent(types)}
    default_type {FALLBACK_TYPE};
    add_header X-Content-Type-Options "nosniff" always;
    add_header Cache-Control {immutable} always;
}}

location {RENDITIONS_APP_LOCATION} {{
    proxy_pass {upstream};
{_indent(PROXY_HEADERS)}
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
        if setup.renditions and upstream is not None and not setup.store_block:
            blocks.append(_renditions_location(setup, upstream))
    blocks.append(_not_found_location())
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
        bare = url.rstrip("/")
        blocks.append(
            "# The bare name: nginx would answer it with a 301 to the location above.\n"
            f"location = {nginx_quote(bare, 'path')} {{\n"
            f"    error_page 404 = {NOT_FOUND_LOCATION};\n    return 404;\n}}"
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


def _listen_and_install(setup: ProxySetup) -> tuple[str, str]:
    """The ``listen`` parameters and the header's install steps.

    nginx gives a request to the server block whose ``server_name`` matches its Host, and
    any other to the port's ``default_server`` (else the first block on the port). Debian's
    and Ubuntu's stock site, /etc/nginx/sites-enabled/default, is the ``default_server`` for
    port 80: beside it a block named ``_`` never sees a request, and every media URL gets
    that site's own 404. So a block without a name claims ``default_server`` itself -- nginx
    -t then refuses the pair ("a duplicate default server") instead of the site failing
    silently -- and the install steps say to remove the stock site or name the host.
    """
    install = "# Install as /etc/nginx/conf.d/mediaserve.conf, then: nginx -t && nginx -s reload"
    if setup.server_name != "_":
        return setup.listen, install + (
            f"\n# Requests for other hosts than {setup.server_name} go to another server block."
        )
    words = setup.listen.split()
    listen = setup.listen if "default_server" in words else f"{setup.listen} default_server"
    return listen, (
        "# This block answers every Host (no --server-name): it is the default_server for its\n"
        '# port. On Debian/Ubuntu the stock site claims that too (nginx -t: "a duplicate\n'
        '# default server"); remove it, or generate with --server-name your.domain:\n'
        "#   rm /etc/nginx/sites-enabled/default\n"
        f"{install}"
    )


def render_nginx(setup: ProxySetup) -> str:
    """A file for ``/etc/nginx/conf.d/`` (it is included inside ``http {}``)."""
    limit_zone = (
        f"limit_req_zone $binary_remote_addr zone=mediaserve_media:10m rate={setup.limit_req};\n\n"
        if setup.limit_req
        else ""
    )
    listen, install = _listen_and_install(setup)
    return f"""\
# Generated by `mediaserve config nginx` (mediaserve {__version__}).
# MEDIA_URL {setup.media_url} is served from {setup.media_root}; the app is {setup.upstream.url}.
{install}
# nginx's worker user must be able to read the files (0644) and enter every directory (0755).

upstream mediaserve_app {{
    server {setup.upstream.address};
    keepalive 16;
}}

{limit_zone}server {{
    listen {listen};
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
