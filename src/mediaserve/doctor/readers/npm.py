"""Nginx Proxy Manager: its generated nginx files, read from its data volume.

NPM keeps what it generates in its ``/data`` volume: one ``nginx/proxy_host/N.conf`` per
proxy host (plus ``redirection_host/``, ``dead_host/``, ``default_host/`` and the user's
``custom/`` snippets). Those files include files of the image itself
(``conf.d/include/assets.conf`` when "Cache Assets" is on, ``proxy.conf``,
``block-exploits.conf``, ``force-ssl.conf``...) and refer to ``/data/...`` paths as the
container sees them. ``--npm-data DIR`` points at the volume as mounted on the host; the
reader maps ``/data`` to DIR, supplies the image's include files as NPM ships them (the
behaviour that matters: the assets regex location that sends every ``.jpg``/``.png``... to
the forward host, whatever custom location ``/media/`` says) and replays nginx's choice
with the nginx reader.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ..report import Finding
from .model import ReaderError, Route
from .nginx import (
    Directive,
    NginxParseError,
    check_nginx,
    choose_server,
    parse_nginx_text,
    route_nginx,
)

__all__ = ["IMAGE_INCLUDES", "check_npm", "load_npm", "route_npm"]

HOP = "proxy"
CONTAINER_DATA = "/data"
DEFAULT_NAME = "localhost-nginx-proxy-manager"

#: The image's /etc/nginx/conf.d/include files that proxy hosts include, as behaviour: what
#: each makes nginx do (written for this reader from NPM's documented behaviour).
IMAGE_INCLUDES: dict[str, str] = {
    # "Cache Assets": static files by extension go to the forward host, cached.
    "assets.conf": """
location ~* ^.*\\.(css|js|jpe?g|gif|png|webp|woff|woff2|eot|ttf|svg|ico|css\\.map|js\\.map)$ {
    if_modified_since off;
    proxy_cache public-cache;
    proxy_cache_key $host$request_uri;
    proxy_ignore_headers Set-Cookie Cache-Control Expires X-Accel-Expires;
    proxy_cache_valid any 30m;
    proxy_cache_valid 404 1m;
    proxy_hide_header Set-Cookie;
    proxy_hide_header Cache-Control;
    proxy_hide_header Expires;
    proxy_hide_header X-Accel-Expires;
    proxy_hide_header Pragma;
    add_header Cache-Control "public";
    include conf.d/include/proxy.conf;
}
""",
    # Every "Proxy!" location: the forward host, with the usual headers.
    "proxy.conf": """
add_header X-Served-By $host;
proxy_set_header Host $host;
proxy_set_header X-Forwarded-Scheme $scheme;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Forwarded-For $remote_addr;
proxy_set_header X-Real-IP $remote_addr;
proxy_pass $forward_scheme://$server:$port$request_uri;
""",
    # "Block Common Exploits": query-string filters, no location of its own.
    "block-exploits.conf": "set $block_common_exploits 0;\n",
    "force-ssl.conf": 'set $test "";\n',
    "letsencrypt-acme-challenge.conf": """
