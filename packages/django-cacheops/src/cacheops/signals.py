"""Signals sent by cacheops.

``cache_read(sender, func, hit)``: a cached read was attempted; ``sender`` is the model
(None for ``@cached``), ``func`` the decorated function (None for querysets), ``hit`` a bool.
``cache_invalidated(sender, obj_dict)``: cached results of ``sender`` were dropped for a row
with these values (``obj_dict`` None when a whole model, or everything, was dropped).
"""

from __future__ import annotations

from django.dispatch import Signal

cache_read = Signal()
cache_invalidated = Signal()
