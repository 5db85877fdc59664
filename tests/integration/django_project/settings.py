"""Settings of the test project. The tests switch STORAGES per store with ``override_settings``."""

from __future__ import annotations

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "objstore-django-tests-only"  # noqa: S105 - a test project, never deployed
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "tests.integration.django_project.documents",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]

# A private in-memory store until a test points the storages at a real one.
STORAGES = {
    "default": {"BACKEND": "objstore.contrib.django.ObjectStorage", "OPTIONS": {"url": "memory://"}},
    "staticfiles": {
        "BACKEND": "objstore.contrib.django.ObjectStorage",
        "OPTIONS": {"url": "memory://", "file_overwrite": True},
    },
}
