"""The public Django API of renditions: ``rendition_url``, ``build_on_save`` and
``wait_for_builds``, over the renditions of the project's media pipeline
(``get_pipeline().renditions``, see ``renditions.py``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from django.conf import settings

from ..sources.base import LookupError_, NotFound, Refused
from ..sources.remote import Unavailable
from .pipeline import get_pipeline
from .rendition_service import BuildResult, Renditions, RenditionUnavailable

__all__ = [
    "RenditionUnavailable",
    "build_on_save",
    "get_renditions",
    "rendition_url",
    "wait_for_builds",
]

logger = logging.getLogger("mediaserve.renditions")


def get_renditions() -> Renditions:
    """The renditions of the project's media pipeline; RenditionUnavailable when this
    process serves no media (MEDIA_URL on another host without STORAGE)."""
    pipeline = get_pipeline()
    renditions = getattr(pipeline, "renditions", None)
    if not isinstance(renditions, Renditions):
        raise RenditionUnavailable(
            "renditions need the media pipeline: set MEDIA_ROOT (or MEDIASERVE['STORAGE'])"
            " and a MEDIA_URL path on this site"
        )
    return renditions


def _name_of(file_or_name: Any) -> str:
    name = file_or_name if isinstance(file_or_name, str) else getattr(file_or_name, "name", None)
    if not name or not isinstance(name, str):
        raise RenditionUnavailable("rendition_url needs a file name or a FieldFile with a file")
    return name


def rendition_url(
    file_or_name: Any,
    preset: str,
    fmt: str | None = None,
    *,
    absolute: bool = False,
    request: Any = None,
) -> str:
    """The URL of ``preset``'s rendition of a FieldFile (or storage name).

    ``fmt`` picks one format's immutable file; without it a one-format preset gives that
    format and a many-format preset the negotiated URL (AVIF/WebP/JPEG by ``Accept``).
    ``absolute``: prefixed with ``RENDITION_BASE_URL`` (or ``request``'s scheme and host)
    for feeds and WhatsApp messages, which need absolute URLs. Raises
    RenditionUnavailable naming the problem (unknown preset, missing or private source).
    """
    renditions = get_renditions()
    name = _name_of(file_or_name)
    chosen = renditions.preset(preset)
    if not renditions.is_public(name):
        raise RenditionUnavailable(
            f"{name!r} is not public media (MEDIASERVE['ACCESS']): renditions are public URLs"
        )
    try:
        relative = renditions.name_for(name, chosen, fmt)
    except (NotFound, Refused):
        raise RenditionUnavailable(f"no media file {name!r} to make a rendition of") from None
    except (LookupError_, Unavailable) as exc:
        raise RenditionUnavailable(f"{name!r} cannot be read now: {exc}") from None
    media_url = str(getattr(settings, "MEDIA_URL", "") or "/")
    url = (media_url if media_url.endswith("/") else media_url + "/") + quote(relative, safe="/")
    if absolute and "://" not in url:
        if renditions.base_url:
            url = renditions.base_url.rstrip("/") + (url if url.startswith("/") else "/" + url)
        elif request is not None:
            url = str(request.build_absolute_uri(url))
        else:
            raise RenditionUnavailable(
                "an absolute rendition URL needs MEDIASERVE['RENDITION_BASE_URL'] (e.g."
                " 'https://shop.example') or a request"
            )
    return url


# -- eager builds on upload -----------------------------------------------------------
_executor_lock = threading.Lock()
_executor: list[ThreadPoolExecutor] = []
_pending: set[Future[list[BuildResult]]] = set()


def _submit(name: str, presets: list[str] | None) -> Future[list[BuildResult]]:
    with _executor_lock:
        if not _executor:
            _executor.append(
                ThreadPoolExecutor(max_workers=2, thread_name_prefix="mediaserve-rendition")
            )
        future = _executor[0].submit(lambda: get_renditions().build(name, presets))
        _pending.add(future)
    future.add_done_callback(_done)
    return future


def _done(future: Future[list[BuildResult]]) -> None:
    with _executor_lock:
        _pending.discard(future)
    exc = future.exception()
    if exc is not None:
        logger.error("mediaserve: rendition build failed: %s", exc)
        return
    for result in future.result():
        if result.status == "failed":
            logger.warning(
                "mediaserve: rendition %s/%s of %r failed: %s",
                result.preset,
                result.fmt,
                result.name,
                result.detail,
            )


def wait_for_builds(timeout: float | None = None) -> None:
    """Block until the builds queued by ``build_on_save`` are done (tests, a batch
    import that must finish before it exits)."""
    with _executor_lock:
        pending = list(_pending)
    for future in pending:
        future.result(timeout=timeout)


def build_on_save(model: Any, field: str, presets: Iterable[str] | None = None) -> None:
    """Build ``field``'s renditions after a ``model`` instance is saved: opt-in, one line
    in ``AppConfig.ready``::

        build_on_save(Product, "image", ["meta-catalog", "thumb-400"])

    The build runs after the transaction commits (``transaction.on_commit``), on a small
    background pool, so the upload's response does not wait for it; a rendition still
    missing when first requested is built then (single-flight).
    """
    from django.db import transaction
    from django.db.models.signals import post_save

    chosen = list(presets) if presets is not None else None

    def handler(sender: Any, instance: Any, **kwargs: Any) -> None:
        file = getattr(instance, field, None)
        name = getattr(file, "name", None)
        if name:
            transaction.on_commit(lambda: _submit(str(name), chosen))

    post_save.connect(
        handler, sender=model, weak=False, dispatch_uid=f"mediaserve-renditions-{model}-{field}"
    )
