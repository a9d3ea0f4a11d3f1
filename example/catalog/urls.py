from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.product_list, name="list"),
    path("products/<int:pk>/", views.product_detail, name="product"),
    path("feed.csv", views.feed_csv, name="feed"),
    path("healthz", views.healthz, name="healthz"),
]
