"""URLs of the example shop."""

from django.contrib import admin
from django.urls import include, path

from mediaserve.django.health import health_urlpatterns
from mediaserve.django.urls import media_urlpatterns

urlpatterns = [
    # Staff-only: media health (failed fetches by Meta and WhatsApp), the doctor per file, and
    # Prometheus metrics when MEDIASERVE["METRICS"] is on; before the admin's own patterns.
    *health_urlpatterns(),
    path("admin/", admin.site.urls),
    path("", include("catalog.urls")),
]

# Serves MEDIA_URL from MEDIA_ROOT with DEBUG on or off (Django's own static() helper is a
# no-op when DEBUG is False). With shop.wsgi / shop.asgi public media is answered before Django's
# URL resolver; this line covers the other entry points (runserver, the test client).
urlpatterns += media_urlpatterns()
