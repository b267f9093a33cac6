"""``ReferenceType``: a field pointing at another stored model, loaded when first used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schematics.exceptions import ConversionError
from schematics.types import BaseType

__all__ = ["Reference", "ReferenceType"]


class Reference:
    """A lazy pointer to a stored object: ``ref.pk`` needs no Redis call; attribute access,
    :meth:`load` and :meth:`aload` read the object once (by primary key) and keep it."""

    __slots__ = ("_model", "_obj", "pk")

    def __init__(self, model: Any, pk: str, obj: Any = None) -> None:
        self._model = model
        self.pk = pk
        self._obj = obj

    @property
    def loaded(self) -> bool:
        """Whether the target object has been read (or was given)."""
        return self._obj is not None

    def load(self) -> Any:
        """The referenced object. :raises NotFound: it is no longer stored."""
        if self._obj is None:
            self._obj = self._model.match_for_pk(self.pk)
        return self._obj

    async def aload(self) -> Any:
        """Async :meth:`load` (uses the target model's ``__async_redis_client__``)."""
        if self._obj is None:
            self._obj = await self._model.amatch_for_pk(self.pk)
        return self._obj

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.load(), name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Reference):
            return self._model is other._model and self.pk == other.pk
        if isinstance(other, self._model):
            return bool(self.pk == getattr(other, "__primary_key__", None))
        if isinstance(other, str):
            return self.pk == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.pk)

    def __repr__(self) -> str:
        return f"<Reference {self._model.__name__} {self.pk!r}>"


class ReferenceType(BaseType):
    """Stores the primary key of an object of ``model`` (a stored model class, or a zero-argument
    callable returning one, for references declared before the target class exists).

    Accepts a model instance (which must have a primary key: ``set()`` it first), a
    :class:`Reference` or a primary key string. Native value: a :class:`Reference`.
    """

    def __init__(self, model: type | Callable[[], type], **kwargs: Any) -> None:
        self._model_source = model
        super().__init__(**kwargs)

    @property
    def model(self) -> Any:
        """The referenced model class."""
        source = self._model_source
        if isinstance(source, type):
            return source
        return source()

    def to_native(self, value: Any, context: Any = None) -> Reference:
        model: Any = self.model
        if isinstance(value, Reference):
            return value
        if isinstance(value, model):
            pk = value.__primary_key__
            if pk is None:
                raise ConversionError(f"this {model.__name__} has no primary key yet: set() it first")
            return Reference(model, pk, value)
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return Reference(model, str(value))
        raise ConversionError(f"expected a {model.__name__}, a Reference or a primary key, got {value!r}")

    def to_primitive(self, value: Any, context: Any = None) -> str:
        return self.to_native(value).pk
