"""Tiny WSGI/ASGI apps the harness starts under real servers (``apps.hello:wsgi``)."""
