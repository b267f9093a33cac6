"""The schema of the differential test (tests/test_differential.py): every kind of relation and
every ``on_delete`` Django offers, kept apart from the shared test app.

    Publisher <-SET_NULL- Book.publisher        Publisher <-SET_DEFAULT- Book.printer
    Series <-SET(house series)- Book.series     Author <-CASCADE- Book.author
    Author <-SET_NULL- Author.mentor (self)     Author <-CASCADE- Profile.author (one-to-one)
    Book <-m2m (auto)-> Tag                     Book <-m2m (through Loan)-> Reader
    Book <-CASCADE- Chapter.book                Reader <-PROTECT- Chapter.editor
    Book <- Ebook (multi-table inheritance)     CheapBook (proxy of Book)
"""

from __future__ import annotations

from django.db import models

HOUSE_SERIES = "house"


class Publisher(models.Model):
    name = models.CharField(max_length=20)


class Series(models.Model):
    name = models.CharField(max_length=20)


def house_series() -> Series:
    """Where books of a deleted series go (``on_delete=SET(house_series)``)."""
    return Series.objects.nocache().get_or_create(name=HOUSE_SERIES)[0]


class Author(models.Model):
    name = models.CharField(max_length=20)
    rank = models.IntegerField(default=0)
    mentor = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="pupils"
    )


class Profile(models.Model):
    author = models.OneToOneField(Author, on_delete=models.CASCADE, related_name="profile")
    score = models.IntegerField(default=0)


class Tag(models.Model):
    name = models.CharField(max_length=20)


class Reader(models.Model):
    name = models.CharField(max_length=20)


class Book(models.Model):
    title = models.CharField(max_length=20)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    publisher = models.ForeignKey(
        Publisher, null=True, blank=True, on_delete=models.SET_NULL, related_name="books"
    )
    printer = models.ForeignKey(
        Publisher, null=True, blank=True, default=None, on_delete=models.SET_DEFAULT, related_name="printed"
    )
    series = models.ForeignKey(
        Series, null=True, blank=True, on_delete=models.SET(house_series), related_name="books"
    )
    price = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    ratio = models.FloatField(default=0.0)
    data = models.JSONField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="books")
    readers = models.ManyToManyField(Reader, blank=True, through="Loan", related_name="books")


class Loan(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    reader = models.ForeignKey(Reader, on_delete=models.CASCADE)
    days = models.IntegerField(default=7)


class Chapter(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="chapters")
    number = models.IntegerField(default=1)
    editor = models.ForeignKey(Reader, null=True, blank=True, on_delete=models.PROTECT, related_name="edited")


class Ebook(Book):
    size = models.IntegerField(default=0)


class CheapBookManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(price__lt=10)


class CheapBook(Book):
    """A proxy with a manager of its own (only books under 10)."""

    objects = CheapBookManager()

    class Meta:
        proxy = True
