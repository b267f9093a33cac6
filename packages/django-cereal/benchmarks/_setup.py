"""Django set-up shared by the benchmarks: a throw-away SQLite file database with one table."""

from __future__ import annotations

import os
import tempfile


def setup_django() -> None:
    import django
    from django.conf import settings

    folder = tempfile.mkdtemp(prefix="cereal-bench-")
    settings.configure(
        SECRET_KEY="bench",
        INSTALLED_APPS=["benchapp"],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(folder, "db.sqlite3")}
        },
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
    )
    django.setup()
    from benchapp.models import Item
    from django.db import connection

    with connection.schema_editor() as editor:
        editor.create_model(Item)
    Item.objects.bulk_create(
        [Item(name=f"item {i}", description="lorem ipsum " * 20, price=i) for i in range(1, 1001)]
    )
