"""Access policies and signed URLs: the pure decision, then the plain WSGI/ASGI apps on a real tree.

Django's face (settings, the view, the middleware, the wrappers) is tested in tests/dj.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from harness import MediaTree, media_tree
from mediaserve import ASGIMedia, WSGIMedia
from mediaserve.access import (
    DEFER,
    PRIVATE_CACHE_CONTROL,
    Access,
    BadSignature,
    Signer,
)
from mediaserve.http.plan import RequestHeaders, ServeOptions
from mediaserve.pipeline import DEFERRED, Mount, Request
from unit.support import (
    asgi_body,
    asgi_headers,
    call_wsgi,
    decide,
    environ,
    http_scope,
    run_asgi,
)

NOW = 1_750_000_000.0


def clock() -> float:
    return NOW


def signer(key: str = "k1", fallbacks: tuple[str, ...] = ()) -> Signer:
    return Signer(key, fallbacks, clock=clock)


# -- Signer ----------------------------------------------------------------------------------


def test_a_fresh_signature_verifies() -> None:
    s = signer()
    s.verify("invoices/7.pdf", s.query("invoices/7.pdf", expires_in=60), "GET")


def test_a_signature_for_one_name_does_not_admit_another() -> None:
    """The name is part of the MAC: a link to one invoice cannot be edited into another."""
    s = signer()
    with pytest.raises(BadSignature, match="does not match"):
        s.verify("invoices/8.pdf", s.query("invoices/7.pdf"), "GET")


def test_an_edited_expiry_breaks_the_signature() -> None:
    s = signer()
    query = s.query("a.pdf", expires_in=60).replace(
        f"expires={int(NOW) + 60}", "expires=9999999999"
    )
    with pytest.raises(BadSignature, match="does not match"):
        s.verify("a.pdf", query, "GET")


def test_an_expired_signature_is_refused_and_says_when() -> None:
    past = Signer("k1", clock=lambda: NOW - 120)
    with pytest.raises(BadSignature, match=f"expired at {int(NOW) - 60}"):
        signer().verify("a.pdf", past.query("a.pdf", expires_in=60), "GET")


def test_the_key_is_what_makes_a_signature() -> None:
    with pytest.raises(BadSignature):
        signer("other").verify("a.pdf", signer("k1").query("a.pdf"), "GET")


def test_a_fallback_key_still_verifies_links_signed_before_rotation() -> None:
    """SECRET_KEY_FALLBACKS model: old key moved to the fallbacks keeps sent links alive."""
    old_link = signer("old").query("a.pdf")
    signer("new", ("old",)).verify("a.pdf", old_link, "GET")


def test_after_rotation_new_links_use_the_new_key() -> None:
    rotated = signer("new", ("old",))
    signer("new").verify("a.pdf", rotated.query("a.pdf"), "GET")
    with pytest.raises(BadSignature):
        signer("old").verify("a.pdf", rotated.query("a.pdf"), "GET")


def test_a_method_bound_signature_admits_only_that_method() -> None:
    """Bound to HEAD (e.g. a size probe), the link cannot download the file."""
    s = signer()
    query = s.query("a.pdf", method="HEAD")
    s.verify("a.pdf", query, "HEAD")
    with pytest.raises(BadSignature, match="for HEAD, not GET"):
        s.verify("a.pdf", query, "GET")


def test_a_get_bound_signature_also_admits_head() -> None:
    """HEAD is GET without the body (RFC 9110 §9.3.2): it reveals nothing GET would not."""
    s = signer()
    s.verify("a.pdf", s.query("a.pdf", method="GET"), "HEAD")


def test_the_bound_method_is_covered_by_the_signature() -> None:
    s = signer()
    query = s.query("a.pdf", method="HEAD").replace("method=HEAD", "method=GET")
    with pytest.raises(BadSignature, match="does not match"):
        s.verify("a.pdf", query, "GET")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "no signature"),
        ("expires=1", "no signature"),
        ("signature=abc", "no signature"),
        ("expires=-5&signature=abc", "malformed expiry"),
        ("expires=1e9&signature=abc", "malformed expiry"),
        ("expires=" + "9" * 40 + "&signature=abc", "malformed expiry"),
        ("expires=1&expires=2&signature=abc", "repeated 'expires'"),
        ("expires=%00&signature=%ff", "malformed expiry"),
        ("expires=1&signature=%C3%A9", "does not match"),  # non-ASCII: no TypeError
        ("expires=1&signature=%ff%fe", "does not match"),
        ("expires=1&method=G%C3%89T&signature=x", "does not match"),
    ],
)
def test_malformed_signed_queries_are_refused_with_a_reason(query: str, reason: str) -> None:
    with pytest.raises(BadSignature, match=reason):
        signer().verify("a.pdf", query, "GET")


def test_other_query_parameters_are_ignored() -> None:
    """Cache busters and tracking parameters added by messengers must not break a link."""
    s = signer()
    s.verify("a.pdf", "utm_source=wa&" + s.query("a.pdf") + "&v=2", "GET")


def test_signing_refuses_a_nonsense_lifetime_or_method() -> None:
    with pytest.raises(ValueError, match="positive"):
        signer().query("a.pdf", expires_in=0)
    with pytest.raises(ValueError, match="GET, HEAD"):
        signer().query("a.pdf", method="POST")


def test_url_quotes_the_name_so_the_server_decodes_it_back() -> None:
    s = signer()
    url = s.url("/media/", "docs/café 1#.pdf")
    parts = urlsplit(url)
    assert parts.path == "/media/docs/caf%C3%A9%201%23.pdf"
    assert set(parse_qs(parts.query)) == {"expires", "signature"}


# -- policies --------------------------------------------------------------------------------


def test_the_longest_prefix_wins() -> None:
    access = Access({"docs/": "private", "docs/public/": "public"}, signer=signer())
    assert access.policy_for("docs/public/a.pdf") == "public"
    assert access.policy_for("docs/secret/a.pdf") == "private"
    assert access.policy_for("other.pdf") == "public"


def test_a_prefix_names_a_directory_not_a_string_start() -> None:
    """ "invoices" must not cover "invoices-archive/" (the bare-startswith mistake)."""
    access = Access({"invoices": "private"})
    assert access.policy_for("invoices/a.pdf") == "private"
    assert access.policy_for("invoices-archive/a.pdf") == "public"


def test_prefixes_match_case_insensitively() -> None:
    """On a case-insensitive file system INVOICES/ is the same directory: fail closed."""
    access = Access({"invoices/": "private"})
    assert access.policy_for("INVOICES/a.pdf") == "private"


def test_an_empty_prefix_sets_the_default() -> None:
    access = Access({"": "signed", "thumbs/": "public"}, signer=signer())
    assert access.policy_for("anything.jpg") == "signed"
    assert access.policy_for("thumbs/a.jpg") == "public"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rules": {"a/": "secret"}}, "must be one of public, private, signed"),
        ({"rules": {"a/": "signed"}}, "needs a signing key"),
        ({"rules": {"a/": "private"}, "denied_status": 401}, "403 or 404"),
    ],
)
def test_bad_configurations_are_refused_with_the_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Access(**kwargs)


def test_private_without_a_request_is_deferred() -> None:
    """The fast wrappers have no session: the application behind must judge the request."""
    access = Access({"p/": "private"}, permission=lambda request, name: True)
    assert access.decide("GET", "p/a.pdf", "") is DEFER


def test_private_admits_a_valid_signature_without_a_request() -> None:
    s = signer()
    access = Access({"p/": "private"}, signer=s)
    assert access.decide("GET", "p/a.pdf", s.query("p/a.pdf")).outcome == "private"


def test_private_asks_the_permission_callable_with_the_request_and_name() -> None:
    seen: list[tuple[object, str]] = []

    def permission(request: object, name: str) -> bool:
        seen.append((request, name))
        return name.endswith(".jpg")

    access = Access({"p/": "private"}, permission=permission)
    assert access.decide("GET", "p/a.jpg", "", request="REQ").outcome == "private"
    assert access.decide("GET", "p/a.pdf", "", request="REQ").outcome == "deny"
    assert seen == [("REQ", "p/a.jpg"), ("REQ", "p/a.pdf")]


def test_private_without_a_permission_callable_denies() -> None:
    access = Access({"p/": "private"})
    assert access.decide("GET", "p/a.pdf", "", request=object()).outcome == "deny"


def test_the_private_variant_does_not_share_the_plan_cache(media: MediaTree) -> None:
    """A cached public plan must never be sent for a private request (or the reverse)."""
    mount = Mount.create(media.root, "/media/")
    request = Request("GET", b"/media/hello.txt", None, "", RequestHeaders())
    public = mount.respond(request, "hello.txt")
    private = mount.respond(request, "hello.txt", private=True)
    again = mount.respond(request, "hello.txt")
    for outcome in (public, private, again):
        if outcome.body is not None:
            outcome.body.close()
    assert public.plan.header("Cache-Control") == "public, max-age=3600"
    assert private.plan.header("Cache-Control") == PRIVATE_CACHE_CONTROL
    assert again.plan.header("Cache-Control") == "public, max-age=3600"


def test_a_denied_read_is_logged_once_with_client_and_reason(
    media: MediaTree, caplog: pytest.LogCaptureFixture
) -> None:
    access = Access({"p/": "signed"}, signer=signer())
    mount = Mount.create(media.root, "/media/")
    with caplog.at_level(logging.WARNING, logger="mediaserve"):
        outcome = decide(mount, "GET", "p/a.pdf", client="198.51.100.4", access=access)
    assert (outcome.plan.status, outcome.kind, outcome.body) == (404, "denied", None)
    records = [r for r in caplog.records if r.name == "mediaserve"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert "198.51.100.4" in records[0].getMessage()
    assert "no signature" in records[0].getMessage()


def test_other_methods_are_405_before_access_is_asked(media: MediaTree) -> None:
    """POST is 405 whatever the name: answering it reveals nothing about private files."""
    access = Access({"": "signed"}, signer=signer())
    mount = Mount.create(media.root, "/media/")
    outcome = decide(mount, "POST", "a.pdf", access=access)
    assert (outcome.plan.status, outcome.kind) == (405, "not_allowed")


def test_a_private_name_without_a_request_is_deferred_by_the_pipeline(media: MediaTree) -> None:
    """The fast wrappers have no session: the application behind judges the name."""
    access = Access({"p/": "private"}, signer=signer())
    outcome = decide(Mount.create(media.root, "/media/"), "GET", "p/a.pdf", access=access)
    assert outcome is DEFERRED


# -- the plain WSGI and ASGI apps on a real tree --------------------------------------------


@pytest.fixture(scope="module")
def private_tree() -> MediaTree:
    with media_tree() as tree:
        folder = tree.root / "invoices"
        folder.mkdir(mode=0o755)
        (folder / "7.pdf").write_bytes(b"%PDF-1.4 invoice 7")
        (folder / "7.pdf").chmod(0o644)
        yield tree


def _apps(root: Path, **kwargs: object) -> tuple[WSGIMedia, ASGIMedia]:
    real = Signer("plain-app-key")
    access = Access({"invoices/": "signed"}, signer=real, **kwargs)  # type: ignore[arg-type]
    return (
        WSGIMedia(root, prefix="/media/", access=access),
        ASGIMedia(root, prefix="/media/", access=access),
    )


def _wsgi(
    app: WSGIMedia, path: str, query: str = "", method: str = "GET"
) -> tuple[int, dict, bytes]:
    result = call_wsgi(app, environ(path, method=method, QUERY_STRING=query))
    return result.code, {k.lower(): v for k, v in result.headers}, result.body


def _asgi(
    app: ASGIMedia, path: str, query: str = "", method: str = "GET"
) -> tuple[int, dict, bytes]:
    scope = http_scope(path, method=method)
    scope["query_string"] = query.encode()
    messages = run_asgi(app, scope)
    return messages[0]["status"], asgi_headers(messages), asgi_body(messages)


@pytest.mark.parametrize("call", [_wsgi, _asgi], ids=["wsgi", "asgi"])
def test_plain_apps_serve_a_signed_name_with_a_valid_signature(
    private_tree: MediaTree, call: object
) -> None:
    apps = _apps(private_tree.root)
    app = apps[0] if call is _wsgi else apps[1]
    query = Signer("plain-app-key").query("invoices/7.pdf")
    status, headers, body = call(app, "/media/invoices/7.pdf", query)  # type: ignore[operator]
    assert (status, body) == (200, b"%PDF-1.4 invoice 7")
    assert headers["cache-control"] == PRIVATE_CACHE_CONTROL


@pytest.mark.parametrize("call", [_wsgi, _asgi], ids=["wsgi", "asgi"])
def test_plain_apps_answer_an_unsigned_read_like_a_missing_file(
    private_tree: MediaTree, call: object
) -> None:
    """Same status, headers and body as absence: the refusal confirms nothing."""
    apps = _apps(private_tree.root)
    app = apps[0] if call is _wsgi else apps[1]
    denied = call(app, "/media/invoices/7.pdf")  # type: ignore[operator]
    missing = call(app, "/media/invoices/8.pdf")  # type: ignore[operator]
    assert denied == missing
    assert denied[0] == 404


@pytest.mark.parametrize("call", [_wsgi, _asgi], ids=["wsgi", "asgi"])
def test_plain_apps_send_403_when_configured(private_tree: MediaTree, call: object) -> None:
    apps = _apps(private_tree.root, denied_status=403)
    app = apps[0] if call is _wsgi else apps[1]
    status, _, body = call(app, "/media/invoices/7.pdf", "expires=1&signature=x")  # type: ignore[operator]
    assert (status, body) == (403, b"Forbidden\n")


@pytest.mark.parametrize("call", [_wsgi, _asgi], ids=["wsgi", "asgi"])
def test_plain_apps_keep_public_names_public(private_tree: MediaTree, call: object) -> None:
    apps = _apps(private_tree.root)
    app = apps[0] if call is _wsgi else apps[1]
    status, headers, body = call(app, "/media/hello.txt")  # type: ignore[operator]
    assert (status, body) == (200, private_tree.files["hello.txt"])
    assert headers["cache-control"] == "public, max-age=3600"


def test_plain_wsgi_private_names_ask_the_permission_with_the_environ(
    private_tree: MediaTree,
) -> None:
    """Without Django, "private" means: the callable decides from the WSGI environ."""
    access = Access(
        {"invoices/": "private"},
        permission=lambda env, name: env.get("HTTP_AUTHORIZATION") == "Bearer ok",
    )
    app = WSGIMedia(private_tree.root, prefix="/media/", access=access)
    allowed = call_wsgi(
        app, environ("/media/invoices/7.pdf", headers={"Authorization": "Bearer ok"})
    )
    refused = call_wsgi(app, environ("/media/invoices/7.pdf"))
    assert (allowed.code, allowed.body) == (200, b"%PDF-1.4 invoice 7")
    assert refused.code == 404


# -- a permission callable that raises ---------------------------------------------------------


def _crashing_permission(request: object, name: str) -> bool:
    raise KeyError("session")  # the project's bug, not the client's


@pytest.mark.parametrize("call", [_wsgi, _asgi], ids=["wsgi", "asgi"])
def test_a_permission_callable_that_raises_is_a_refusal_not_a_500(
    private_tree: MediaTree, call: object, caplog: pytest.LogCaptureFixture
) -> None:
    """Any client can reach the callable: its crash must answer like a denial (the same 404
    as absence) and leave the traceback at ERROR for the project to fix."""
    access = Access({"invoices/": "private"}, permission=_crashing_permission)
    wsgi = WSGIMedia(private_tree.root, prefix="/media/", access=access)
    asgi = ASGIMedia(private_tree.root, prefix="/media/", access=access)
    app = wsgi if call is _wsgi else asgi
    with caplog.at_level(logging.WARNING, logger="mediaserve"):
        # The plain apps judge private names themselves only with a request to hand: the
        # environ/scope is it (NO_REQUEST would defer).
        crashed = call(app, "/media/invoices/7.pdf")  # type: ignore[operator]
        missing = call(app, "/media/invoices/8.pdf")  # type: ignore[operator]
    assert crashed == missing
    assert crashed[0] == 404
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2  # one per request, each with its traceback
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is KeyError
    assert "permission callable raised" in errors[0].getMessage()


def test_a_permission_callable_that_raises_answers_403_when_configured(media: MediaTree) -> None:
    access = Access({"p/": "private"}, permission=_crashing_permission, denied_status=403)
    mount = Mount.create(media.root, "/media/")
    request = Request("GET", b"/media/p/a.pdf", None, "", RequestHeaders(), judge=object())
    from mediaserve.pipeline import Pipeline

    outcome = Pipeline(mount, access).decide(request)
    assert outcome is not None
    assert (outcome.plan.status, outcome.kind, outcome.reason) == (
        403,
        "denied",
        "permission callable raised",
    )


# -- FOLLOW_SYMLINKS: a link is admitted for the name it resolves to as well -------------------


@pytest.fixture
def linked_tree() -> Iterator[MediaTree]:
    """``signed/`` and ``private/`` hold the real files; ``public/`` holds links to them
    (and one to another public file), all inside the root."""
    with media_tree() as tree:
        for folder in ("signed", "private", "public", "signed/sub"):
            (tree.root / folder).mkdir(mode=0o755)
        for name in ("signed/doc.pdf", "private/doc.pdf", "public/real.pdf", "signed/sub/x.pdf"):
            (tree.root / name).write_bytes(f"%PDF-1.4 {name}".encode())
            (tree.root / name).chmod(0o644)
        (tree.root / "public/to-signed.pdf").symlink_to("../signed/doc.pdf")
        (tree.root / "public/to-private.pdf").symlink_to("../private/doc.pdf")
        (tree.root / "public/to-public.pdf").symlink_to("real.pdf")
        (tree.root / "public/SIGNED").symlink_to("../signed")  # a directory link, upper case
        (tree.root / "signed/link.pdf").symlink_to("doc.pdf")
        yield tree


LINK_RULES = {"signed/": "signed", "private/": "private"}


def _linked_app(tree: MediaTree, **kwargs: object) -> WSGIMedia:
    access = Access(LINK_RULES, signer=Signer("links"), **kwargs)  # type: ignore[arg-type]
    options = ServeOptions(follow_symlinks=True)
    return WSGIMedia(tree.root, prefix="/media/", access=access, options=options)


@pytest.mark.parametrize(
    "path",
    ["/media/public/to-signed.pdf", "/media/public/to-private.pdf", "/media/public/SIGNED/doc.pdf"],
)
def test_a_public_link_never_reaches_a_restricted_file(
    linked_tree: MediaTree, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The link's own name is public; the file it resolves to is not: the answer is the same
    404 as a missing file, and the refusal is logged with the real name."""
    app = _linked_app(linked_tree, permission=lambda env, name: False)
    with caplog.at_level(logging.WARNING, logger="mediaserve"):
        result = call_wsgi(app, environ(path))
    missing = call_wsgi(app, environ("/media/public/nothing.pdf"))
    assert (result.code, result.body) == (missing.code, missing.body) == (404, b"Not Found\n")
    assert any("symlink target" in r.getMessage() for r in caplog.records)


