"""The model zoo the cacheops tests run against (no migrations: synced by the test runner)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import models


class Category(models.Model):
    title = models.CharField(max_length=128)

    def __str__(self) -> str:
        return self.title


class Post(models.Model):
    title = models.CharField(max_length=128)
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="posts")
    visible = models.BooleanField(default=True)
    author = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    rating = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.title


class Extra(models.Model):
    post = models.OneToOneField(Post, on_delete=models.CASCADE)
    tag = models.IntegerField(db_column="custom_column_name", unique=True)
    to_tag = models.ForeignKey("self", to_field="tag", null=True, on_delete=models.CASCADE)


class Label(models.Model):
    text = models.CharField(max_length=127)


class Brand(models.Model):
    name = models.CharField(max_length=127, default="")
    labels = models.ManyToManyField(Label, related_name="brands")


class LabelT(models.Model):
    text = models.CharField(max_length=127)


class BrandT(models.Model):
    labels = models.ManyToManyField(LabelT, related_name="brands", through="Labeling")


class Labeling(models.Model):
    brand = models.ForeignKey(BrandT, on_delete=models.CASCADE)
    label = models.ForeignKey(LabelT, on_delete=models.CASCADE)
    tag = models.IntegerField(default=0)


# Proxies and multi-table inheritance
class Video(models.Model):
    title = models.CharField(max_length=128)


class VideoProxy(Video):
    class Meta:
        proxy = True


class OtherVideoProxy(Video):
    class Meta:
        proxy = True


class Media(models.Model):
    name = models.CharField(max_length=128)


class Movie(Media):
    year = models.IntegerField()


# Custom manager
class PublishedManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(published=True)


class Article(models.Model):
    title = models.CharField(max_length=128)
    published = models.BooleanField(default=False)

    objects = models.Manager()
    published_objects = PublishedManager()


# JSON / binary / odd columns
class Document(models.Model):
    data = models.JSONField(default=dict)
    blob = models.BinaryField(default=b"")
    is_deleted = models.BooleanField(default=False)


# Profile specific models
class Local(models.Model):
    tag = models.IntegerField(null=True)


class CacheOnSaveModel(models.Model):
    title = models.CharField(max_length=32)


class DbAgnostic(models.Model):
    pass


class NotCached(models.Model):
    title = models.CharField(max_length=128)


class Weird(models.Model):
    date_field = models.DateField(null=True)
    datetime_field = models.DateTimeField(null=True)
    decimal_field = models.DecimalField(max_digits=10, decimal_places=2, null=True)
    uuid_field = models.UUIDField(null=True)
    custom = models.CharField(max_length=32, default="")
