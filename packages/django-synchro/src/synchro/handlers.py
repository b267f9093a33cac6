# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="union-attr,attr-defined,index"
"""Signal receivers that write the change log, and the switch that turns logging off.

Logging adds one INSERT per change, written with a prepared statement on the
connection the object was saved to, so it joins the caller's transaction. A save in
autocommit mode would otherwise be two transactions (two commits, two disk syncs on
SQLite): watched models' ``save_base`` opens one transaction that the log INSERT
commits, so the row and its log entry are written together, at the cost of one commit.
"""

from __future__ import annotations

import contextvars
import datetime
import functools
import json
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import ContextDecorator
from typing import Any, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, models, router, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from .models import ADDITION, CHANGE, DELETION, M2M_CHANGE, ChangeLog
from .schema import field_named, through_model
from .settings import synchro_settings

__all__ = [
    "ADDITION",
    "CHANGE",
    "DELETION",
    "M2M_CHANGE",
    "DisableSynchroLog",
    "disable_synchro_log",
    "logging_enabled",
    "write_logs",
]

_disabled: contextvars.ContextVar[int] = contextvars.ContextVar("synchro_log_disabled", default=0)


class DisableSynchroLog(ContextDecorator):
    """Inside this block (or decorated function) no change is logged.

    Nesting is counted, so an inner block never turns logging back on early, and the
    state belongs to the current thread / asyncio task only.
    """

    def __init__(self) -> None:
        self._tokens: list[contextvars.Token[int]] = []

    def __enter__(self) -> DisableSynchroLog:
        self._tokens.append(_disabled.set(_disabled.get() + 1))
        return self

    def __exit__(self, *exc: object) -> None:
        _disabled.reset(self._tokens.pop())

    def _recreate_cm(self) -> DisableSynchroLog:
        # Each call of a decorated function gets its own block, so threads never share tokens.
        return type(self)()


_F = TypeVar("_F", bound=Callable[..., Any])


def disable_synchro_log(func: _F) -> _F:
    """Decorator form of :class:`DisableSynchroLog`."""
    return DisableSynchroLog()(func)


def logging_enabled() -> bool:
    return _disabled.get() == 0


# A log row is (model, object_id, action, date) or, with a natural key, those and natural_key;
# a row without one leaves the column out (NULL), which binds one value less on every save.
_COLUMNS = ("model", "object_id", "action", "date", "natural_key")
_SQL: dict[tuple[str, bool, int], str] = {}  # (vendor, native, columns) -> the INSERT


def _insert_sql(connection: Any, native: bool, columns: int) -> str:
    """The log INSERT of the first ``columns`` columns, with Django's ``%s`` placeholders or
    the driver's own (``native``)."""
    key = (connection.vendor, native, columns)
    sql = _SQL.get(key)
    if sql is None:
        qn = connection.ops.quote_name
        names = ", ".join(qn(c) for c in _COLUMNS[:columns])
        mark = "?" if native and connection.Database.paramstyle == "qmark" else "%s"
        sql = f"INSERT INTO {qn(ChangeLog._meta.db_table)} ({names}) VALUES ({', '.join([mark] * columns)})"
        _SQL[key] = sql
    return sql


def natural_key_of(instance: models.Model) -> list[Any] | None:
    """The instance's natural key as a JSON-ready list, or None when it has none."""
    method = getattr(instance, "natural_key", None)
    if method is None:
        return None
    try:
        key = method()
    except Exception:  # a natural key that needs already-deleted rows
        return None
    if not isinstance(key, (list, tuple)):
        key = (key,)
    return json.loads(json.dumps(list(key), cls=DjangoJSONEncoder))


_second: tuple[int, str] = (-1, "")  # a UTC second and its text, "YYYY-MM-DD HH:MM:SS"


def utc_text(ns: int) -> str:
    """``str()`` of the naive UTC datetime ``ns`` nanoseconds after the epoch.

    That is what Django writes for an aware datetime to SQLite and to MySQL when the
    connection's time zone is UTC. Microseconds are floored, as ``datetime.now()``
    floors them. Logged saves come many to a second, so each second's text is made once.
    """
    global _second
    second, rest = divmod(ns, 1_000_000_000)
    cached, text = _second
    if second != cached:
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        _second = (second, text)
    micro = rest // 1000
    return text + "." + str(micro).zfill(6) if micro else text