def test_a_public_link_to_a_public_file_is_still_served(linked_tree: MediaTree) -> None:
    result = call_wsgi(_linked_app(linked_tree), environ("/media/public/to-public.pdf"))
    assert (result.code, result.body) == (200, b"%PDF-1.4 public/real.pdf")
    assert result.header("Cache-Control") == "public, max-age=3600"


def test_a_link_to_a_private_file_is_judged_by_the_real_name_and_sent_private(
    linked_tree: MediaTree,
) -> None:
    """The permission callable is asked about the file that would be sent, and an admitted
    private file is never cached by a shared cache, whatever the link's own name."""
    asked: list[str] = []

    def permission(env: object, name: str) -> bool:
        asked.append(name)
        return True

    result = call_wsgi(
        _linked_app(linked_tree, permission=permission), environ("/media/public/to-private.pdf")
    )
    assert (result.code, result.body) == (200, b"%PDF-1.4 private/doc.pdf")
    assert asked == ["private/doc.pdf"]
    assert result.header("Cache-Control") == PRIVATE_CACHE_CONTROL


def test_a_signature_for_the_link_does_not_admit_its_target(linked_tree: MediaTree) -> None:
    """A signed URL names one file: signed/link.pdf's signature is not signed/doc.pdf's. Sign
    the real name (signed/doc.pdf) instead."""
    app = _linked_app(linked_tree)
    query = Signer("links").query("signed/link.pdf")
    refused = call_wsgi(app, environ("/media/signed/link.pdf", QUERY_STRING=query))
    assert refused.code == 404
    query = Signer("links").query("signed/doc.pdf")
    served = call_wsgi(app, environ("/media/signed/doc.pdf", QUERY_STRING=query))
    assert (served.code, served.body) == (200, b"%PDF-1.4 signed/doc.pdf")


def test_a_link_to_a_private_file_is_deferred_by_the_fast_wrappers(linked_tree: MediaTree) -> None:
    """An entry point with no request to judge hands the link on, like the private name."""
    access = Access(LINK_RULES, signer=Signer("links"), permission=lambda r, n: True)
    mount = Mount.create(linked_tree.root, "/media/", ServeOptions(follow_symlinks=True))
    outcome = decide(mount, "GET", "public/to-private.pdf", access=access)
    assert outcome is DEFERRED


def test_without_follow_symlinks_links_stay_refused(linked_tree: MediaTree) -> None:
    access = Access(LINK_RULES, signer=Signer("links"))
    app = WSGIMedia(linked_tree.root, prefix="/media/", access=access)
    assert call_wsgi(app, environ("/media/public/to-public.pdf")).code == 404
