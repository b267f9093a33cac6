from __future__ import annotations

from django.apps import AppConfig


class CacheopsConfig(AppConfig):
    name = "cacheops"
    verbose_name = "Cacheops"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
        from .install import install_cacheops
        from .transaction import install_cacheops_transaction_support

        install_cacheops()
        install_cacheops_transaction_support()
        from .counters import install_stats

        install_stats()
