"""A minimal Django project for the harness, configured from the environment.

Started by :func:`harness.django_site.start_django_site` under a real server; never imported
by the test process itself. ``MEDIASERVE_TEST_DJ_ROUTE`` picks how media reach mediaserve:

* ``view``: ``media_urlpatterns()`` in the URLconf, plain Django entry points;
* ``middleware``: ``MediaMiddleware`` first (and only) in MIDDLEWARE, no media URL pattern;
* ``wrapper``: ``mediaserve.django.wsgi|asgi.get_*_application``, no media URL pattern.

``MEDIASERVE_TEST_DJ_MEDIA_ROOT`` is MEDIA_ROOT (served at ``/media/``);
``MEDIASERVE_TEST_DJ_STORAGE``, when set, is the JSON of ``MEDIASERVE["STORAGE"]``.
``/healthz`` answers 200 for readiness probes.
"""

ENV_ROUTE = "MEDIASERVE_TEST_DJ_ROUTE"
ENV_MEDIA_ROOT = "MEDIASERVE_TEST_DJ_MEDIA_ROOT"
ENV_STORAGE = "MEDIASERVE_TEST_DJ_STORAGE"
ROUTES = ("view", "middleware", "wrapper")