location ^~ /.well-known/acme-challenge/ {
    default_type "text/plain";
    root /data/letsencrypt-acme-challenge;
}
location = /.well-known/acme-challenge/ {
    return 404;
}
""",
    "ssl-ciphers.conf": "ssl_session_timeout 5m;\n",
    "ip_ranges.conf": "",
    "resolvers.conf": "",
    "log.conf": "",
}

#: NPM's own site for a Host no proxy host names (the "Congratulations" page by default).
DEFAULT_SITE = f"""
server {{
    listen 80 default_server;
    listen 443 default_server;
    server_name {DEFAULT_NAME};
    location / {{
        return 200 "Congratulations! You've successfully started the Nginx Proxy Manager.";
    }}
}}
"""

_FOLDERS = ("proxy_host", "redirection_host", "dead_host", "default_host", "custom")

REGEX_FIX = (
    "In NPM, edit the proxy host: Details -> turn 'Cache Assets' off (its regex location for "
    "{exts} beats every plain custom location), or keep it and move the custom location "
    "{prefix} to the Advanced tab with ^~ (delete the custom location: nginx refuses the "
    "same prefix twice):\n"
    "  location ^~ {prefix} {{\n"
    "{body}"
    "  }}\n"
    "(^~: once the longest prefix is this one, no regex location is tried)"
)


def load_npm(data_dir: Path) -> tuple[list[Directive], list[str]]:
    """The parsed directives of every host NPM generated under ``data_dir``, and notes."""
    folder = data_dir / "nginx"
    if not (folder / "proxy_host").is_dir():
        raise ReaderError(
            f"{data_dir} is not Nginx Proxy Manager's data volume: there is no "
            f"{folder / 'proxy_host'} (pass the folder mounted at /data in the NPM container, "
            "e.g. --npm-data ./data)"
        )
    files: dict[str, str] = {}
    for name in _FOLDERS:
        for path in sorted((folder / name).glob("*")) if (folder / name).is_dir() else []:
            if path.is_file():
                files[f"{CONTAINER_DATA}/nginx/{name}/{path.name}"] = path.read_text(
                    errors="replace"
                )
    for name, text in IMAGE_INCLUDES.items():
        files[f"/etc/nginx/conf.d/include/{name}"] = text
    hosts = sorted(k for k in files if "/proxy_host/" in k and k.endswith(".conf"))
    if not hosts:
        raise ReaderError(f"{folder / 'proxy_host'} holds no .conf file: NPM has no proxy host")
    default = next((k for k in files if "/default_host/" in k), None)
    main = "http {\n"
    for kind in ("proxy_host", "redirection_host", "dead_host"):
        main += f"    include {CONTAINER_DATA}/nginx/{kind}/*.conf;\n"
    main += f"    include {default};\n" if default else DEFAULT_SITE
    main += "}\n"
    files["/etc/nginx/nginx.conf"] = main
    try:
        directives = parse_nginx_text(main, Path("/etc/nginx/nginx.conf"), files)
    except NginxParseError as exc:
        raise ReaderError(f"cannot read NPM's files in {folder}: {exc}") from None
    notes = [
        f"NPM data {data_dir}: {len(hosts)} proxy host file(s), /data read as {data_dir}",
        "conf.d/include/*.conf: the files NPM's image ships (assets.conf = Cache Assets)",
    ]
    return directives, notes


def route_npm(data_dir: Path, url: str) -> Route:
    """What NPM, with the hosts in ``data_dir``, does with ``url``."""
    directives, notes = load_npm(data_dir)
    answer = route_nginx(directives, url, source=f"{data_dir} (Nginx Proxy Manager)", proxy="npm")
    answer.evidence = notes + answer.evidence
    if DEFAULT_NAME in answer.block:
        answer.action, answer.status = "respond", 200
        answer.caveats.append("no proxy host names this Host: NPM's default site answers")
    return answer


def check_npm(
    data_dir: Path, url: str, media_prefix: str | None, *, forwarded_proto: bool = False
) -> list[Finding]:
    """The ``proxy`` hop for an NPM data volume: the nginx checks, with NPM's fixes."""
    try:
        directives, notes = load_npm(data_dir)
    except ReaderError as exc:
        return [Finding(HOP, "warn", f"cannot read the NPM data: {exc}", [], "")]
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    server = choose_server(directives, host, port)
    if server is not None and any(DEFAULT_NAME in d.args for d in server.find("server_name")):
        return [
            Finding(
                HOP,
                "fail",
                f"no proxy host in {data_dir} names {host}: Nginx Proxy Manager answers its "
                "default site (the 'Congratulations' page, 200 HTML) for every media URL",
                notes,
                f"In NPM: Hosts -> Proxy Hosts -> add {host} to the domain names of the "
                "proxy host for the shop.",
            )
        ]
    media = media_prefix or "/media/"
    location = None
    if server is not None:
        location = next(
            (d for d in server.find("location") if d.args and d.args[-1] == media), None
        )
    kept = [
        d
        for d in (location.block or [] if location is not None else [])
        if d.name in ("proxy_pass", "alias", "root", "proxy_set_header", "include")
    ]
    body = "".join(f"      {d.text()};\n" for d in kept) or (
        "      include conf.d/include/proxy.conf;\n"
    )
    fix = (
        REGEX_FIX.replace("{exts}", ".jpg/.png/.webp/.css/.js")
        .replace("{body}", body)
        .replace("{prefix}", media)
        .replace("{{", "{")
        .replace("}}", "}")
    )
    findings = check_nginx(
        directives,
        f"{data_dir} (Nginx Proxy Manager)",
        url,
        media_prefix,
        forwarded_proto=forwarded_proto,
        regex_fix=fix,
    )
    for finding in findings:
        finding.evidence = notes + finding.evidence
    return findings
