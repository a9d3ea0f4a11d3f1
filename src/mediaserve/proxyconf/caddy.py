"""Caddy: ``handle_path`` + ``file_server`` for public media, ``handle_response`` for offload.

Caddy sorts ``handle`` blocks with a path matcher by the length of the path, so a private
prefix under MEDIA_URL is tried before MEDIA_URL itself, and the catch-all ``handle`` (the
app) comes last whatever the order in the file.

Offloaded files: the app answers with ``X-Accel-Redirect``; ``handle_response`` strips
MEDIA_URL from the request's path and lets ``file_server`` send the file (Range and
conditional requests included), keeping the app's Content-Type, Content-Disposition,
Cache-Control and sandbox headers. The request path rather than the header's URI names the
file because Caddy 2.6 (Debian 12's) does not percent-decode a rewritten path: a name with a
space or non-ASCII letter would 404. mediaserve offloads only ``MEDIA_URL + name`` requests,
so both name the same file.

Absence: whatever ``file_server`` must not send -- a folder (with or without its slash; an
index.html in it would be served), a dotfile, a private prefix in another letter case, a URL
with ``%2f``/``%5c``/``%00`` (Caddy decodes them) -- is an ``error 404``, and
``handle_errors`` answers every 403/404 with in-process serving's one 404 (its type, body
and ``Cache-Control: no-cache``). Without that, Caddy's 404 would keep the headers set for
the file it did not find: the media Cache-Control (a missing file cached for an hour), and
for ``x.html`` the sandbox and attachment headers that tell a folder from a file.

Symlinks: Caddy follows them and has no setting that refuses them (in-process serving and
the nginx and Apache configs do). mediaserve never creates one; keep MEDIA_ROOT free of
them, or send every media URL through the app (``--private ''``), which refuses them.

Content-Type: ``file_server`` keeps one a ``header`` directive set before it, and otherwise
asks Go's ``mime`` package (its built-ins, then /usr/share/mime/globs2 or /etc/mime.types),
sending *no* Content-Type for an extension none of them knows. So every name gets its type
from in-process serving's table here, and ``application/octet-stream`` when the table does
not know it; the sandbox goes on everything but the passive types, as in-process.
"""

from __future__ import annotations

from .. import __version__
from .model import (
    FALLBACK_TYPE,
    NOT_FOUND_BODY,
    NOT_FOUND_HEADERS,
    NOT_FOUND_TYPE,
    SANDBOX_CSP,
    ConfigError,
    ProxySetup,
    extension_regex,
    other_case_regex,
    refused_escape_regex,
)

__all__ = ["caddy_quote", "render_caddy"]


def caddy_quote(text: str, what: str) -> str:
    """``text`` as one double-quoted Caddyfile token.

    Caddy expands ``{placeholders}`` in most directive arguments, and a literal brace cannot
    be escaped everywhere, so such paths are refused with the reason.
    """
    if any(ch in text for ch in "{}") or any(ord(ch) < 32 or ch == "\x7f" for ch in text):
        raise ConfigError(
            f"{what} {text!r} contains '{{', '}}' or a control character, which a Caddyfile "
            "cannot express literally; rename the directory"
        )
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_caddy(setup: ProxySetup) -> str:
    root = caddy_quote(setup.media_root, "--media-root")
    media = setup.media_url.rstrip("/")
    cache = caddy_quote(setup.cache_control, "--cache-control")
    host, _, port = setup.listen.rpartition(":")
    if setup.server_name != "_":
        # A domain gets Caddy's automatic HTTPS; an explicit --listen port is kept.
        site = setup.server_name if setup.listen == "80" else f"{setup.server_name}:{port}"
    else:
        site = f"http://:{port}"
    bind = f"    bind {host.strip('[]')}\n\n" if host else ""
    announce = setup.offload if setup.needs_internal else None
    blocks: list[str] = []
    if setup.needs_internal:
        internal = setup.internal_prefix.rstrip("/")
        blocks.append(
            f"""\
    # Offload URIs are for the proxy only.
    handle {caddy_quote(internal + "/*", "--internal-prefix")} {{
        error 404
    }}"""
        )
    if not setup.all_private:
        other_case = ""
        if any(setup.private):
            # A private prefix in another letter case: private to mediaserve, never public.
            # The exact spelling never gets here: its own, longer handle is tried first.
            regex = other_case_regex(setup, strip_media=True, lookahead=False)
            other_case = (
                f"\n        @othercase path_regexp othercase {caddy_quote(regex, '--private')}"
                "\n        error @othercase 404"
            )
        escapes = caddy_quote(f"(?i){refused_escape_regex()}", "regex")
        blocks.append(
            f"""\
    # Public media, read by Caddy from the shared directory.
    handle_path {caddy_quote(media + "/*", "MEDIA_URL")} {{
        # "%2f", "%5c", "%00" in the path: refused in-process; Caddy would decode them.
        @escaped expression `{{http.request.orig_uri}}.matches({escapes})`
        error @escaped 404
        # Dotfiles (.env, .git/...) are never media; a folder URL is never a file.
        @hidden path_regexp hidden /\\.|/$
        error @hidden 404{other_case}
        root * {root}
        # A regular file or nothing (a folder without its slash is not one).
        @notfile not file
        error @notfile 404
        header X-Content-Type-Options nosniff
        header Cache-Control {cache}
        # The types in-process serving sends, not Go's or /etc/mime.types'.
{_type_headers(setup)}{_sandbox(setup)}
        file_server
    }}"""
        )
    proxy = _reverse_proxy(setup, announce)
    for url in setup.private_urls:
        blocks.append(
            f"""\
    # Private media: the app checks access, then hands the file back to Caddy.
    handle {caddy_quote(url + "*", "--private")} {{
{proxy}
    }}"""
        )
    blocks.append(
        f"""\
    # Everything else: the app.
    handle {{
{proxy}
    }}"""
    )
    blocks.append(_not_found())
    body = "\n\n".join(blocks)
    return f"""\
# Generated by `mediaserve config caddy` (mediaserve {__version__}).
# MEDIA_URL {setup.media_url} is served from {setup.media_root}; the app is {setup.upstream.url}.
# Check with: caddy validate --adapter caddyfile --config Caddyfile

{site} {{
{bind}{body}
}}
"""


