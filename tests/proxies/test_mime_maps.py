"""Every extension the real proxies' own MIME maps know, served by real nginx, Caddy and Apache
with the generated config of each of the five generators (nginx, Nginx Proxy Manager's
Advanced text, the Traefik sidecar, Caddy, Apache), gets the headers in-process serving
gives it.

In-process serving neutralises by type: HTML, SVG, XML, JS... and ``application/octet-stream``,
which is what any extension outside mediaserve's table gets. A proxy that serves public media
from disk chooses by extension from *its own* map instead: nginx's ``mime.types``, Apache's
TypesConfig plus Debian's ``mime.conf``, Caddy's Go built-ins plus ``globs2`` or
``/etc/mime.types``. Each of those knows hundreds of extensions mediaserve does not (.rss,
.atom, .kml, .htc, .xspf, .jad...), and each must still arrive as a sandboxed attachment with
the type in-process serving would send. One server start per proxy, one file per extension.

The configs carry two CONTENT_TYPES overrides, as a project's settings would: a type the
table lacks (.glb, shown inline) and a passive extension made active (.log as HTML).
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from harness import MediaTree, ServerProcess, free_port, require, start_nginx
from harness.apache import start_apache
from harness.caddy import start_caddy
from harness.nginx import MIME_TYPES as NGINX_MIME_TYPES
from mediaserve.http.content_types import EXTENSION_TYPES
from mediaserve.http.plan import SANDBOX_CSP, FileMeta, RequestHeaders, ServeOptions, plan
from mediaserve.proxyconf import ProxySetup, Upstream, npm, render, traefik

SYSTEM_MIME_TYPES = Path("/etc/mime.types")  # Apache's TypesConfig; Go's fallback map
DEBIAN_MIME_CONF = Path("/etc/apache2/mods-available/mime.conf")  # AddType/AddLanguage/...
# Go's mime package reads the first of these that exists instead of the mime.types files.
GO_GLOBS = (Path("/usr/local/share/mime/globs2"), Path("/usr/share/mime/globs2"))
# Go's built-in table (pkg.go.dev/mime, TypeByExtension), which Caddy's file_server consults
# before any file.
GO_BUILTIN = ("avif", "css", "gif", "htm", "html", "jpeg", "jpg", "js", "json", "mjs", "pdf",
              "png", "svg", "wasm", "webp", "xml")  # fmt: skip

OVERRIDES = {"glb": "model/gltf-binary", "log": "text/html"}
OPTIONS = ServeOptions(content_types=OVERRIDES)
FOLDER = "mime"
BODY = b"<html><script>alert(document.domain)</script></html>\n"
# Names whose type a multi-extension (mod_mime) or case-sensitive lookup could get wrong:
# in-process serving reads only the last extension, in any case.
TRICKY_NAMES = ("x.html.en", "x.txt.utf7", "x.html.jpg", "x.jpg.html", "x.svg.gz", "x.shtml",
                "X.HTML", "X.JpG", "x.Svg", "README", "x.", "x.tar.gz", "x.html.fr")  # fmt: skip

_EXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9+_-]*")


def _mime_types_file(path: Path) -> set[str]:
    """Extensions of a ``type ext ext...`` file (/etc/mime.types) or nginx's ``types {}``."""
    found: set[str] = set()
    if not path.exists():
        return found
    for line in path.read_text(errors="replace").splitlines():
        words = line.split("#", 1)[0].replace(";", " ").split()
        if len(words) > 1 and "/" in words[0]:
            found.update(words[1:])
    return found


def _globs2(path: Path) -> set[str]:
    """``weight:type:*.ext[:flags]`` lines of the shared-mime-info database."""
    found: set[str] = set()
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].startswith("*."):
            found.add(parts[2][2:])
    return found


def _mime_conf(path: Path) -> set[str]:
    """Extensions Debian's mime.conf adds a type, language, charset or handler to."""
    found: set[str] = set()
    if not path.exists():
        return found
    for line in path.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[0] in ("AddType", "AddLanguage", "AddCharset", "AddHandler"):
            found.update(w.lstrip(".") for w in words[2:])
    return found


def proxy_extensions() -> dict[str, set[str]]:
    """Each proxy's own map, as files on this machine and documented built-ins."""
    globs = next((p for p in GO_GLOBS if p.exists()), None)
    go_map = _globs2(globs) if globs else _mime_types_file(SYSTEM_MIME_TYPES)
    maps = {
        "nginx": _mime_types_file(NGINX_MIME_TYPES),
        "apache": _mime_types_file(SYSTEM_MIME_TYPES) | _mime_conf(DEBIAN_MIME_CONF),
        "caddy": set(GO_BUILTIN) | go_map,
    }
    return {proxy: {e for e in exts if _EXT.fullmatch(e)} for proxy, exts in maps.items()}


def in_process(name: str, size: int) -> dict[str, str]:
    """The headers in-process serving sends for ``name`` (every adapter executes this plan)."""
    result = plan("GET", RequestHeaders(), FileMeta(name, size, 0, "1:1"), OPTIONS)
    return {key.lower(): value for key, value in result.headers}


@pytest.fixture(scope="module")
def names(tree: MediaTree) -> list[str]:
    """One file per extension any of the three maps knows, mediaserve's whole table (its
    passive types are the controls), and the tricky names; relative to the media root."""
    exts = set(EXTENSION_TYPES).union(OVERRIDES, *proxy_extensions().values())
    folder = tree.root / FOLDER
    folder.mkdir(mode=0o755, exist_ok=True)
    folder.chmod(0o755)
    made = []
    for base in sorted({f"f.{ext}" for ext in exts} | set(TRICKY_NAMES)):
        path = folder / base
        path.write_bytes(BODY)
        path.chmod(0o644)
        made.append(f"{FOLDER}/{base}")
    return made


