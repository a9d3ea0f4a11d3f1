from django.contrib import admin
from django.utils.html import format_html

from catalog.models import Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = (
        "thumbnail",
        "name",
        "sku",
        "price_display",
        "availability",
        "condition",
        "brand",
        "updated_at",
    )
    list_display_links = ("thumbnail", "name")
    list_filter = ("availability", "condition", "brand")
    search_fields = ("name", "sku", "brand", "description")
    readonly_fields = ("image_preview", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("sku", "name", "brand", "description")}),
        ("Offer", {"fields": ("price", "currency", "availability", "condition")}),
        ("Media", {"fields": ("image", "image_preview", "video")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="Image")
    def thumbnail(self, obj: Product) -> str:
        if not obj.image:
            return "—"
        return format_html(
            '<img src="{}" width="64" height="64" alt="" loading="lazy" '
            'style="object-fit:cover;border-radius:4px">',
            obj.image.url,
        )

    @admin.display(description="Preview")
    def image_preview(self, obj: Product) -> str:
        if not obj.image:
            return "—"
        return format_html(
            '<a href="{0}"><img src="{0}" width="240" alt="{1}" style="height:auto"></a>',
            obj.image.url,
            obj.name,
        )

    @admin.display(description="Price", ordering="price")
    def price_display(self, obj: Product) -> str:
        return obj.feed_price
