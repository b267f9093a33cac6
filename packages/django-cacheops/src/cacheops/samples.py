"""The samples of ``@cached_as``: querysets, models or instances, turned into querysets, with the
key, tables and invalidation conditions that a cached function's entries get from them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import connections
from django.db.models import Model, QuerySet

from .conditions import dnfs
from .conf import model_profile, settings
from .keys import QueryPlan, digest, get_prefix, query_plan
from .transaction import is_dirty, may_store

__all__ = ["Samples"]

Conditions = dict[str, list[dict[str, str]]]


def as_queryset(sample: Any) -> Any:
    """A sample as a queryset: an instance by its primary key, a model as all its rows."""
    if isinstance(sample, QuerySet):
        return sample
    if isinstance(sample, Model):
        return type(sample)._base_manager.using(sample._state.db or "default").filter(pk=sample.pk)
    if isinstance(sample, type) and issubclass(sample, Model):
        return sample._base_manager.all()
    raise TypeError(f"cached_as() takes querysets, models or model instances, not {sample!r}")


def _profile(qs: Any) -> Any:
    """The cacheops profile of a sample's model; ImproperlyConfigured when it has none."""
    profile = model_profile(qs.model)
    if profile is None:
        raise ImproperlyConfigured(
            f"Cacheops is not enabled for {qs.model._meta.label_lower}: give it a profile in CACHEOPS"
        )
    return profile


class Samples:
    """The samples of a ``@cached_as`` as querysets, with their profiles. Their key (a digest of
    their SQL) and tables are worked out once, on first use."""

    def __init__(self, samples: tuple[Any, ...]) -> None:
        self.querysets = [as_queryset(s) for s in samples]
        self.profiles = [_profile(qs) for qs in self.querysets]
        self._key: str | None = None
        self._plans: list[QueryPlan | None] = []
        self._tables: list[str] | None = None

    def timeout(self) -> int:
        """The default timeout: the smallest of the samples' profiles."""
        return min(p["timeout"] for p in self.profiles)

    def lock(self) -> bool:
        """The default of ``lock``: on when any sample's profile has it."""
        return any(p["lock"] for p in self.profiles)

    def key(self) -> str:
        """A digest of the samples' SQL, part of every key of the function."""
        if self._key is None:
            keys: list[str] = []
            plans: list[QueryPlan | None] = []
            for qs, profile in zip(self.querysets, self.profiles):
                try:
                    plan = query_plan(qs, "as", db_agnostic=profile["db_agnostic"])
                except EmptyResultSet:  # a sample matching nothing, e.g. filter(pk__in=[])
                    keys.append(f"empty:{qs.model._meta.label_lower}")
                    plans.append(None)
                else:
                    keys.append(plan.key)
                    plans.append(plan)
            self._plans = plans
            self._key = digest(*keys)
        return self._key

    def sample_conditions(self, i: int) -> Conditions:
        """The invalidation conditions of the ``i``-th sample, by table."""
        self.key()
        qs = self.querysets[i]
        plan = self._plans[i]
        if plan is None:
            return dnfs(qs.query, connections[qs.db].vendor)
        return plan.get_conditions(qs)

    def conditions(self) -> Conditions:
        """Every sample's conditions merged by table; a table with an empty conjunction (any
        change to it invalidates) keeps only that one."""
        merged: Conditions = {}
        for i in range(len(self.querysets)):
            for table, conjs in self.sample_conditions(i).items():
                bucket = merged.setdefault(table, [])
                bucket.extend(c for c in conjs if c not in bucket)
        return {t: ([{}] if {} in conjs else conjs) for t, conjs in merged.items()}

    def tables(self) -> list[str]:
        """The sorted tables the samples read."""
        if self._tables is None:
            self._tables = sorted({t for i in range(len(self.querysets)) for t in self.sample_conditions(i)})
        return self._tables

    def prefix(self, func: Callable) -> str:
        """The ``CACHEOPS_PREFIX`` of the function's keys."""
        if settings.CACHEOPS_PREFIX is None:
            return get_prefix()  # '' (the cluster hash tag on a Redis Cluster)
        return get_prefix(dbs=[qs.db for qs in self.querysets], tables=self.tables(), func=func)

    def dirty(self) -> bool:
        """Whether a transaction on a sample's database has written (reads may see it)."""
        return any(is_dirty(qs.db) for qs in self.querysets)

    def storable(self) -> bool:
        """Whether a result just computed may be stored (see transaction.may_store)."""
        return all(may_store(qs.db) for qs in self.querysets)
