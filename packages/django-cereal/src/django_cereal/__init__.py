"""kombu serializers that send Django models through Celery as references and hand tasks fresh rows.

The serializers live in :mod:`django_cereal.pickle` and :mod:`django_cereal.json`; kombu finds
them through the ``kombu.serializers`` entry point, so importing this package is never needed
just to use them. This module stays free of Django and Celery imports because kombu imports
the serializer modules while it is itself being imported.
"""

from typing import NamedTuple

__version__ = "1.0.0.dev0"


class version_info_t(NamedTuple):
    """The version as a named tuple, as django-cereal 0.2.1 had it (``VERSION.major`` etc.)."""

    major: int
    minor: int
    micro: int
    releaselevel: str
    serial: str


_major, _minor, _micro, *_level = __version__.split(".")
VERSION = version_info_t(int(_major), int(_minor), int(_micro), "".join(_level), "")

#: Registered names of the two serializers (also importable from their modules).
DJANGO_CEREAL_PICKLE = "django-cereal-pickle"
DJANGO_CEREAL_JSON = "django-cereal-json"

__all__ = ["DJANGO_CEREAL_JSON", "DJANGO_CEREAL_PICKLE", "VERSION", "__version__", "version_info_t"]
