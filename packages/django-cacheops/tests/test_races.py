"""Concurrency: no stale store after a racing write, and the dog-pile lock."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from cacheops import cached_as
from tests.testapp.models import Category

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mode")]


def test_read_started_before_write_does_not_store_old_result(queries, monkeypatch):
    import cacheops.store

    cat = Category.objects.create(title="old")
    selected = threading.Event()
    written = threading.Event()
    result = []
    original_write = cacheops.store.write

    def write_after_the_racing_save(*args, **kwargs):
        # the reader has read "old" from the database but not stored it yet
        if threading.current_thread().name == "reader":
            selected.set()
            assert written.wait(10)
        return original_write(*args, **kwargs)

    monkeypatch.setattr(cacheops.store, "write", write_after_the_racing_save)

    def reader():
        try:
            result.append([c.title for c in Category.objects.filter(pk=cat.pk)])
        finally:
            connections.close_all()

    thread = threading.Thread(target=reader, name="reader")
    thread.start()
    assert selected.wait(10)
    cat.title = "new"
    cat.save()
    written.set()
    thread.join()
    assert result == [["old"]]
    with queries() as q:
        assert [c.title for c in Category.objects.filter(pk=cat.pk)] == ["new"]
    assert q.count == 1  # the old result was not stored


def test_dog_pile_lock(monkeypatch):
    import cacheops.store

    Category.objects.create(title="a")
    calls = []
    waiting = threading.Event()
    original_locked = cacheops.store._locked

    def locked(key):
        waiting.set()  # the second caller found the lock taken
        return original_locked(key)

    monkeypatch.setattr(cacheops.store, "_locked", locked)

    @cached_as(Category, lock=True)
    def heavy():
        calls.append(1)
        if len(calls) == 1:
            assert waiting.wait(10)
        return Category.objects.nocache().count()

    out = []

    def run():
        try:
            out.append(heavy())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    threads[0].start()
    while not calls:
        threading.Event().wait(0.01)
    threads[1].start()
    for t in threads:
        t.join()
    assert out == [1, 1]
    assert len(calls) == 1
