from __future__ import annotations

from typing import ClassVar

from django.db import models

from cacheops import CacheopsManager


class Article(models.Model):
    # Annotated for pyright, which has no django-stubs plugin to infer field types.
    title: models.CharField[str, str] = models.CharField(max_length=200)
    tag: models.IntegerField[int, int] = models.IntegerField(default=0)
    published: models.BooleanField[bool, bool] = models.BooleanField(default=False)

    # cache(), nocache() and invalidated_update() exist on every manager and queryset at run
    # time; declaring the manager shows them to type checkers too (see the README, "Typing").
    objects: ClassVar[CacheopsManager[Article]] = CacheopsManager()

    def __str__(self) -> str:
        return self.title
