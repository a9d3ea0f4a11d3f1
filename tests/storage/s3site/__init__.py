"""A minimal Django project whose media live in a bucket, run under gunicorn by the storage
tests. Configured from the environment: ``S3SITE_STORAGE`` is the JSON of
``MEDIASERVE["STORAGE"]``."""
