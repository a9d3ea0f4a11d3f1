"""The product a WhatsApp Business catalog lists.

Field limits and choice values follow Meta's commerce catalog feed specification, so every
product saved here is a valid feed row: https://developers.facebook.com/docs/commerce-platform/
catalog/fields
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxLengthValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse


def default_currency() -> str:
    return settings.CATALOG_DEFAULT_CURRENCY


class Availability(models.TextChoices):
    # The stored values are Meta's feed values verbatim.
    IN_STOCK = "in stock", "In stock"
    OUT_OF_STOCK = "out of stock", "Out of stock"
    PREORDER = "preorder", "Preorder"


class Condition(models.TextChoices):
    NEW = "new", "New"
    REFURBISHED = "refurbished", "Refurbished"
    USED = "used", "Used"


class Product(models.Model):
    # Meta's `id` (the retailer ID a WhatsApp product message refers to): stable across
    # database rebuilds, unlike the primary key. Meta allows up to 100 characters.
    sku = models.CharField(
        "SKU (retailer ID)",
        max_length=100,
        unique=True,
        help_text="Sent to Meta as the product's id; keep it stable.",
    )
    name = models.CharField(max_length=200)  # Meta: title, at most 200 characters
    description = models.TextField(validators=[MaxLengthValidator(9999)])  # Meta: at most 9999
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(
        max_length=3,
        default=default_currency,
        validators=[RegexValidator(r"^[A-Z]{3}\Z", "Use an ISO 4217 code such as BRL or USD.")],
    )
    availability = models.CharField(
        max_length=20, choices=Availability.choices, default=Availability.IN_STOCK
    )
    condition = models.CharField(max_length=20, choices=Condition.choices, default=Condition.NEW)
    brand = models.CharField(max_length=100)  # Meta: at most 100 characters
    image = models.ImageField(
        upload_to="products/", width_field="image_width", height_field="image_height"
    )
    # Filled in from the image on save, so pages can give <img> its size without opening the file.
    image_width = models.PositiveIntegerField(editable=False, null=True)
    image_height = models.PositiveIntegerField(editable=False, null=True)
    video = models.FileField(upload_to="videos/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:product", args=[self.pk])

    @property
    def feed_price(self) -> str:
        """Meta's price format: the amount with two decimals, a space, the ISO 4217 code."""
        return f"{self.price.quantize(Decimal('0.01'))} {self.currency}"