def log_date(connection: Any) -> Any:
    """``timezone.now()`` as the log's ``date`` column is written on ``connection``.

    The same as ``connection.ops.adapt_datetimefield_value(timezone.now())``, which every
    logged save pays for. The common case is done directly from the clock: SQLite or MySQL
    (datetimes stored as text) with ``USE_TZ`` on and the connection in UTC, which is when
    Django's ``connection.timezone`` is ``datetime.timezone.utc`` (it is None without
    ``USE_TZ``; reading that is much cheaper than reading ``settings.USE_TZ``).
    """
    if connection.timezone is datetime.timezone.utc and connection.vendor in ("sqlite", "mysql"):
        return utc_text(time.time_ns())
    return connection.ops.adapt_datetimefield_value(timezone.now())


def write_logs(
    using: str,
    model: type[models.Model],
    object_ids: Iterable[Any],
    action: int,
    natural_keys: dict[Any, list[Any] | None] | None = None,
) -> None:
    """Append log entries for ``object_ids`` of ``model`` on database ``using``."""
    connection = connections[using]
    label = model._meta.label_lower
    date = log_date(connection)
    rows: list[tuple[Any, ...]]
    if natural_keys:
        key_field = ChangeLog._meta.get_field("natural_key")
        rows = []
        for object_id in object_ids:
            key = natural_keys.get(object_id)
            key_value = key_field.get_db_prep_save(key, connection) if key is not None else None
            rows.append((label, str(object_id), action, date, key_value))
    else:
        rows = [(label, str(object_id), action, date) for object_id in object_ids]
    if rows:
        _insert(connection, rows)


def _insert(connection: Any, rows: list[tuple[Any, ...]]) -> None:
    """INSERT log ``rows`` (all of one length: 4 columns, or 5 with the natural key)."""
    raw = connection.connection
    if raw is None or connection.queries_logged or connection.execute_wrappers:
        # Django's cursor connects when needed, and keeps recorded or instrumented queries.
        with connection.cursor() as cursor:
            cursor.executemany(_insert_sql(connection, False, len(rows[0])), rows)
        return
    # The hot path: one INSERT on the driver's cursor; errors are mapped to Django's as its
    # cursor maps them (the mapping is only entered when there is an error to map).
    sql = _SQL.get((connection.vendor, True, len(rows[0]))) or _insert_sql(connection, True, len(rows[0]))
    cursor = raw.cursor()
    try:
        if len(rows) == 1:
            cursor.execute(sql, rows[0])
        else:
            cursor.executemany(sql, rows)
    except Exception:
        with connection.wrap_database_errors:
            raise
    finally:
        cursor.close()


class _OpenSave:
    """The transaction a watched model's ``save_base`` opened in autocommit mode."""

    __slots__ = ("atomic",)

    def __init__(self, using: str) -> None:
        self.atomic: Any = transaction.atomic(using=using)

    def close(self, exc_info: Any = (None, None, None)) -> None:
        atomic, self.atomic = self.atomic, None
        if atomic is not None:
            atomic.__exit__(*exc_info)


# The watched model's save in progress in this thread / task: (instance, its connection, the
# transaction the save opened or None). The post_save receiver takes the connection from it
# rather than looking it up a second time (``connections[alias]`` is not free).
_current_save: contextvars.ContextVar[tuple[models.Model, Any, _OpenSave | None] | None] = (
    contextvars.ContextVar("synchro_current_save", default=None)
)


