"""A model with a FileField on the default storage, and one whose storage is named in the migration."""

from __future__ import annotations

from django.db import models

from objstore.contrib.django import ObjectStorage


class Document(models.Model):
    title = models.CharField(max_length=100)
    file = models.FileField(upload_to="documents/")
    # A storage given explicitly is written into the migration through its deconstruct(): it must come back exactly
    # as given (makemigrations --check proves it), and building it must not connect to anything.
    archive = models.FileField(
        upload_to="archive/", blank=True, storage=ObjectStorage(url="memory://", file_overwrite=True)
    )

    def __str__(self) -> str:
        return self.title
