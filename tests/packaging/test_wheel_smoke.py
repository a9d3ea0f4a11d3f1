"""The built wheel in a fresh venv, used as the README says: the command line, ``mediaserve
serve`` answering a real ranged GET, a Django project with the README's settings behind a real
gunicorn (the URL pattern and the WSGI wrapper), ``{% signed_media_url %}``, and ``manage.py
mediaserve config nginx``. Everything runs from a folder outside the repository."""

from __future__ import annotations

import html
import http.client
import json
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging_support import WheelVenv, source_version, start_on_free_port

from harness import REPO_ROOT

#: 1000 distinct-enough bytes, so that a wrong offset shows in the body.
DATA = bytes(range(256)) * 3 + bytes(range(232))
INVOICE = b"%PDF-1.4 invoice 7\n"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def get(port: int, path: str, headers: dict[str, str] | None = None) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def assert_ranged(answer: Answer, data: bytes, first: int, last: int) -> None:
    assert answer.status == 206, answer
    assert answer.headers["Content-Range"] == f"bytes {first}-{last}/{len(data)}"
    assert answer.body == data[first : last + 1]


# -- the installed package -----------------------------------------------------------------------


def test_the_package_is_imported_from_the_venv_not_the_checkout(wheel_venv: WheelVenv) -> None:
    out = wheel_venv.run(
        "python",
        "-c",
        "import json, importlib.metadata as m, mediaserve, pathlib; "
        "d = m.distribution('mediaserve'); "
        "print(json.dumps([mediaserve.__file__, d.version, mediaserve.__version__, "
        "d.read_text('direct_url.json') or '']))",
    )
    location, dist_version, module_version, direct_url = json.loads(out)
    assert Path(location).is_relative_to(wheel_venv.root)
    assert not Path(location).is_relative_to(REPO_ROOT)
    assert dist_version == module_version == source_version()
    assert '"editable": true' not in direct_url  # installed from the wheel, not `pip install -e`


def test_py_typed_is_installed(wheel_venv: WheelVenv) -> None:
    out = wheel_venv.run(
        "python",
        "-c",
        "import importlib.resources as r; print((r.files('mediaserve') / 'py.typed').is_file())",
    )
    assert out.strip() == "True"


def test_mediaserve_version_prints_the_release(wheel_venv: WheelVenv) -> None:
    assert wheel_venv.run("mediaserve", "--version").strip() == f"mediaserve {source_version()}"


def test_python_dash_m_mediaserve_is_the_same_command(wheel_venv: WheelVenv) -> None:
    out = wheel_venv.run("python", "-m", "mediaserve", "--version")
    assert out.strip() == f"mediaserve {source_version()}"


# -- mediaserve serve ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served_dir(wheel_venv: WheelVenv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("served")
    (root / "clip.bin").write_bytes(DATA)
    serve = [wheel_venv.bin / "mediaserve", "serve", root, "--prefix", "/media/"]
    server = start_on_free_port(
        lambda port: [*serve, "--port", str(port)],
        env=wheel_venv.env(),
        cwd=wheel_venv.workdir,
        ready_url="/media/clip.bin",
        name="wheel-mediaserve-serve",
    )
    yield server.port
    server.stop()


def test_mediaserve_serve_answers_a_ranged_get(served_dir: int) -> None:
    assert_ranged(get(served_dir, "/media/clip.bin", {"Range": "bytes=100-299"}), DATA, 100, 299)


def test_mediaserve_serve_answers_a_plain_get_with_validators(served_dir: int) -> None:
    answer = get(served_dir, "/media/clip.bin")
    assert (answer.status, answer.body) == (200, DATA)
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert answer.headers["ETag"]
    revalidated = get(served_dir, "/media/clip.bin", {"If-None-Match": answer.headers["ETag"]})
    assert revalidated.status == 304


# -- a Django project with the README's settings --------------------------------------------------

SETTINGS = """
    from pathlib import Path

    BASE_DIR = Path(__file__).resolve().parent.parent
    SECRET_KEY = "wheel-smoke-test-secret-key-not-for-production-0123456789"
    DEBUG = False
    ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    INSTALLED_APPS = [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "mediaserve.django",  # the README: system checks, template tags, manage.py mediaserve
    ]
    MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
    ROOT_URLCONF = "shop.urls"
    WSGI_APPLICATION = "shop.wsgi.application"
    TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [BASE_DIR / "templates"],
            "APP_DIRS": True,
        }
    ]
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
    }
    USE_TZ = True

    # The README's lines:
    MEDIA_URL = "/media/"
    MEDIA_ROOT = BASE_DIR / "media"
    FILE_UPLOAD_PERMISSIONS = 0o644
    MEDIASERVE = {
        "CACHE_CONTROL": "public, max-age=3600",
        "ACCESS": {"invoices/": "signed"},
    }
"""

