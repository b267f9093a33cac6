from __future__ import annotations

import datetime

from django.db import models

from synchro import NaturalKeyModel, NaturalManager


class Event(models.Model):
    # Annotated for pyright, which has no django-stubs plugin to infer field types.
    code: models.CharField[str, str] = models.CharField(max_length=20)
    day: models.DateField[datetime.date, datetime.date] = models.DateField()

    objects = NaturalManager("code", "day")

    def __str__(self) -> str:
        return f"{self.code} on {self.day}"

    def natural_key(self) -> tuple[str, datetime.date]:
        return self.code, self.day


class Tag(NaturalKeyModel):
    name: models.CharField[str, str] = models.CharField(max_length=50, unique=True)

    _natural_key = ("name",)

    def __str__(self) -> str:
        return self.name
