"""Tasks the real worker runs in the tests; they return plain data describing what they received."""

from __future__ import annotations

from celery import shared_task
from django.db import models

from django_cereal.json import DJANGO_CEREAL_JSON
from django_cereal.json import task as json_task
from django_cereal.pickle import DJANGO_CEREAL_PICKLE, task
from django_cereal.references import Reference


def describe(value):
    """JSON-friendly description of an argument as the task sees it."""
    if isinstance(value, models.Model):
        fields = {
            f.attname: str(getattr(value, f.attname))
            for f in value._meta.concrete_fields
            if not f.primary_key or f.attname == "id"
        }
        return {
            "model": value._meta.label,
            "pk": str(value.pk),
            "db": value._state.db,
            "fields": fields,
            "id": id(value),
        }
    if isinstance(value, Reference):
        return {"unresolved": repr(value)}
    if isinstance(value, dict):
        return {"dict": [[describe(k), describe(v)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"set": sorted((describe(v) for v in value), key=repr)}
    if isinstance(value, tuple):
        return {"tuple": [describe(v) for v in value]}
    if isinstance(value, list):
        return {"list": [describe(v) for v in value]}
    if value is None:
        return None
    return {"value": repr(value)}


@task(serializer=DJANGO_CEREAL_PICKLE, name="cereal.echo_pickle")
def echo_pickle(*args, **kwargs):
    return {"args": [describe(a) for a in args], "kwargs": {k: describe(v) for k, v in kwargs.items()}}


@json_task(name="cereal.echo_json")
def echo_json(*args, **kwargs):
    return {"args": [describe(a) for a in args], "kwargs": {k: describe(v) for k, v in kwargs.items()}}


@shared_task(name="cereal.echo_plain")
def echo_plain(*args, **kwargs):
    """A task with no serializer of its own (the app's default: json)."""
    return {"args": [describe(a) for a in args], "kwargs": {k: describe(v) for k, v in kwargs.items()}}


@shared_task(serializer=DJANGO_CEREAL_JSON, name="cereal.echo_app_task")
def echo_app_task(book):
    """Declared the documented way, ``@app.task(serializer=...)``, not through django-cereal's decorator."""
    return describe(book)


@task
def bare_task(book):
    return book.title


@task()
def called_task(book):
    return book.title


@task(name="cereal.bound", bind=True, serializer=DJANGO_CEREAL_JSON)
def bound_task(self, book):
    return {"task": self.name, "title": book.title, "serializer": self.serializer}


@json_task(name="cereal.missing_none", cereal_missing="none")
def missing_none(book, other=None):
    return {"book": describe(book), "other": describe(other)}


@json_task(name="cereal.missing_skip", cereal_missing="skip")
def missing_skip(book):
    return book.title


@json_task(name="cereal.count_queries")
def count_queries_task(books):
    """Run inside the worker: how many queries did loading the arguments take? (recorded by a signal)"""
    return len(books)


@json_task(name="cereal.rename", bind=True, max_retries=1)
def rename_then_retry(self, book):
    """First run: rename the row behind the task's back and retry; second run must see the new title."""
    if self.request.retries == 0:
        type(book).objects.filter(pk=book.pk).update(title="renamed before retry")
        raise self.retry(countdown=0)
    return book.title


@task(name="cereal.depth")
def depth(nested):
    """Walk a deeply nested list without recursion: how deep, and the title of the book at the bottom."""
    levels = 0
    while isinstance(nested, list):
        nested = nested[0]
        levels += 1
    return [levels, nested.title]
