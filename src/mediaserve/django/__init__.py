"""The Django face of mediaserve: app config, settings, checks, URLs, middleware, wrappers.

Importing this package does not import Django models, so ``urls.py`` and ``wsgi.py`` can
use it before the app registry is ready.
"""
