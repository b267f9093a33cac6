from __future__ import annotations

from django.db import models

from django_cereal.methods import task_method


class Book(models.Model):
    title: models.CharField[str, str] = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.title

    @task_method
    def retitle(self, suffix: str) -> str:
        self.title = f"{self.title}{suffix}"
        self.save(update_fields=["title"])
        return self.title

    @task_method(name="shelf.Book.pages", serializer="django-cereal-pickle")
    def pages(self, first: int, last: int = 0) -> int:
        return last - first
