"""MEDIASERVE["ACCESS"] through Django: the view (with sessions and users), the middleware,
the WSGI/ASGI wrappers, signed_url / the template tag / FieldFile, and the system checks."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import dj_middleware
import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.db.models import FileField
from django.db.models.fields.files import FieldFile
from django.template import engines
from django.test import Client, override_settings

from harness import MediaTree
from mediaserve import Signer, signed_url
from mediaserve.django.asgi import get_asgi_application
from mediaserve.django.wsgi import get_wsgi_application
from unit.support import asgi_body, call_wsgi, http_scope, run_asgi

INVOICE = "invoices/7.pdf"
INVOICE_BYTES = b"%PDF-1.4 invoice seven"
SHARED = "whatsapp/catalog.pdf"
SHARED_BYTES = b"%PDF-1.4 catalog for meta"
AUTH_STACK = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dj_middleware.CountingMiddleware",
]
ACCESS = {"invoices/": "private", "whatsapp/": "signed"}


@pytest.fixture
def private_media(media_settings: MediaTree) -> Iterator[MediaTree]:
    for name, data in ((INVOICE, INVOICE_BYTES), (SHARED, SHARED_BYTES)):
        path = media_settings.root / name
        path.parent.mkdir(mode=0o755, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)
    from django.db import transaction

    # Users and sessions made by a test are rolled back: the database is the session's.
    with transaction.atomic(), override_settings(MIDDLEWARE=AUTH_STACK,
                                                 MEDIASERVE={"ACCESS": ACCESS}):  # fmt: skip
        yield media_settings
        transaction.set_rollback(True)


def user(name: str, *, staff: bool) -> Any:
    model = get_user_model()
    found, _ = model.objects.get_or_create(username=name, defaults={"is_staff": staff})
    return found


def content(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def staff_client() -> Client:
    client = Client()
    client.force_login(user("media-staff", staff=True))
    return client


# -- private: the permission callable ----------------------------------------------------------


def test_anonymous_read_of_private_media_looks_like_a_missing_file(
    private_media: MediaTree,
) -> None:
    """404 with the body and headers of absence: the refusal confirms nothing exists."""
    denied = Client().get(f"/media/{INVOICE}")
    missing = Client().get("/media/invoices/8.pdf")
    assert denied.status_code == missing.status_code == 404
    assert content(denied) == content(missing)
    assert sorted(denied.items()) == sorted(missing.items())


def test_staff_read_private_media_uncacheable(private_media: MediaTree) -> None:
    response = staff_client().get(f"/media/{INVOICE}")
    assert (response.status_code, content(response)) == (200, INVOICE_BYTES)
    assert response["Cache-Control"] == "private, no-store"


def test_a_logged_in_non_staff_user_is_refused_by_default(private_media: MediaTree) -> None:
    client = Client()
    client.force_login(user("media-customer", staff=False))
    assert client.get(f"/media/{INVOICE}").status_code == 404


def test_denied_status_403_when_configured(private_media: MediaTree) -> None:
    with override_settings(MEDIASERVE={"ACCESS": ACCESS, "DENIED_STATUS": 403}):
        assert Client().get(f"/media/{INVOICE}").status_code == 403


def allow_pdf_owners(request: Any, name: str) -> bool:
    """A custom permission for the test below: the request names the allowed file."""
    return request.GET.get("owner") == "7" and name == INVOICE


def test_a_custom_permission_callable_decides(private_media: MediaTree) -> None:
    with override_settings(
        MEDIASERVE={"ACCESS": ACCESS, "PERMISSION": "test_dj_access.allow_pdf_owners"}
    ):
        assert Client().get(f"/media/{INVOICE}", {"owner": "7"}).status_code == 200
        assert Client().get(f"/media/{INVOICE}", {"owner": "8"}).status_code == 404


def crashing_permission(request: Any, name: str) -> bool:
    """A permission callable with a bug (an attribute the user model does not have)."""
    return bool(request.user.customer.id == 7)


def test_a_permission_callable_that_raises_is_a_refusal_logged_with_its_traceback(
    private_media: MediaTree, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a 500 any client can trigger: the answer of absence, and the traceback at ERROR."""
    settings = {"ACCESS": ACCESS, "PERMISSION": "test_dj_access.crashing_permission"}
    with override_settings(MEDIASERVE=settings), caplog.at_level(logging.ERROR):
        crashed = Client(raise_request_exception=True).get(f"/media/{INVOICE}")
        missing = Client().get("/media/invoices/8.pdf")
    assert crashed.status_code == missing.status_code == 404
    assert content(crashed) == content(missing)
    errors = [r for r in caplog.records if r.name == "mediaserve" and r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is AttributeError


def test_public_names_keep_public_caching(private_media: MediaTree) -> None:
    response = Client().get("/media/hello.txt")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=3600"


def test_a_refusal_is_logged_once_at_warning(
    private_media: MediaTree, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="mediaserve"):
        Client().get(f"/media/{INVOICE}", REMOTE_ADDR="203.0.113.9")
    # One line: the event line (mediaserve.events) while the observer logs events, else
    # the pipeline's own.
    records = [r for r in caplog.records if r.name.startswith("mediaserve")]
    assert len(records) == 1
    assert "203.0.113.9" in records[0].getMessage()
    assert "permission denied" in records[0].getMessage()


# -- signed ------------------------------------------------------------------------------------


def test_a_signed_url_admits_anyone_until_it_expires(private_media: MediaTree) -> None:
    url = signed_url(SHARED, expires_in=60)
    response = Client().get(url)
    assert (response.status_code, content(response)) == (200, SHARED_BYTES)
    assert response["Cache-Control"] == "private, no-store"


def test_an_unsigned_read_of_signed_media_is_refused(private_media: MediaTree) -> None:
    assert Client().get(f"/media/{SHARED}").status_code == 404


def test_staff_still_need_a_signature_for_signed_media(private_media: MediaTree) -> None:
    """ "signed" means the URL is the credential: no session shortcut."""
    assert staff_client().get(f"/media/{SHARED}").status_code == 404


def test_an_expired_signed_url_is_refused(private_media: MediaTree) -> None:
    from django.conf import settings

    an_hour_ago = Signer(settings.SECRET_KEY, clock=lambda: time.time() - 3600)
    query = an_hour_ago.query(SHARED, expires_in=60)
    assert Client().get(f"/media/{SHARED}?{query}").status_code == 404


def test_a_signed_url_for_one_file_does_not_open_another(private_media: MediaTree) -> None:
    url = signed_url(SHARED)
    other = url.replace("catalog.pdf", "other.pdf")
    assert Client().get(other).status_code == 404


def test_a_signed_url_opens_private_media_too(private_media: MediaTree) -> None:
    """The app can hand one invoice to WhatsApp without making the folder public."""
    response = Client().get(signed_url(INVOICE))
    assert (response.status_code, content(response)) == (200, INVOICE_BYTES)


def test_secret_key_rotation_keeps_sent_links_working(private_media: MediaTree) -> None:
    """Old key moved to SECRET_KEY_FALLBACKS: old links work; dropped from it: they stop."""
    from django.conf import settings

    old_key = settings.SECRET_KEY
    url = signed_url(SHARED)
    with override_settings(SECRET_KEY="a-brand-new-secret-key-" + "x" * 40,
                           SECRET_KEY_FALLBACKS=[old_key]):  # fmt: skip
        assert Client().get(url).status_code == 200
    with override_settings(SECRET_KEY="a-brand-new-secret-key-" + "x" * 40,
                           SECRET_KEY_FALLBACKS=[]):  # fmt: skip
        assert Client().get(url).status_code == 404


def test_signed_url_accepts_a_field_file(private_media: MediaTree) -> None:
    field_file = FieldFile(None, FileField(), SHARED)
    assert signed_url(field_file).startswith(f"/media/{SHARED}?expires=")
    assert Client().get(signed_url(field_file)).status_code == 200


def test_signed_url_refuses_an_empty_field_file(private_media: MediaTree) -> None:
    with pytest.raises(ValueError, match="FieldFile with a file"):
        signed_url(FieldFile(None, FileField(), None))


def test_the_template_tag_renders_a_working_escaped_url(private_media: MediaTree) -> None:
    template = engines["django"].from_string(
        '{% load mediaserve %}<a href="{% signed_media_url name expires_in=120 %}">x</a>'
    )
    html = template.render({"name": SHARED})
    href = html.split('href="', 1)[1].split('"', 1)[0]
    assert "&amp;signature=" in href  # escaped for HTML
    assert Client().get(href.replace("&amp;", "&")).status_code == 200


# -- the middleware and the fast wrappers -------------------------------------------------------


def test_middleware_serves_signed_media_before_the_stack(private_media: MediaTree) -> None:
    stack = ["mediaserve.django.middleware.MediaMiddleware", *AUTH_STACK]
    with override_settings(MIDDLEWARE=stack):
        response = Client().get(signed_url(SHARED))
    assert response.status_code == 200
    assert dj_middleware.seen == []


def test_middleware_hands_private_media_to_the_view_after_authentication(
    private_media: MediaTree,
) -> None:
    """The middleware runs before sessions exist; the view judges with request.user."""
    stack = ["mediaserve.django.middleware.MediaMiddleware", *AUTH_STACK]
    with override_settings(MIDDLEWARE=stack):
        staff = staff_client().get(f"/media/{INVOICE}")
        anonymous = Client().get(f"/media/{INVOICE}")
    assert (staff.status_code, content(staff)) == (200, INVOICE_BYTES)
    assert anonymous.status_code == 404
    assert dj_middleware.seen == [f"/media/{INVOICE}", f"/media/{INVOICE}"]


def _wsgi_env(path: str, query: str = "", **extra: Any) -> dict[str, Any]:
    import io

    from unit.support import environ

    streams = {"wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO()}
    return environ(path, HTTP_HOST="testserver", QUERY_STRING=query, **streams, **extra)


def test_wsgi_wrapper_serves_signed_media_without_django(private_media: MediaTree) -> None:
    url = signed_url(SHARED)
    path, query = url.split("?", 1)
    result = call_wsgi(get_wsgi_application(), _wsgi_env(path, query))
    assert (result.code, result.body) == (200, SHARED_BYTES)
    assert dj_middleware.seen == []


def test_wsgi_wrapper_refuses_unsigned_signed_media_itself(private_media: MediaTree) -> None:
    result = call_wsgi(get_wsgi_application(), _wsgi_env(f"/media/{SHARED}"))
    assert result.code == 404
    assert dj_middleware.seen == []


def test_wsgi_wrapper_hands_private_media_to_django(private_media: MediaTree) -> None:
    """No session in the fast path: Django's stack and the view decide (404 for anonymous)."""
    result = call_wsgi(get_wsgi_application(), _wsgi_env(f"/media/{INVOICE}"))
    assert result.code == 404
    assert INVOICE_BYTES not in result.body
    assert dj_middleware.seen == [f"/media/{INVOICE}"]


def test_wsgi_wrapper_lets_staff_read_private_media_through_django(
    private_media: MediaTree,
) -> None:
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    client = staff_client()
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    # As Django's test client does: the handler must not close the connection that holds
    # this test's (rolled back) transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        env = _wsgi_env(f"/media/{INVOICE}", HTTP_COOKIE=cookie)
        result = call_wsgi(get_wsgi_application(), env)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert (result.code, result.body) == (200, INVOICE_BYTES)
    assert result.header("Cache-Control") == "private, no-store"


def test_asgi_wrapper_serves_signed_and_hands_private_to_django(private_media: MediaTree) -> None:
    app = get_asgi_application()
    path, query = signed_url(SHARED).split("?", 1)
    scope = http_scope(path)
    scope["query_string"] = query.encode()
    signed = run_asgi(app, scope)
    assert (signed[0]["status"], asgi_body(signed)) == (200, SHARED_BYTES)
    assert dj_middleware.seen == []
    private = run_asgi(app, http_scope(f"/media/{INVOICE}"))
    assert private[0]["status"] == 404
    assert dj_middleware.seen == [f"/media/{INVOICE}"]


# -- system checks -----------------------------------------------------------------------------


def _ids(**mediaserve: Any) -> list[str]:
    with override_settings(MEDIASERVE=mediaserve):
        return [m.id for m in run_checks() if (m.id or "").startswith("mediaserve.")]


@pytest.mark.parametrize(
    ("mediaserve", "check_id"),
    [
        ({"ACCESS": {"invoices/": "staff"}}, "mediaserve.E040"),
        ({"DENIED_STATUS": 401}, "mediaserve.E041"),
        ({"PERMISSION": "nowhere.to.be.found"}, "mediaserve.E042"),
        ({"SIGNED_EXPIRES": 0}, "mediaserve.E043"),
    ],
)
def test_bad_access_settings_are_errors(
    private_media: MediaTree, mediaserve: dict[str, Any], check_id: str
) -> None:
    assert check_id in _ids(**mediaserve)


def test_private_media_without_the_view_is_a_warning(private_media: MediaTree) -> None:
    """Only the view sees request.user: without the URL pattern private media always 404s."""
    with override_settings(ROOT_URLCONF="dj_urls_plain"):
        assert "mediaserve.W040" in _ids(ACCESS={"invoices/": "private"})


def test_private_media_without_authentication_middleware_is_a_warning(
    private_media: MediaTree,
) -> None:
    with override_settings(MIDDLEWARE=["dj_middleware.CountingMiddleware"]):
        assert "mediaserve.W041" in _ids(ACCESS={"invoices/": "private"})


def test_restricted_media_served_directly_by_a_proxy_is_a_warning(
    private_media: MediaTree,
) -> None:
    """A proxy reading MEDIA_ROOT itself would hand invoices to anyone."""
    assert "mediaserve.W043" in _ids(ACCESS=ACCESS, SERVED_EXTERNALLY=True)
    assert "mediaserve.W043" not in _ids(ACCESS={"thumbs/": "public"}, SERVED_EXTERNALLY=True)


def test_a_sound_access_configuration_passes_the_checks(private_media: MediaTree) -> None:
    ours = {f"mediaserve.{kind}04{n}" for kind in "EW" for n in range(10)}
    assert not ours & set(_ids(ACCESS=ACCESS))
