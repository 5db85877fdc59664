from __future__ import annotations

from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "tests.integration.django_project.documents"
    label = "documents"