def _one_commit(save_base):
    """Wrap ``Model.save_base`` so that, in autocommit mode, the save and its log INSERT commit once.

    The transaction opens just before the save and commits right after synchro's
    ``post_save`` receiver wrote the log entry (or when the save ends, whichever
    comes first); an exception before that rolls both back. Inside a transaction
    (``atomic``) nothing changes.
    """

    @functools.wraps(save_base)
    def wrapper(self, raw=False, force_insert=False, force_update=False, using=None, update_fields=None):
        using = using or router.db_for_write(self.__class__, instance=self)
        if _disabled.get():
            return save_base(self, raw, force_insert, force_update, using, update_fields)
        connection = connections[using]
        opened = None
        if not connection.in_atomic_block and connection.get_autocommit():
            opened = _OpenSave(using)
            opened.atomic.__enter__()
        token = _current_save.set((self, connection, opened))
        try:
            result = save_base(self, raw, force_insert, force_update, using, update_fields)
        except BaseException:
            if opened is not None:
                opened.close(sys.exc_info())
            raise
        finally:
            _current_save.reset(token)
        if opened is not None:
            opened.close()
        return result

    return wrapper


def on_post_save(sender, instance, created, using, **kwargs) -> None:
    if _disabled.get():
        return
    model = sender._meta.concrete_model
    label = synchro_settings.watched_label(model)
    if label is None and model not in _through_owners:
        return
    current = _current_save.get()
    if current is None or current[0] is not instance or current[1].alias != using:
        current = None  # a save that did not pass through the wrapper (or another one's)
    if label is not None:  # the hot path of every logged save: one row, no natural key
        connection = connections[using] if current is None else current[1]
        action = ADDITION if created else CHANGE
        _insert(connection, [(label, str(instance.pk), action, log_date(connection))])
    else:
        _log_owners(model, instance, using)
    if current is not None and current[2] is not None:
        current[2].close()  # commit the row and its log entry; later receivers run as before


def on_post_delete(sender, instance, using, **kwargs) -> None:
    if _disabled.get():
        return
    model = sender._meta.concrete_model
    if synchro_settings.is_watched(model):
        write_logs(using, model, [instance.pk], DELETION, {instance.pk: natural_key_of(instance)})
    elif model in _through_owners:
        _log_owners(model, instance, using)


# Explicit through models of watched models' m2m fields, not watched themselves: saving or
# deleting one of their rows changes the relation of the object it belongs to, which is logged.
# through model -> [(owner model, FK to the owner, the other FK when the relation is symmetrical)]
_through_owners: dict[type[models.Model], list[tuple[type[models.Model], str, str | None]]] = {}


def _log_owners(through: type[models.Model], row: models.Model, using: str) -> None:
    for owner, attname, other in _through_owners[through]:
        ids = [getattr(row, attname)] + ([getattr(row, other)] if other else [])
        write_logs(using, owner, [pk for pk in ids if pk is not None], M2M_CHANGE)


def _find_through_owners(watched: Iterable[type[models.Model]]) -> None:
    _through_owners.clear()
    for model in watched:
        for field in model._meta.many_to_many:
            through = through_model(field)
            if through._meta.auto_created or synchro_settings.is_watched(through):
                continue
            own = field_named(through, field.m2m_field_name()).attname
            symmetrical = field.remote_field.symmetrical and field.remote_field.model in ("self", model)
            other = field_named(through, field.m2m_reverse_field_name()).attname if symmetrical else None
            _through_owners.setdefault(through, []).append((model, own, other))


def _m2m_field(owner: type[models.Model], through: type[models.Model]):
    for field in owner._meta.many_to_many:
        if field.remote_field.through is through:
            return field
    return None


def on_m2m_changed(sender, instance, action, reverse, model, pk_set, using, **kwargs) -> None:
    """Log the objects that own the changed m2m relation (the side the field is declared on).

    A watched explicit ``through`` model is synchronized as a model of its own: ``add()`` and
    ``set()`` create its rows with ``bulk_create`` (no ``post_save``), so they are logged here;
    ``remove()`` and ``clear()`` delete them one by one (their ``post_delete`` logs them).
    """
    if _disabled.get() or action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not sender._meta.auto_created and synchro_settings.is_watched(sender._meta.concrete_model):
        if action == "post_add" and pk_set:
            _log_through_rows(sender, instance, reverse, model, pk_set, using)
        return
    owner = model if reverse else type(instance)
    if not synchro_settings.is_watched(owner):
        return
    field = _m2m_field(owner, sender)
    if field is None:
        return
    symmetrical = field.remote_field.symmetrical and field.remote_field.model in ("self", owner)
    if action == "pre_clear" and (reverse or symmetrical):
        # The clear has not happened yet: read which pairs it will remove.
        column = field.m2m_field_name() if reverse else field.m2m_reverse_field_name()
        key = field.m2m_reverse_field_name() if reverse else field.m2m_field_name()
        pk_set = set(
            sender._base_manager.using(using).filter(**{key: instance.pk}).values_list(column, flat=True)
        )
    ids: list[Any] = []
    if not reverse:
        ids.append(instance.pk)
    if (reverse or symmetrical) and pk_set:
        ids.extend(pk for pk in pk_set if reverse or pk != instance.pk)
    write_logs(using, owner, ids, M2M_CHANGE)


