"""Django template tags of cacheops: ``{% load cacheops %}``."""
