"""kombu serializers that send Django models through Celery as references and hand tasks fresh rows.

The serializers live in :mod:`django_cereal.pickle` and :mod:`django_cereal.json`; kombu finds
them through the ``kombu.serializers`` entry point, so importing this package is never needed
just to use them. This module stays free of Django and Celery imports because kombu imports
the serializer modules while it is itself being imported.
"""

__version__ = "1.0.0.dev0"
VERSION = tuple(int(part) if part.isdigit() else part for part in __version__.split("."))

#: Registered names of the two serializers (also importable from their modules).
DJANGO_CEREAL_PICKLE = "django-cereal-pickle"
DJANGO_CEREAL_JSON = "django-cereal-json"

__all__ = ["DJANGO_CEREAL_JSON", "DJANGO_CEREAL_PICKLE", "VERSION", "__version__"]