def _config(kind: str, tree: MediaTree, listen: str) -> str:
    # Public media only: nothing here reaches the app, so it need not run.
    setup = ProxySetup(
        listen=listen,
        media_root=str(tree.root),
        upstream=Upstream("127.0.0.1", free_port()),
        content_types=tuple(OVERRIDES.items()),
    )
    files = render(kind, setup).files
    if kind == "npm":
        # NPM pastes the Advanced text into the server block it writes for the proxy host.
        return f"server {{\n    listen {listen};\n{files[npm.ADVANCED_FILE]}\n}}"
    if kind == "traefik":
        # The sidecar's own server block; in its container it listens on 80.
        return files[traefik.SIDECAR_CONF].replace("listen 80;", f"listen {listen};")
    (text,) = files.values()
    return text


@pytest.fixture(scope="module")
def nginx(tree: MediaTree) -> Iterator[ServerProcess]:
    require("nginx")
    # The harness's http {} includes /etc/nginx/mime.types, as Debian's nginx.conf does.
    server = start_nginx(lambda site: _config("nginx", tree, f"127.0.0.1:{site.port}"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def npm_nginx(tree: MediaTree) -> Iterator[ServerProcess]:
    """Nginx Proxy Manager's nginx (with mime.types, like NPM's) and the Advanced text."""
    require("nginx")
    server = start_nginx(lambda site: _config("npm", tree, f"127.0.0.1:{site.port}"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def traefik_sidecar(tree: MediaTree) -> Iterator[ServerProcess]:
    """The nginx sidecar that serves public media behind Traefik."""
    require("nginx")
    server = start_nginx(lambda site: _config("traefik", tree, f"127.0.0.1:{site.port}"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def caddy(tree: MediaTree) -> Iterator[ServerProcess]:
    require("caddy")
    server = start_caddy(lambda port: _config("caddy", tree, f"127.0.0.1:{port}"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def apache(tree: MediaTree) -> Iterator[ServerProcess]:
    require("apache2")
    # Debian enables mod_mime with mime.conf: AddType, AddLanguage (.en, .fr...) and
    # AddCharset (.utf7...) on top of /etc/mime.types. Included as an install has it.
    debian = f"Include {DEBIAN_MIME_CONF}\n" if DEBIAN_MIME_CONF.exists() else ""
    server = start_apache(lambda port: debian + _config("apache", tree, str(port)))
    yield server
    server.stop()


def _fetch_all(
    server: ServerProcess, names: list[str]
) -> Iterator[tuple[str, int, dict[str, str], bytes]]:
    """GET every name over keep-alive connections (a new one whenever the server closes)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for name in names:
            for attempt in (1, 2):
                try:
                    conn.request("GET", "/media/" + quote(name))
                    response = conn.getresponse()
                    body = response.read()
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    conn.close()
                    if attempt == 2:
                        raise
            headers: dict[str, str] = {}
            for key, value in response.getheaders():
                key = key.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            yield name, response.status, headers, body
    finally:
        conn.close()


def _differences(name: str, status: int, got: dict[str, str], body: bytes) -> list[str]:
    want = in_process(name, len(BODY))
    problems = []
    if status != 200 or body != BODY:
        problems.append(f"status {status}, {len(body)} bytes")
    if got.get("content-type") != want["content-type"]:
        problems.append(
            f"Content-Type {got.get('content-type')!r}, in-process {want['content-type']!r}"
        )
    if got.get("x-content-type-options") != "nosniff":
        problems.append("no nosniff")
    if "content-encoding" in got:
        problems.append(f"Content-Encoding {got['content-encoding']!r} (in-process sends none)")
    if "content-security-policy" in want:
        if got.get("content-security-policy") != SANDBOX_CSP:
            problems.append(f"CSP {got.get('content-security-policy')!r}, in-process sandbox")
        if not got.get("content-disposition", "").startswith("attachment"):
            problems.append(
                f"Content-Disposition {got.get('content-disposition')!r}, in-process attachment"
            )
    else:
        for field in ("content-security-policy", "content-disposition"):
            if field in got:
                problems.append(f"{field} {got[field]!r}, in-process none (inline)")
    return [f"{name}: {p}" for p in problems]


# Every generator, by the fixture that runs its output and the program whose map it faces
# (NPM and the Traefik sidecar are nginx, with nginx's mime.types).
GENERATORS = {
    "nginx": ("nginx", "nginx"),
    "npm": ("npm_nginx", "nginx"),
    "traefik": ("traefik_sidecar", "nginx"),
    "caddy": ("caddy", "caddy"),
    "apache": ("apache", "apache"),
}


@pytest.mark.parametrize("proxy", list(GENERATORS))
def test_every_extension_in_the_proxy_maps_gets_the_in_process_headers(
    proxy: str, names: list[str], request: pytest.FixtureRequest
) -> None:
    fixture, program = GENERATORS[proxy]
    server: ServerProcess = request.getfixturevalue(fixture)
    own = proxy_extensions()[program]
    assert len(own) > 100, f"{proxy}'s MIME map was not found on this machine"
    wanted = {f"{FOLDER}/f.{ext}" for ext in own}
    problems: list[str] = []
    active = 0
    for name, status, headers, body in _fetch_all(server, names):
        problems += _differences(name, status, headers, body)
        if name in wanted and "content-security-policy" in in_process(name, len(BODY)):
            active += 1
    assert not problems, f"{len(problems)} differences from in-process serving:\n" + "\n".join(
        problems[:60]
    )
    # The map's extensions mediaserve does not know are most of it: all sandboxed above.
    assert active > len(own) // 2, (active, len(own))