URLS = """
    from django.shortcuts import render
    from django.urls import path

    from mediaserve.django.urls import media_urlpatterns


    def invoice_link(request):
        return render(request, "invoice_link.html", {"name": "invoices/7.pdf"})


    urlpatterns = [path("invoice-link/", invoice_link)]
    urlpatterns += media_urlpatterns()
"""

WSGI = """
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

    from mediaserve.django.wsgi import get_wsgi_application

    application = get_wsgi_application()
"""

MANAGE = """
    import os
    import sys

    if __name__ == "__main__":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
"""

TEMPLATE = """{% load mediaserve %}<a href="{% signed_media_url name expires_in=600 %}">Invoice</a>
"""


@pytest.fixture(scope="module")
def project(wheel_venv: WheelVenv, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project as ``django-admin startproject`` lays it out, with the README's settings."""
    root = tmp_path_factory.mktemp("project")
    files = {
        "manage.py": MANAGE,
        "shop/__init__.py": "",
        "shop/settings.py": SETTINGS,
        "shop/urls.py": URLS,
        "shop/wsgi.py": WSGI,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip())
    (root / "templates").mkdir()
    (root / "templates" / "invoice_link.html").write_text(TEMPLATE)
    (root / "media" / "products").mkdir(parents=True)
    (root / "media" / "products" / "a.bin").write_bytes(DATA)
    (root / "media" / "invoices").mkdir()
    (root / "media" / "invoices" / "7.pdf").write_bytes(INVOICE)
    return root


@pytest.fixture(scope="module")
def site(wheel_venv: WheelVenv, project: Path) -> Iterator[int]:
    """The project behind a real gunicorn from the venv, through the README's wsgi.py."""
    gunicorn = [wheel_venv.bin / "gunicorn", "--workers", "1", "--no-control-socket"]
    server = start_on_free_port(
        lambda port: [*gunicorn, "--bind", f"127.0.0.1:{port}", "shop.wsgi"],
        env=wheel_venv.env(),
        cwd=project,
        ready_url="/media/products/a.bin",
        name="wheel-gunicorn",
    )
    yield server.port
    server.stop()


def test_system_checks_pass_on_the_readme_settings(wheel_venv: WheelVenv, project: Path) -> None:
    out = wheel_venv.run("python", "manage.py", "check", cwd=project)
    assert "System check identified no issues" in out


def test_media_answers_a_ranged_get_with_the_projects_cache_control(site: int) -> None:
    answer = get(site, "/media/products/a.bin", {"Range": "bytes=-10"})
    assert_ranged(answer, DATA, len(DATA) - 10, len(DATA) - 1)
    assert answer.headers["Cache-Control"] == "public, max-age=3600"  # MEDIASERVE is read


def test_the_wsgi_wrapper_answers_media_before_django_runs(site: int) -> None:
    """The wrapper serves public media without building a Django request, so a Host that
    ALLOWED_HOSTS refuses still gets the file, while the same Host gets Django's 400 for a
    page: proof that README's wsgi.py, not the URL pattern, answered."""
    foreign = {"Host": "not-in-allowed-hosts.example"}
    media = get(site, "/media/products/a.bin", foreign)
    assert (media.status, media.body) == (200, DATA)
    page = get(site, "/invoice-link/", foreign)
    assert page.status == 400


def test_the_template_tag_signs_a_link_that_the_server_honours(site: int) -> None:
    page = get(site, "/invoice-link/")
    assert page.status == 200, page.body[:300]
    match = re.search(rb'href="([^"]+)"', page.body)
    assert match, page.body
    url = html.unescape(match.group(1).decode())
    assert url.startswith("/media/invoices/7.pdf?")
    assert "signature=" in url
    assert "expires=" in url
    signed = get(site, url)
    assert (signed.status, signed.body) == (200, INVOICE)
    assert signed.headers["Cache-Control"] == "private, no-store"
    assert get(site, "/media/invoices/7.pdf").status == 404  # the URL is the credential


def test_manage_py_mediaserve_config_nginx_reads_the_projects_settings(
    wheel_venv: WheelVenv, project: Path
) -> None:
    out = wheel_venv.run(
        "python",
        "manage.py",
        "mediaserve",
        "config",
        "nginx",
        "--upstream",
        "http://web:8000",
        cwd=project,
    )
    assert f"(mediaserve {source_version()})" in out  # the generated header names the release
    assert str(project / "media") in out  # MEDIA_ROOT from settings.py
    assert "/media/" in out
    assert "http://web:8000" in out
