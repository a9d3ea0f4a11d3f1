"""Reading the example's configuration from environment variables.

Small pure helpers, kept apart from settings.py so they can be tested without configuring Django.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off", ""})


def env_bool(name: str, default: bool = False, environ: Mapping[str, str] = os.environ) -> bool:
    """`1/true/yes/on` are true, `0/false/no/off/empty` false; anything else is an error.

    A typo such as `DJANGO_DEBUG=ture` must not silently pick a mode, so it raises.
    """
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: use 1 or 0.")


def env_list(name: str, default: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    """A comma-separated list; blanks are dropped, so `a,,b ,` is `["a", "b"]`."""
    return [item.strip() for item in environ.get(name, default).split(",") if item.strip()]


def public_base_url(raw: str) -> str:
    """Validate PUBLIC_BASE_URL and return it without a trailing slash.

    It is where the site's `/` is reachable from the outside (scheme, host, optional port and
    optional path prefix). Absolute links in the catalog feed are built from it, never from the
    request's Host header, which a client controls.
    """
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            f"PUBLIC_BASE_URL={raw!r}: use an absolute http(s) URL such as https://shop.example.com"
        )
    if parts.query or parts.fragment:
        raise ImproperlyConfigured(f"PUBLIC_BASE_URL={raw!r}: drop the query and fragment.")
    return raw.strip().rstrip("/")


def origin_of(url: str) -> str:
    """`https://shop.example.com/x` → `https://shop.example.com`, as CSRF_TRUSTED_ORIGINS wants."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def load_or_create_secret_key(path: Path) -> str:
    """Return the key stored at `path`, creating it (mode 0600) on first use.

    Several processes may start at once (gunicorn workers, `manage.py` in a script), so the key is
    written to a private temporary file and published with `os.link`, which fails if another
    process won: every process then reads the one key that was published, never a half-written one.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask cannot widen it, but be explicit
        os.write(fd, (secrets.token_urlsafe(50) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process published its key first; use that one
    finally:
        tmp.unlink()
    return _read_key(path)


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 50:
        raise ImproperlyConfigured(
            f"{path} holds a secret key shorter than 50 characters; "
            "delete the file to have a new one generated."
        )
    return key
