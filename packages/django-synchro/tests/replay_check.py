"""REMOTE compared with LOCAL as a user compares them (the replay tests of issue 20).

A snapshot of one database holds every row of tests/replayapp by its identity (natural key,
UUID primary key, or for Membership the identities of its two ends), with foreign keys given as
their target's identity and automatic m2m relations as sets; database pks never appear, so a
LOCAL and a REMOTE snapshot are equal exactly when the two databases hold the same data.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.db import connections, models, transaction
from django.test import override_settings

from synchro import DisableSynchroLog, call_synchronize
from tests.replay_pairs import PAIRS, UNAVAILABLE

# model name -> the fields that identify a row on both sides (an FK stands for its target's identity)
IDENTITY = {
    "country": ("code",),
    "city": ("name", "zone"),
    "vet": ("name",),
    "pet": ("name",),
    "chip": ("id",),
    "club": ("name",),
    "membership": ("club", "pet"),
}

Snapshot = dict[str, dict[Any, Any]]


def replay_models() -> list[type[models.Model]]:
    return list(apps.get_app_config("replayapp").get_models())


def snapshot(alias: str) -> Snapshot:
    """Every replayapp row of ``alias`` as ``{model: {identity: values}}`` (see the module doc)."""
    rows = {model: {row["pk_"]: row for row in _values(model, alias)} for model in replay_models()}

    def identity(model: type[models.Model], pk: Any) -> Any:
        row = rows[model].get(pk)
        if row is None:
            return ("dangling", model._meta.model_name, pk)
        parts = []
        for name in IDENTITY[model._meta.model_name]:
            field = model._meta.get_field(name)
            value = row[field.attname]
            parts.append(identity(field.related_model, value) if field.is_relation else value)
        return tuple(parts) if len(parts) > 1 else parts[0]

    result: Snapshot = {}
    for model, by_pk in rows.items():
        m2m = {
            f.name: _pairs(f, alias)
            for f in model._meta.many_to_many
            if f.remote_field.through._meta.auto_created
        }
        table: dict[Any, Any] = {}
        for pk, row in by_pk.items():
            values: dict[str, Any] = {}
            for field in model._meta.concrete_fields:
                if field.primary_key and field.name not in IDENTITY[model._meta.model_name]:
                    continue
                value = row[field.attname]
                if field.is_relation and value is not None:
                    value = identity(field.related_model, value)
                values[field.name] = value
            for name, (field, pairs) in m2m.items():
                values[name] = frozenset(identity(field.related_model, b) for a, b in pairs if a == pk)
            key = identity(model, pk)
            while key in table:  # two rows with one identity: keep both, visibly
                key = ("duplicate", key)
            table[key] = values
        result[model._meta.model_name] = table
    return result


def _values(model: type[models.Model], alias: str) -> list[dict[str, Any]]:
    names = [f.attname for f in model._meta.concrete_fields]
    return [
        {"pk_": row[model._meta.pk.attname], **row} for row in model._base_manager.using(alias).values(*names)
    ]


def _pairs(field: models.ManyToManyField, alias: str) -> tuple[models.ManyToManyField, list[tuple[Any, Any]]]:
    through = field.remote_field.through
    src = through._meta.get_field(field.m2m_field_name()).attname
    dst = through._meta.get_field(field.m2m_reverse_field_name()).attname
    return field, list(through._base_manager.using(alias).values_list(src, dst))


def differences(local: Snapshot, remote: Snapshot) -> list[str]:
    """What REMOTE lacks, has in excess or holds differently, one line per row."""
    lines = []
    for model in sorted(local.keys() | remote.keys()):
        mine, theirs = local.get(model, {}), remote.get(model, {})
        for key in sorted(mine.keys() - theirs.keys(), key=repr):
            lines.append(f"{model} {key!r}: missing on REMOTE (LOCAL has {mine[key]!r})")
        for key in sorted(theirs.keys() - mine.keys(), key=repr):
            lines.append(f"{model} {key!r}: only on REMOTE ({theirs[key]!r})")
        for key in sorted(mine.keys() & theirs.keys(), key=repr):
            if mine[key] != theirs[key]:
                changed = {
                    k: (v, theirs[key].get(k)) for k, v in mine[key].items() if theirs[key].get(k) != v
                }
                lines.append(f"{model} {key!r}: LOCAL vs REMOTE {changed!r}")
    return lines


@dataclass(frozen=True)
class Pair:
    """LOCAL and REMOTE aliases of one database pair, e.g. ``sqlite-postgresql``."""

    name: str
    local: str
    remote: str


@contextmanager
def using_pair(name: str) -> Iterator[Pair]:
    local, remote = PAIRS[name]
    with override_settings(SYNCHRO_LOCAL=local, SYNCHRO_REMOTE=remote):
        yield Pair(name, local, remote)


def pair_params(failing: frozenset[str] | set[str] = frozenset(), reason: str = "") -> list[Any]:
    """``pytest.param`` per pair: this session's pairs, xfail(strict) where ``failing``, and the
    pairs this session should offer but cannot (skipped, naming why)."""
    params = []
    for name in PAIRS:
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if name in failing else []
        params.append(pytest.param(name, marks=marks, id=name))
    for name, why in UNAVAILABLE.items():
        params.append(pytest.param(name, marks=pytest.mark.skip(reason=why), id=name))
    return params


def replay_databases() -> list[str]:
    """Every alias a replay test may touch in this session (``default`` keeps dbsettings' values)."""
    return sorted({"default", "remote", *(alias for pair in PAIRS.values() for alias in pair)})


def assert_replayed(pair: Pair) -> Snapshot:
    """Synchronize; REMOTE must equal LOCAL, and a second synchronization must change nothing."""
    summary = call_synchronize()
    assert summary.failed == 0, summary.errors
    remote = snapshot(pair.remote)
    diff = differences(snapshot(pair.local), remote)
    assert not diff, f"after a sync on {pair.name}, REMOTE differs from LOCAL:\n" + "\n".join(diff)
    again = call_synchronize()
    assert (again.added, again.changed, again.deleted, again.failed) == (0, 0, 0, 0), again
    diff = differences(remote, snapshot(pair.remote))
    assert not diff, "a second sync changed REMOTE:\n" + "\n".join(diff)
    return remote


def wipe(aliases: list[str]) -> None:
    """Delete every row of replayapp, synchro and dbsettings on ``aliases`` (one commit each)."""
    own = [m for app in ("synchro", "dbsettings") for m in apps.get_app_config(app).get_models()]
    # Referrers first, so a database that checks foreign keys at once (MariaDB) never objects.
    order = ["membership", "chip", "pet", "vet", "club", "city", "country"]
    replay = sorted(replay_models(), key=lambda m: order.index(m._meta.model_name))
    with DisableSynchroLog():
        for alias in aliases:
            with transaction.atomic(using=alias):
                for model in [*replay, *own]:
                    if not model._meta.proxy:
                        model._base_manager.using(alias).all().delete()


def _no_disk_sync(alias: str) -> None:
    """Let this connection's commits skip the wait for the disk (SQLite, PostgreSQL).

    Only durability after a crash of the machine changes: what a COMMIT checks, and what other
    connections then see, stay the same. Without it the fuzzing spends its time in fsync.
    """
    connection = connections[alias]
    statement = {"sqlite": "PRAGMA synchronous = OFF", "postgresql": "SET synchronous_commit TO OFF"}
    if connection.vendor in statement:
        with connection.cursor() as cursor:
            cursor.execute(statement[connection.vendor])


def committed(test: Callable[..., None]) -> Callable[..., None]:
    """Run the test in a thread of its own, on fresh connections in autocommit mode.

    pytest-django wraps a test in one transaction per database, in which nothing ever commits:
    a REMOTE that checks foreign keys at COMMIT (SQLite, PostgreSQL) would never object, and
    synchro's own transactions would only be savepoints. The test's thread has its own
    connections, so every ORM call and every batch of a synchronization commits as in a user's
    process; the databases are wiped before and after. (The test keeps its
    ``django_db(databases=...)`` mark, which creates the test databases; its own transactions
    stay empty and are rolled back.) Commits do not wait for the disk (see ``_no_disk_sync``).
    """

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        aliases = replay_databases()
        failure: list[BaseException] = []

        def body() -> None:
            try:
                for alias in aliases:
                    _no_disk_sync(alias)
                wipe(aliases)
                test(*args, **kwargs)
            except BaseException as exc:  # handed to the test's own thread below
                failure.append(exc)
            finally:
                try:
                    wipe(aliases)
                finally:
                    connections.close_all()

        thread = threading.Thread(target=body, name=f"committed-{test.__name__}")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]

    return wrapper