def _log_through_rows(sender, instance, reverse: bool, model, pk_set, using: str) -> None:
    """Log the rows of a watched ``through`` model that ``add()`` has just created."""
    owner = model if reverse else type(instance)
    field = _m2m_field(owner, sender)
    if field is None:
        return
    own, other = field.m2m_field_name(), field.m2m_reverse_field_name()
    if reverse:
        own, other = other, own
    rows = sender._base_manager.using(using).filter(**{own: instance.pk, f"{other}__in": list(pk_set)})
    symmetrical = field.remote_field.symmetrical and field.remote_field.model in ("self", owner)
    if symmetrical:  # add() wrote both directions
        rows = rows | sender._base_manager.using(using).filter(
            **{other: instance.pk, f"{own}__in": list(pk_set)}
        )
    write_logs(using, sender._meta.concrete_model, list(rows.values_list("pk", flat=True)), ADDITION)


_connected: set[type[models.Model]] = set()


def connect_watched() -> None:
    """Connect the delete and m2m receivers to the watched models (and their m2m tables) only.

    A receiver for every model would stop Django from fast-deleting unwatched models.
    Re-run whenever ``SYNCHRO_MODELS`` changes.
    """
    try:
        watched = synchro_settings.MODELS
    except Exception:  # reported by the system checks
        watched = ()
    _find_through_owners(watched)
    _wrap_saves(set(watched) | set(_through_owners))
    senders: dict[type[models.Model], bool] = {}  # sender -> whether its deletions are logged
    for model in watched:
        senders[model] = True
        for field in model._meta.many_to_many:
            senders.setdefault(through_model(field), False)
        for relation in model._meta.related_objects:
            if relation.many_to_many and relation.through is not None:
                senders.setdefault(relation.through, False)
    for through in _through_owners:
        senders[through] = True
    for sender in _connected - set(senders):
        post_delete.disconnect(sender=sender, dispatch_uid=f"synchro.post_delete.{sender._meta.label}")
        m2m_changed.disconnect(sender=sender, dispatch_uid=f"synchro.m2m.{sender._meta.label}")
        _connected.discard(sender)
    for sender, deletions in senders.items():
        uid = f"synchro.post_delete.{sender._meta.label}"
        if deletions:
            post_delete.connect(on_post_delete, sender=sender, dispatch_uid=uid)
        else:
            post_delete.disconnect(sender=sender, dispatch_uid=uid)
        m2m_changed.connect(on_m2m_changed, sender=sender, dispatch_uid=f"synchro.m2m.{sender._meta.label}")
        _connected.add(sender)


_wrapped: set[type[models.Model]] = set()


def _wrap_saves(watched: set[type[models.Model]]) -> None:
    """Give exactly the models whose saves are logged the one-commit ``save_base``."""
    for model in _wrapped - watched:
        original = model.__dict__["save_base"]._synchro_wrapped
        if original is None:
            del model.save_base
        else:
            model.save_base = original  # type: ignore[method-assign]
        _wrapped.discard(model)
    for model in watched - _wrapped:
        own = model.__dict__.get("save_base")
        wrapper = _one_commit(own or model.save_base)
        wrapper._synchro_wrapped = own  # restored when the model is no longer watched
        model.save_base = wrapper  # type: ignore[method-assign]
        _wrapped.add(model)


def install() -> None:
    """Connect the receivers (idempotent; called from ``AppConfig.ready``)."""
    post_save.connect(on_post_save, dispatch_uid="synchro.post_save")
    connect_watched()
