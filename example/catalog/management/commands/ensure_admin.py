"""`manage.py ensure_admin`: create or update the admin user from the environment.

Reads ADMIN_PASSWORD (nothing happens without it), ADMIN_USERNAME (default `admin`) and
ADMIN_EMAIL. The password comes from the environment rather than an argument so that it never
shows up in `ps`. Safe to run on every start: an existing user gets the password reset to
ADMIN_PASSWORD only when it differs.
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or update a superuser from ADMIN_USERNAME / ADMIN_PASSWORD / ADMIN_EMAIL."

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("ADMIN_PASSWORD", "")
        if not password:
            self.stdout.write("ensure_admin: ADMIN_PASSWORD is not set; no admin user created.")
            return
        username = os.environ.get("ADMIN_USERNAME", "admin")
        email = os.environ.get("ADMIN_EMAIL", "")
        user_model = get_user_model()
        user, created = user_model._default_manager.get_or_create(
            **{user_model.USERNAME_FIELD: username},
            defaults={"email": email, "is_staff": True, "is_superuser": True},
        )
        changed = created
        if not (user.is_staff and user.is_superuser and user.is_active):
            user.is_staff = user.is_superuser = user.is_active = True
            changed = True
        if not user.check_password(password):
            user.set_password(password)
            changed = True
        if changed:
            user.save()
        state = "created" if created else ("updated" if changed else "unchanged")
        self.stdout.write(f"ensure_admin: user {username!r} {state}.")
