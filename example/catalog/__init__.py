"""The product catalog: model, admin, public pages, Meta commerce feed and the `seed` command."""
