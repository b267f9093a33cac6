# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="misc,attr-defined"
"""Natural keys: ``NaturalManager`` and the ``NaturalKeyModel`` base class."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from django.core.exceptions import MultipleObjectsReturned, ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.base import ModelBase
from django.utils.translation import gettext as _

from .results import SyncError

if TYPE_CHECKING:
    from typing_extensions import Self

_M = TypeVar("_M", bound=models.Model)
_Owner = TypeVar("_Owner", bound=models.Model)


class NotAManager(ValidationError, TypeError):
    """``NaturalManager(manager=...)`` got a class that is not a ``Manager`` (0.7 raised ValidationError)."""


class NoNaturalKeyFields(AssertionError, TypeError):
    """A ``NaturalManager`` without natural key fields (0.7 failed an assertion)."""


class NaturalManager(models.Manager[_M], Generic[_M]):
    """A manager with ``get_by_natural_key`` over its natural key ``fields``.

    Two forms, as in django-synchro 0.7:

    * ``NaturalManager('code', 'day', allow_many=False, manager=BaseManager)`` builds a
      new subclass of this class and of ``manager`` with those ``fields``;
    * a subclass declares them: ``class MyManager(NaturalManager, MyBase): fields = ('code',)``.

    With ``allow_many=True`` the first matching object (lowest pk) is returned instead of
    raising ``MultipleObjectsReturned``.
    """

    fields: tuple[str, ...] = ()
    allow_many: bool = False

    def __new__(
        cls, *fields: Any, allow_many: bool = False, manager: type = models.Manager, **kwargs: Any
    ) -> NaturalManager[Any]:
        if fields and all(isinstance(f, str) for f in fields):
            if not (isinstance(manager, type) and issubclass(manager, models.Manager)):
                raise NotAManager(f"NaturalManager(manager=...) must be a Manager subclass, not {manager!r}")
            bases = (cls,) if issubclass(cls, manager) else (cls, manager)
            new_cls = type(
                f"Natural{manager.__name__}",
                bases,
                {"fields": tuple(fields), "allow_many": allow_many, "__module__": __name__},
            )
            obj = super().__new__(new_cls)
        else:  # a class with its fields declared, or one Django derives from it (related managers)
            if not cls.fields:
                raise NoNaturalKeyFields(
                    f"{cls.__name__} has no natural key fields: use NaturalManager('field', ...) "
                    f"or declare fields = ('field', ...) on the subclass"
                )
            obj = super().__new__(cls)
        obj._constructor_args = ((), kwargs)
        return obj

    def __init__(
        self, *fields: Any, allow_many: bool = False, manager: type | None = None, **kwargs: Any
    ) -> None:
        super().__init__()

    if TYPE_CHECKING:
        # What type checkers see on ``Model.objects``: a manager of that model. (django-stubs
        # says "Self" here, which leaves the model unknown without its mypy plugin, e.g. in
        # pyright.) At run time Django puts its own descriptor on the model class.

        @overload  # type: ignore[override]
        def __get__(self, instance: None, owner: type[_Owner]) -> NaturalManager[_Owner]: ...
        @overload
        def __get__(self, instance: _Owner, owner: type[_Owner]) -> NaturalManager[_Owner]: ...
        def __get__(self, instance: Any, owner: Any) -> Any: ...

    def get_by_natural_key(self, *key: Any) -> _M:
        """The object whose natural-key fields equal ``key``; raises ``DoesNotExist``."""
        if len(key) != len(self.fields):
            raise ValueError(
                f"{self.model.__name__} natural key has {len(self.fields)} fields "
                f"{self.fields}, got {len(key)} values"
            )
        queryset = self.filter(**dict(zip(self.fields, key)))
        if not self.allow_many:
            return queryset.get()
        obj = queryset.order_by("pk").first()
        if obj is None:
            raise self.model.DoesNotExist(
                f"{self.model.__name__} matching natural key {key!r} does not exist"
            )
        return obj


def _plain_base(cls: type) -> type:
    for base in cls.__mro__[1:]:
        if issubclass(base, models.Manager) and not issubclass(base, NaturalManager):
            return base
    return models.Manager


class NaturalKeyModelBase(ModelBase):
    """Gives each concrete ``NaturalKeyModel`` a ``NaturalManager`` built on its ``objects``."""

    def __new__(mcs, name, bases, attrs, **kwargs):
        cls = super().__new__(mcs, name, bases, attrs, **kwargs)
        if cls._meta.abstract:
            return cls
        fields = tuple(getattr(cls, "_natural_key", ()) or ())
        if not fields:
            return cls
        current = next((m for m in cls._meta.local_managers if m.name == "objects"), None)
        base = (
            _plain_base(type(current))
            if isinstance(current, NaturalManager)
            else type(current or models.Manager())
        )
        manager: NaturalManager[Any] = NaturalManager(
            *fields, manager=base, **dict(getattr(cls, "_natural_manager_kwargs", {}) or {})
        )
        if current is not None:  # keep the declared manager's place (the first is the default)
            manager.creation_counter = current.creation_counter
        cls._meta.local_managers = [m for m in cls._meta.local_managers if m.name != "objects"]
        cls.add_to_class("objects", manager)
        cls._meta._expire_cache()
        return cls


class NaturalKeyModel(models.Model, metaclass=NaturalKeyModelBase):
    """Abstract model: set ``_natural_key = ('f1', 'f2')`` (and optionally ``_natural_manager_kwargs``)."""

    _natural_key: tuple[str, ...] = ()
    _natural_manager_kwargs: dict[str, Any] = {}
    if TYPE_CHECKING:
        objects: ClassVar[NaturalManager[Self]]

    class Meta:
        abstract = True

    def natural_key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._natural_key)


def find_by_natural_keys(
    model: type[models.Model], alias: str, keys: dict[str, tuple[Any, ...]]
) -> dict[str, Any]:
    """pks on ``alias`` of the objects with the given natural keys, by source pk.

    With a :class:`NaturalManager` the keys are looked up 500 at a time in one query each;
    other managers' ``get_by_natural_key`` is called per key. Raises ``SyncError`` when a
    key matches several objects and ``allow_many`` is not set.
    """
    manager = model._default_manager.db_manager(alias)
    fields = getattr(manager, "fields", None) if isinstance(manager, NaturalManager) else None
    allow_many = getattr(manager, "allow_many", False)
    found: dict[str, Any] = {}
    slow = dict(keys)
    if fields:
        plain = {
            p: k
            for p, k in keys.items()
            if all(isinstance(v, str | int) for v in k) and len(k) == len(fields)
        }
        unmatched_rows = False
        items = list(plain.items())
        for chunk in (items[i : i + 500] for i in range(0, len(items), 500)):
            query = Q()
            for _p, key in chunk:
                query |= Q(**dict(zip(fields, key)))
            by_key: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
            for pk, *values in manager.filter(query).order_by("pk").values_list("pk", *fields):
                by_key[tuple(values)].append(pk)
            matched = 0
            for p, key in chunk:
                hits = by_key.get(tuple(key))
                if hits:
                    matched += 1
                    if len(hits) > 1 and not allow_many:
                        raise SyncError(
                            _(
                                "%(model)s natural key %(key)r matches %(count)d objects on %(alias)r; "
                                "make it unique or use allow_many=True"
                            )
                            % {"model": model._meta.label, "key": key, "count": len(hits), "alias": alias}
                        )
                    found[p] = hits[0]
                    slow.pop(p, None)
            unmatched_rows = unmatched_rows or matched < len(by_key)
        if not unmatched_rows:
            for p in plain:
                slow.pop(p, None)
    for p, key in slow.items():
        try:
            found[p] = manager.get_by_natural_key(*key).pk
        except model.DoesNotExist:
            continue
        except MultipleObjectsReturned as exc:
            raise SyncError(
                _("%(model)s natural key %(key)r matches several objects on %(alias)r: %(error)s")
                % {"model": model._meta.label, "key": tuple(key), "alias": alias, "error": exc}
            ) from exc
    return found
