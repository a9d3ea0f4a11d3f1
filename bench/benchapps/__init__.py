"""Applications the benchmark servers import (run inside gunicorn/granian/uvicorn).

Every module reads the directory to serve from the ``BENCH_MEDIA_ROOT`` environment
variable, set by the harness; URLs are ``/media/<name>`` everywhere.
"""
