"""Models covering the shapes django-cereal must handle."""

from __future__ import annotations

import uuid

from django.db import models

from django_cereal.methods import task_method


class Book(models.Model):
    title = models.CharField(max_length=100)
    pages = models.IntegerField(default=0)

    @task_method
    def retitle(self, suffix):
        """Runs in the worker on a freshly loaded Book."""
        self.title = f"{self.title}{suffix}"
        self.save(update_fields=["title"])
        return self.title

    @task_method(name="testapp.Book.describe_pickle", serializer="django-cereal-pickle")
    def describe(self):
        return {"title": self.title, "pages": self.pages}


class Author(models.Model):
    name = models.CharField(max_length=100)


class Token(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    label = models.CharField(max_length=50)


class Country(models.Model):
    code = models.CharField(max_length=2, primary_key=True)
    name = models.CharField(max_length=50)


class Place(models.Model):
    name = models.CharField(max_length=50)

    @task_method
    def kind(self):
        """Inherited by Restaurant: the worker gets the subclass instance."""
        return [type(self).__name__, self.name]


class Restaurant(Place):
    serves_pizza = models.BooleanField(default=False)


class BookProxy(Book):
    class Meta:
        proxy = True


class VisibleManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(hidden=False)


class Secret(models.Model):
    """A custom default manager that hides rows; references still find hidden rows."""

    text = models.CharField(max_length=50)
    hidden = models.BooleanField(default=False)

    visible = VisibleManager()
    objects = models.Manager()

    class Meta:
        default_manager_name = "visible"
