"""The model zoo the cacheops tests run against (no migrations: synced by the test runner)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import models
from django.db.models.signals import post_save


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


# Reverse one-to-one (nullable, SET_NULL)
class Foo(models.Model):
    pass


class Bar(models.Model):
    foo = models.OneToOneField(Foo, null=True, blank=True, on_delete=models.SET_NULL, related_name="bar")


class Gauge(models.Model):
    ratio = models.FloatField(default=0.0)


# A post_save receiver connected when the models are imported, before cacheops' own (its app is
# ready later): it reads the saved row through the cache and notes what it saw.
class Switch(models.Model):
    on = models.BooleanField(default=False)


SWITCH_SEEN: list[bool] = []


def _note_switch(sender: type, instance: Switch, created: bool, **kwargs: object) -> None:
    if not created:
        SWITCH_SEEN.append(Switch.objects.cache().get(pk=instance.pk).on)


post_save.connect(_note_switch, sender=Switch)
