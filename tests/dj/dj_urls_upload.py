"""An upload view for the upload tests: a form with mediaserve's validator, saved through
SafeFileSystemStorage under MEDIA_ROOT, answered with the stored name or the form errors."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from mediaserve.django.urls import media_urlpatterns
from mediaserve.django.validators import SafeFileSystemStorage, UploadValidator


class AttachmentForm(forms.Form):
    attachment = forms.FileField(validators=[UploadValidator()])


@csrf_exempt
def upload(request: HttpRequest) -> HttpResponse:
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors["attachment"]}, status=400)
    storage = SafeFileSystemStorage(location=settings.MEDIA_ROOT, strip_metadata=True)
    upload = form.cleaned_data["attachment"]
    name = storage.save(f"chat/{upload.name}", upload)
    return JsonResponse({"name": name})


urlpatterns = [path("upload/", upload), *media_urlpatterns()]
