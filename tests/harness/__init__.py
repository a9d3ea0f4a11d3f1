"""Test helpers that run the real thing: app servers, nginx, curl, raw sockets, Chromium.

Import from tests as ``from harness import ...`` (``tests/`` is on ``sys.path`` through
``tests/conftest.py``). Nothing here imports ``mediaserve``, so the harness works while the
package does not.

Servers bind 127.0.0.1 on a free port and are stopped with their whole process group; the
fixtures in ``tests/conftest.py`` stop whatever a test started, even when it fails.
"""

from __future__ import annotations

from .binaries import REQUIREMENTS, Requirement, in_ci, missing_requirements, require
from .browser import CHROMIUM_FLAGS, CHROMIUM_PATH, BrowserPage, Chromium, NetworkResponse
from .http import CurlError, CurlResult, Headers, RawResponse, curl, raw_exchange, raw_request
from .media import MediaTree, make_media_tree, make_video, media_tree, png_bytes
from .nginx import NginxConfigError, NginxSite, render_nginx_conf, start_nginx
from .paths import APPS_DIR, REPO_ROOT, TESTS_DIR
from .ports import LOOPBACK, free_port, port_accepts, wait_for_port
from .process import ServerProcess, ServerStartError, process_group_members, stop_all
from .seaweed import SeaweedS3, start_seaweedfs
from .servers import server_env, start_granian, start_gunicorn, start_uvicorn

__all__ = [
    "APPS_DIR",
    "CHROMIUM_FLAGS",
    "CHROMIUM_PATH",
    "LOOPBACK",
    "REPO_ROOT",
    "REQUIREMENTS",
    "TESTS_DIR",
    "BrowserPage",
    "Chromium",
    "CurlError",
    "CurlResult",
    "Headers",
    "MediaTree",
    "NetworkResponse",
    "NginxConfigError",
    "NginxSite",
    "RawResponse",
    "Requirement",
    "SeaweedS3",
    "ServerProcess",
    "ServerStartError",
    "curl",
    "free_port",
    "in_ci",
    "make_media_tree",
    "make_video",
    "media_tree",
    "missing_requirements",
    "png_bytes",
    "port_accepts",
    "process_group_members",
    "raw_exchange",
    "raw_request",
    "render_nginx_conf",
    "require",
    "server_env",
    "start_granian",
    "start_gunicorn",
    "start_nginx",
    "start_seaweedfs",
    "start_uvicorn",
    "stop_all",
    "wait_for_port",
]
