from typing import Any, ClassVar

from django.db import migrations, models

import objstore.contrib.django


class Migration(migrations.Migration):
    initial = True

    dependencies: ClassVar[list[tuple[str, str]]] = []

    operations: ClassVar[list[Any]] = [
        migrations.CreateModel(
            name="Document",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=100)),
                ("file", models.FileField(upload_to="documents/")),
                (
                    "archive",
                    models.FileField(
                        blank=True,
                        storage=objstore.contrib.django.ObjectStorage(file_overwrite=True, url="memory://"),
                        upload_to="archive/",
                    ),
                ),
            ],
        ),
    ]
