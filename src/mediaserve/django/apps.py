from __future__ import annotations

from django.apps import AppConfig


class MediaserveConfig(AppConfig):
    name = "mediaserve.django"
    label = "mediaserve"
    verbose_name = "mediaserve"

    def ready(self) -> None:
        # Registering the checks here (not at import) keeps `import mediaserve.django`
        # free of side effects for projects that only use the WSGI wrapper.
        from . import checks  # noqa: F401
        from .observability import install

        # The metrics, event lines and failure record the settings ask for (mediaserve.metrics).
        install()
