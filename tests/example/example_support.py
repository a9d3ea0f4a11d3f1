"""Helpers shared by the example's tests (a plain module: conftest.py is not importable by name
when several test directories have one)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = REPO_DIR / "example"
SETTINGS_MODULE = "shop.settings"
PUBLIC_BASE_URL = "https://shop.example.com"

# Environment variables the example reads; tests start from none of them set.
EXAMPLE_ENV_VARS = (
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "DJANGO_BEHIND_PROXY",
    "DJANGO_LOG_LEVEL",
    "DJANGO_SETTINGS_MODULE",
    "EXAMPLE_VAR_DIR",
    "MEDIA_ROOT",
    "PUBLIC_BASE_URL",
    "CATALOG_CURRENCY",
    "ADMIN_USERNAME",
    "ADMIN_PASSWORD",
    "ADMIN_EMAIL",
    "HOST",
    "PORT",
    "SEED_COUNT",
    "WEB_WORKERS",
    "WEB_THREADS",
    "PYTHON",
    "MEDIASERVE_OFFLOAD",
    "MEDIASERVE_OFFLOAD_ROOT",
)


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process running the example: none of its variables set, and
    this interpreter's import path, so the child finds the same mediaserve and Django."""
    env = {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV_VARS}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env.update(overrides)
    return env


def make_product(**fields: Any) -> Any:
    """A product whose image file need not exist: the stored size spares Django opening it."""
    from catalog.models import Product

    number = Product.objects.count() + 1
    values: dict[str, Any] = {
        "sku": f"TEST-{number:03d}",
        "name": f"Test product {number}",
        "description": "A product made by a test.",
        "price": "19.90",
        "currency": "BRL",
        "brand": "Testbrand",
        "image": f"products/test-{number}.jpg",
        "image_width": 800,
        "image_height": 800,
    }
    values.update(fields)
    return Product.objects.create(**values)
