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
    KNOWN_REGEX,
    PASSIVE_REGEX,
    SANDBOX_CSP,
    SERVED_TYPES,
    ConfigError,
    ProxySetup,
    extension_regex,
    other_case_regex,
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
        respond 404
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
                "\n        respond @othercase 404"
            )
        blocks.append(
            f"""\
    # Public media, read by Caddy from the shared directory.
    handle_path {caddy_quote(media + "/*", "MEDIA_URL")} {{
        @dotfiles path_regexp dotfiles /\\.
        respond @dotfiles 404{other_case}
        root * {root}
        header X-Content-Type-Options nosniff
        header Cache-Control {cache}
        # The types in-process serving sends, not Go's or /etc/mime.types'.
{_type_headers()}
        # Uploaded HTML/SVG/XML/JS and any unknown type: downloaded, never rendered on
        # this origin. Only images, audio, video and documents are shown inline.
        @active not path_regexp (?i)\\.(?:{PASSIVE_REGEX})$
        header @active Content-Security-Policy "{SANDBOX_CSP}"
        header @active Content-Disposition attachment
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
    body = "\n\n".join(blocks)
    return f"""\
# Generated by `mediaserve config caddy` (mediaserve {__version__}).
# MEDIA_URL {setup.media_url} is served from {setup.media_root}; the app is {setup.upstream.url}.
# Check with: caddy validate --adapter caddyfile --config Caddyfile

{site} {{
{bind}{body}
}}
"""


def _type_headers() -> str:
    lines = []
    for index, (value, exts) in enumerate(SERVED_TYPES.items()):
        matcher = extension_regex(exts)
        lines.append(f"        @type{index} path_regexp (?i)\\.(?:{matcher})$")
        lines.append(f"        header @type{index} Content-Type {caddy_quote(value, 'type')}")
    lines.append(f"        @untyped not path_regexp (?i)\\.(?:{KNOWN_REGEX})$")
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
