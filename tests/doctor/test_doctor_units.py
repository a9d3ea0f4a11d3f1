"""The doctor's pure parts: URL rules, magic bytes and image sizes, nginx's location choice,
the report's exit codes. No servers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from harness import png_bytes
from mediaserve.doctor.consumer import _rules
from mediaserve.doctor.fetch import Response
from mediaserve.doctor.magic import image_size, same_family, sniffed_type
from mediaserve.doctor.proxy import choose_location, choose_server, parse_nginx
from mediaserve.doctor.report import Finding, Report, render_text
from mediaserve.doctor.served import explain_status, origin_of
from mediaserve.doctor.url import check_url

# -- url hop ---------------------------------------------------------------------------------


def _verdicts(url: str, profile: str | None = None) -> dict[str, str]:
    return {f.summary: f.verdict for f in check_url(url, profile=profile)}


def test_a_good_url_passes() -> None:
    assert list(_verdicts("https://shop.example.com/media/a%20b.jpg").values()) == ["pass"]


def test_http_is_a_warning_in_general_and_a_failure_for_meta() -> None:
    """Browsers cope with http; Meta's and WhatsApp's fetchers expect https."""
    assert "warn" in _verdicts("http://shop.example.com/media/a.jpg").values()
    assert "fail" in _verdicts("http://shop.example.com/media/a.jpg", "whatsapp").values()


@pytest.mark.parametrize(
    "host", ["localhost", "web", "backend:8000", "127.0.0.1", "10.0.0.5", "nas.local", "[::1]"]
)
def test_hosts_meta_cannot_reach_fail(host: str) -> None:
    found = check_url(f"https://{host}/media/a.jpg")
    assert any(f.verdict == "fail" and "not public" in f.summary for f in found), found


def test_raw_space_fails_with_the_encoded_path_as_fix() -> None:
    [finding] = [f for f in check_url("https://shop.example.com/media/my photo é.jpg")]
    assert finding.verdict == "fail"
    assert "/media/my%20photo%20%C3%A9.jpg" in finding.fix


def test_double_encoding_is_a_warning() -> None:
    assert "warn" in _verdicts("https://shop.example.com/media/a%2520b.jpg").values()


def test_relative_url_fails() -> None:
    [finding] = check_url("/media/a.jpg")
    assert finding.verdict == "fail"
    assert "build_absolute_uri" in finding.fix


def test_missing_extension_is_a_warning() -> None:
    assert _verdicts("https://shop.example.com/media/abc") == {
        "the path has no file extension": "warn"
    }


# -- magic -----------------------------------------------------------------------------------


def _pillow(kind: str, size: tuple[int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "GIF", "WEBP"])
def test_image_size_from_the_header(kind: str) -> None:
    data = _pillow(kind, (640, 480))
    assert image_size(data) == (640, 480)


def test_progressive_jpeg_size() -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (700, 510)).save(out, "JPEG", progressive=True)
    assert image_size(out.getvalue()) == (700, 510)


def test_sniff_tells_html_from_an_image() -> None:
    assert sniffed_type(b"<!DOCTYPE html><html>") == "text/html"
    assert sniffed_type(png_bytes()) == "image/png"
    assert sniffed_type(b"plain words") is None


@pytest.mark.parametrize(
    "head",
    [
        b"ID3\x04\x00\x00\x00\x00\x00\x00",  # an ID3v2 tag in front of the frames
        b"\xff\xfb\x90\x64\x00",  # MPEG-1 Layer III frame sync
        b"\xff\xf3\x48\xc4\x00",  # MPEG-2 Layer III
        b"\xff\xfd\x90\x64\x00",  # MPEG-1 Layer II: not MP3 (the doctor used to say it was)
        b"\xff\xff\xff\xff\x00",  # fill bytes: not a frame of any layer
        b"\xff\xf1\x50\x80\x02",  # ADTS AAC without CRC
        b"\xff\xf0\x50\x80\x02",  # ADTS AAC with CRC (the doctor used to miss it)
    ],
)
def test_the_doctor_and_the_upload_check_agree_on_mp3_and_aac(head: bytes) -> None:
    """One reading of the signatures: a file uploads refuse as "not an MP3" must not be
    called audio/mpeg by the doctor, nor the other way round."""
    from mediaserve.uploads import sniff

    assert (sniffed_type(head) == "audio/mpeg") == (sniff(head) == "mp3")
    assert (sniffed_type(head) == "audio/aac") == (sniff(head) == "aac")


def test_every_upload_format_has_a_content_type_in_the_doctor() -> None:
    """A format uploads learn to sniff must not silently prove nothing to the doctor."""
    from mediaserve.doctor.magic import FORMAT_TYPES
    from mediaserve.uploads import EXTENSIONS

    formats = set().union(*(found for _kind, found in EXTENSIONS.values()))
    assert formats - {"text"} <= set(FORMAT_TYPES)


def test_containers_shared_by_several_types_agree() -> None:
    """An .m4a is an MP4 and a .docx a ZIP: those are not mismatches."""
    assert same_family("audio/mp4", "video/mp4")
    assert same_family(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/zip",
    )
    assert not same_family("image/jpeg", "image/webp")


# -- nginx location choice -------------------------------------------------------------------

NGINX = """
http {
    server {
        listen 443 ssl;
        server_name shop.example.com;
        location / { proxy_pass http://web:8000; }
        location /media/ { alias /srv/media/; }
        location ^~ /media/keep/ { alias /srv/keep/; }
        location = /media/exact.jpg { return 404; }
        location ~* \\.(jpe?g|png)$ { proxy_pass http://web:8000; }  # NPM "Cache Assets"
    }
    server { listen 443 ssl default_server; server_name other.example.com; }
}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "nginx.conf"
    path.write_text(NGINX)
    return path


@pytest.mark.parametrize(
    ("path", "pattern", "beaten"),
    [
        ("/media/a.jpg", "\\.(jpe?g|png)$", "/media/"),  # a regex beats a plain prefix
        ("/media/a.pdf", "/media/", None),  # no regex matches: the longest prefix
        ("/media/keep/a.jpg", "/media/keep/", None),  # ^~ stops the regex search
        ("/media/exact.jpg", "/media/exact.jpg", None),  # = wins over everything
        ("/about", "/", None),
    ],
)
def test_location_choice_follows_nginx(
    config: Path, path: str, pattern: str, beaten: str | None
) -> None:
    server = choose_server(parse_nginx(config), "shop.example.com", 443)
    assert server is not None
    choice = choose_location(server, path)
    assert choice.pattern == pattern
    assert (choice.beaten_prefix.args[-1] if choice.beaten_prefix else None) == beaten


def test_server_chosen_by_name(config: Path) -> None:
    server = choose_server(parse_nginx(config), "other.example.com", 443)
    assert server is not None
    assert server.find("server_name")[0].args == ["other.example.com"]


# -- report ----------------------------------------------------------------------------------


def test_exit_codes_and_first_problem_follow_hop_order() -> None:
    """Findings arrive in any order; the first problem is the earliest hop, not the first added."""
    report = Report(target="x")
    report.add([Finding("public", "fail", "404"), Finding("file", "warn", "0600")])
    assert report.exit_code == 2
    assert report.to_dict()["first_problem"]["hop"] == "public"
    report.add([Finding("url", "fail", "http://")])
    assert report.to_dict()["first_problem"]["hop"] == "url"
    assert Report("y", [Finding("tls", "warn", "expires soon")]).exit_code == 1
    assert Report("z", [Finding("tls", "skip", "http"), Finding("url", "pass", "")]).exit_code == 0


def test_colour_only_when_asked() -> None:
    report = Report("x", [Finding("file", "fail", "gone", fix="upload it")])
    assert "\033[31m" in render_text(report, colour=True)
    assert "\033[" not in render_text(report, colour=False)


# -- who answered ----------------------------------------------------------------------------


def _response(status: int, body: bytes, server: str | None = None) -> Response:
    headers = [("Server", server)] if server else []
    return Response(url="https://shop.example.com/media/a.jpg", method="GET", status=status,
                    reason="", headers=headers, length=len(body), sha256="", head=body,
                    elapsed=0.0)  # fmt: skip


def test_djangos_page_through_nginx_is_djangos() -> None:
    """nginx replaces the Server header of what it passes on: the body decides."""
    page = b"<h1>Not Found</h1><p>The requested resource was not found on this server.</p>"
    assert origin_of(_response(404, page, "nginx/1.22.1")) == "django"
    nginx_page = b"<html><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center>"
    assert origin_of(_response(404, nginx_page, "nginx/1.22.1")) == "nginx"
    assert origin_of(_response(200, b"", "gunicorn")) == "app"


def test_nginx_404_and_django_404_get_different_fixes() -> None:
    nginx_page = b"<hr><center>nginx</center>"
    summary, fix = explain_status("public", _response(404, nginx_page, "nginx"), None)
    assert "proxy serves this path from its own disk" in summary
    assert "mount the media volume" in fix
    django_page = b"The requested resource was not found on this server."
    summary, fix = explain_status("public", _response(404, django_page, "nginx"), None)
    assert summary.startswith("404 from django")
    assert "media_urlpatterns()" in fix


# -- WhatsApp kinds --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "head", "size", "verdict"),
    [
        # A static sticker: 100 KB at most (animated ones may take 500 KB).
        ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", 400 * 1024, "fail"),
        ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", 600 * 1024, "fail"),  # too big
        ("video/webm", b"\x1a\x45\xdf\xa3", 1024, "fail"),  # WhatsApp takes MP4/3GPP only
        ("application/pdf", b"%PDF-1.7", 50 * 1024 * 1024, "pass"),
    ],
)
def test_whatsapp_types_and_limits_per_kind(
    content_type: str, head: bytes, size: int, verdict: str
) -> None:
    answer = Response(
        url="https://shop.example.com/media/x", method="GET", status=206, reason="",
        headers=[("Content-Type", content_type), ("Content-Range", f"bytes 0-9/{size}"),
                 ("ETag", '"x"')],
        length=10, sha256="", head=head, elapsed=0.0,
    )  # fmt: skip
    found = _rules("whatsapp", answer, None, None)
    worst = "fail" if any(f.verdict == "fail" for f in found) else "pass"
    assert worst == verdict, found


def test_catalog_takes_jpeg_and_png_only() -> None:
    """Meta's catalog rejects WebP even where browsers show it."""
    webp = Response(
        url="https://shop.example.com/media/x.webp", method="GET", status=200, reason="",
        headers=[("Content-Type", "image/webp"), ("ETag", '"x"')], length=30, sha256="",
        head=b"RIFF\x00\x00\x00\x00WEBPVP8X" + bytes(8) + b"\xff\x03\x00\xff\x03\x00",
        elapsed=0.0,
    )  # fmt: skip
    found = {f.summary: f.verdict for f in _rules("meta-catalog", webp, None, None)}
    assert (
        found.get("catalog image: the bytes are image/webp, accepted: image/jpeg, image/png")
        == "fail"
    )


# -- nginx -T dumps and includes -------------------------------------------------------------

NPM_DUMP = """# configuration file /etc/nginx/nginx.conf:
http {
    include /etc/nginx/mime.types;
    include /data/nginx/proxy_host/*.conf;
}

# configuration file /data/nginx/proxy_host/1.conf:
server {
    listen 443 ssl;
    server_name shop.example.com;
    location ~* ^.*\\.(css|js|jpe?g|gif|png|webp|woff|eot|ttf|svg|ico|css\\.map|js\\.map)$ {
        include conf.d/include/proxy.conf;
    }
    location /media/ { alias /data/media/; }
    location / { include conf.d/include/proxy.conf; }
}

# configuration file /etc/nginx/conf.d/include/proxy.conf:
proxy_set_header Host $host;
proxy_pass $forward_scheme://$server:$port$request_uri;
"""


def test_an_nginx_T_dump_resolves_includes_from_itself(tmp_path: Path) -> None:
    """Nginx Proxy Manager's host files include conf.d/include/proxy.conf relative to
    /etc/nginx: in a dump the text is there even where the files are not."""
    from mediaserve.doctor.proxy import check_proxy

    dump = tmp_path / "all.conf"
    dump.write_text(NPM_DUMP)
    [hijack] = check_proxy(dump, "https://shop.example.com/media/a.jpg", "/media/")
    assert hijack.verdict == "fail"
    assert "regex location" in hijack.summary
    [app] = check_proxy(dump, "https://shop.example.com/about/", "/media/")
    assert app.verdict == "pass"
    assert "passes /about/ to the app" in app.summary


def test_an_include_that_cannot_be_read_makes_the_location_unknown(tmp_path: Path) -> None:
    """Without the included file the doctor cannot say what the location does: it says so
    instead of guessing that nginx serves from its default root."""
    from mediaserve.doctor.proxy import check_proxy

    conf = tmp_path / "1.conf"
    conf.write_text(
        "server { listen 443; server_name shop.example.com;\n"
        "  location / { include conf.d/include/no-such-proxy.conf; } }\n"
    )
    [finding] = check_proxy(conf, "https://shop.example.com/media/a.jpg", "/media/")
    assert finding.verdict == "warn"
    assert "conf.d/include/no-such-proxy.conf, not readable here" in finding.summary
    assert "nginx -T" in finding.fix


# -- file hop --------------------------------------------------------------------------------


def test_a_symlinked_file_is_a_warning(tmp_path: Path) -> None:
    """mediaserve refuses symlinks by default: a link that looks fine on disk 404s."""
    from mediaserve.doctor.file import inspect_file

    (tmp_path / "real.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    (tmp_path / "link.jpg").symlink_to("real.jpg")
    _, found = inspect_file(tmp_path, "link.jpg")
    assert any(f.verdict == "warn" and "symlink" in f.summary for f in found), found


def test_magic_bytes_against_the_extension(tmp_path: Path) -> None:
    """An HTML error page saved under an image name is caught before any server is asked."""
    from mediaserve.doctor.file import inspect_file

    (tmp_path / "photo.jpg").write_bytes(b"<!doctype html><html><body>Error</body></html>")
    _, found = inspect_file(tmp_path, "photo.jpg")
    assert [f.summary for f in found if f.verdict == "fail"] == [
        "the bytes are text/html but the name says image/jpeg"
    ]


def test_an_empty_file_fails(tmp_path: Path) -> None:
    from mediaserve.doctor.file import inspect_file

    (tmp_path / "empty.png").write_bytes(b"")
    _, found = inspect_file(tmp_path, "empty.png")
    assert [f.summary for f in found if f.verdict == "fail"] == ["the file is empty (0 bytes)"]