def _caddy_text(text: str) -> str:
    """``text`` as a double-quoted Caddyfile token; a newline stays a newline inside one."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _not_found() -> str:
    """``handle_errors``: every 403/404 Caddy makes itself (file_server's, the ``error``
    lines above) becomes in-process serving's 404. The headers set for the file it did not
    find are replaced (Cache-Control) or dropped (the sandbox of an active extension), so a
    missing file is never cached and no 404 differs from another."""
    headers = "\n".join(
        f"                {name} {caddy_quote(value, name)}" for name, value in NOT_FOUND_HEADERS
    )
    return f"""\
    # Absent, a folder, a dotfile, unreadable: in-process serving's one 404, never cached.
    handle_errors {{
        @absent expression `{{err.status_code}} in [403, 404]`
        handle @absent {{
            header {{
                Content-Type {caddy_quote(NOT_FOUND_TYPE, "type")}
{headers}
                -Content-Security-Policy
                -Content-Disposition
            }}
            respond {_caddy_text(NOT_FOUND_BODY)} 404
        }}
    }}"""


def _sandbox(setup: ProxySetup) -> str:
    if not setup.neutralise_active:
        return ""
    return f"""
        # Uploaded HTML/SVG/XML/JS and any unknown type: downloaded, never rendered on
        # this origin. Only images, audio, video and documents are shown inline.
        @active not path_regexp (?i)\\.(?:{setup.passive_regex})$
        header @active Content-Security-Policy "{SANDBOX_CSP}"
        header @active Content-Disposition attachment"""


def _type_headers(setup: ProxySetup) -> str:
    lines = []
    for index, (value, exts) in enumerate(setup.served_types.items()):
        matcher = extension_regex(exts)
        lines.append(f"        @type{index} path_regexp (?i)\\.(?:{matcher})$")
        lines.append(f"        header @type{index} Content-Type {caddy_quote(value, 'type')}")
    lines.append(f"        @untyped not path_regexp (?i)\\.(?:{setup.known_regex})$")
    lines.append(f"        header @untyped Content-Type {FALLBACK_TYPE}")
    return "\n".join(lines)


def _reverse_proxy(setup: ProxySetup, announce: str | None) -> str:
    lines = [f"        reverse_proxy {setup.upstream.address} {{"]
    if announce:
        media = setup.media_url.rstrip("/")
        root = caddy_quote(setup.media_root, "--media-root")
        lines += [
            f"            header_up X-Mediaserve-Offload {announce}",
            "            @offload header X-Accel-Redirect *",
            "            handle_response @offload {",
            "                copy_response_headers {",
            "                    include Content-Type Content-Disposition Cache-Control "
            "Content-Security-Policy X-Content-Type-Options",
            "                }",
            f"                root * {root}",
            "                # The request's own path names the file the app allowed (Caddy 2.6's",
            "                # rewrite does not percent-decode the X-Accel-Redirect value).",
            f"                uri strip_prefix {caddy_quote(media, 'MEDIA_URL')}",
            "                file_server",
            "            }",
        ]
    lines.append("        }")
    return "\n".join(lines)
