"""Candidate: ``mediaserve.WSGIMedia(root, prefix="/media/")`` with default options."""

from __future__ import annotations

import mediaserve
from benchapps._env import MEDIA_PREFIX, media_root
from benchapps.witness import announce

app = mediaserve.WSGIMedia(media_root(), prefix=MEDIA_PREFIX)
announce("mediaserve")
