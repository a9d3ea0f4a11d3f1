"""URLs of the security suite's Django targets: the media view, ``/`` and ``/beacon``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from mediaserve import Mount, ServeOptions
from mediaserve.django.urls import media_urlpatterns
from mediaserve.django.validators import SafeFileSystemStorage, UploadValidator
from mediaserve.django.views import serve_with

BEARER = "Bearer let-me-in"


def bearer_permission(request: Any, name: str) -> bool:
    """The same rule as the plain apps', so every target shares the probes' expectations
    (``Bearer crash`` makes it raise, like theirs: a permission callable with a bug)."""
    if request.META.get("HTTP_AUTHORIZATION") == "Bearer crash":
        raise RuntimeError(f"permission check crashed for {name!r}")
    return bool(request.META.get("HTTP_AUTHORIZATION") == BEARER)


class AttachmentForm(forms.Form):
    attachment = forms.FileField(validators=[UploadValidator()])


@csrf_exempt
def upload(request: HttpRequest) -> HttpResponse:
    """A chat attachment as a project integrates it: the validator, then the storage."""
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors["attachment"]}, status=400)
    return JsonResponse({"name": _store(form.cleaned_data["attachment"])})


@csrf_exempt
def upload_unvalidated(request: HttpRequest) -> HttpResponse:
    """A project that forgot the validator: the storage alone must not turn a non-image
    named like one into a 500."""
    return JsonResponse({"name": _store(request.FILES["attachment"])})


def _store(upload: Any) -> str:
    storage = SafeFileSystemStorage(location=settings.MEDIA_ROOT, strip_metadata=True)
    return str(storage.save(f"chat/{upload.name}", upload))


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok\n", content_type="text/plain")


def beacon(request: HttpRequest) -> HttpResponse:
    from sec_beacon import record_beacon

    record_beacon(request.META.get("QUERY_STRING", ""))
    return HttpResponse(b"ok\n", content_type="text/plain")


def crash(request: HttpRequest) -> HttpResponse:
    """The control proving the suite's log check sees an application error."""
    raise RuntimeError("the log check's control")


_UNSAFE = Mount.create(settings.MEDIA_ROOT, "/unsafe/", ServeOptions(neutralise_active=False))


def unsafe(request: HttpRequest, name: str) -> HttpResponseBase:
    """The browser test's control: the same files with neutralisation switched off."""
    return serve_with(_UNSAFE, request, name)


urlpatterns = [
    path("", index),
    path("upload/", upload),
    path("upload-unvalidated/", upload_unvalidated),
    path("beacon", beacon),
    path("__crash__", crash),
    re_path(r"^unsafe/(?P<name>.*)$", unsafe),
    *media_urlpatterns(),
]
