"""Redis ORM cache for Django: automatic and manual queryset caching, granular invalidation."""

__version__ = "8.0.0.dev0"
