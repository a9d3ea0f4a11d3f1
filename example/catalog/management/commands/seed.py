"""`manage.py seed [--count N]`: sample products, images, one video and docker-test.txt.

Idempotent, so a launcher can run it on every start: products are looked up by SKU and never
duplicated or overwritten (edits made in the admin survive), and a file is generated only when the
product has none or its file is gone from MEDIA_ROOT.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.text import slugify

from catalog import samples
from catalog.models import Product
from catalog.views import DOCKER_TEST_FILE
from shop.files import ensure_dir

FILE_MODE = 0o644


def write_text_file(path: Path, text: str) -> bool:
    """Write `path` (0644) atomically unless it already holds `text`; return whether it wrote."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def file_missing(field: Any) -> bool:
    return not field or not field.storage.exists(field.name)


class Command(BaseCommand):
    help = "Create sample products with generated images and one product video (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--count", type=int, default=12, help="How many sample products (default 12)."
        )
        parser.add_argument(
            "--no-video", action="store_true", help="Skip encoding the sample product video."
        )

    def handle(self, *args: Any, count: int, no_video: bool, **options: Any) -> None:
        if count < 1:
            raise CommandError("--count must be at least 1.")
        media_root = Path(settings.MEDIA_ROOT)
        ensure_dir(media_root)
        if write_text_file(media_root / DOCKER_TEST_FILE, samples.DOCKER_TEST_TEXT):
            self.stdout.write(f"wrote {media_root / DOCKER_TEST_FILE}")

        created = images = 0
        for number in range(1, count + 1):
            sample = samples.sample_product(number)
            with transaction.atomic():
                product, was_created = Product.objects.get_or_create(
                    sku=sample.sku,
                    defaults={
                        "name": sample.name,
                        "brand": sample.brand,
                        "description": sample.description,
                        "price": sample.price,
                        "availability": sample.availability,
                        "condition": sample.condition,
                    },
                )
                created += was_created
                if file_missing(product.image):
                    data = samples.product_image(sample, product.currency)
                    name = f"{slugify(sample.sku)}.jpg"
                    # The content needs a name too: ImageField reads width and height only
                    # from a file that has one, and leaves them empty otherwise.
                    product.image.save(name, ContentFile(data, name=name))
                    images += 1

        videos = 0 if no_video else self.ensure_video(samples.sample_product(1))
        self.stdout.write(
            self.style.SUCCESS(
                f"seed: {count} sample products ({created} new), "
                f"{images} images and {videos} video generated"
            )
        )

    def ensure_video(self, sample: samples.SampleProduct) -> int:
        product = Product.objects.get(sku=sample.sku)
        if not file_missing(product.video):
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "video.webm"
            try:
                samples.product_video(sample, out)
            except (ImportError, OSError, RuntimeError) as exc:
                # The catalog works without it; say why the <video> has nothing to play.
                self.stderr.write(f"seed: product video skipped: {exc}")
                return 0
            with out.open("rb") as handle:
                product.video.save(f"{slugify(sample.sku)}.webm", File(handle))
        return 1
