"""Django settings for the security suite's Django targets: the example project's, with the
suite's media tree, access rules and signing key (the same as the plain apps')."""

from __future__ import annotations

import os

from shop.settings import *  # noqa: F403

SECRET_KEY = os.environ["SEC_SIGNING_KEY"]
MEDIA_ROOT = os.environ["MEDIA_TEST_ROOT"]
MEDIA_URL = "/media/"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "sec_urls"
MEDIASERVE = {
    "ACCESS": {"signed/": "signed", "private/": "private"},
    "PERMISSION": "sec_urls.bearer_permission",
}
