import uuid

from django.db import models

from synchro import NaturalKeyModel, NaturalManager
from synchro.queryset import SynchroManager


class Tag(NaturalKeyModel):
    name = models.CharField(max_length=50, unique=True)
    _natural_key = ("name",)


class Author(models.Model):
    name = models.CharField(max_length=100)
    objects = SynchroManager()


class Book(models.Model):
    title = models.CharField(max_length=100)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    tags = models.ManyToManyField(Tag, blank=True, related_name="books")
    published = models.DateTimeField(null=True, blank=True)
    balance = models.IntegerField(default=0)

    SYNCHRO_SKIP = ("balance",)


class Event(models.Model):
    code = models.CharField(max_length=20)
    day = models.DateField()
    note = models.CharField(max_length=100, blank=True)
    objects = NaturalManager("code", "day")

    def natural_key(self):
        return self.code, self.day


class Person(models.Model):
    name = models.CharField(max_length=100)
    best_friend = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    friends = models.ManyToManyField("self", blank=True)


class Club(models.Model):
    name = models.CharField(max_length=100)
    members = models.ManyToManyField(Person, through="Membership", related_name="clubs")


class Membership(models.Model):
    club = models.ForeignKey(Club, on_delete=models.CASCADE)
    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    role = models.CharField(max_length=20, default="member")


class Item(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=100)


class Egg(models.Model):
    name = models.CharField(max_length=20)
    chicken = models.ForeignKey("Chicken", null=True, on_delete=models.SET_NULL, related_name="+")


class Chicken(models.Model):
    name = models.CharField(max_length=20)
    egg = models.ForeignKey(Egg, on_delete=models.CASCADE, related_name="+")


class Unwatched(models.Model):
    name = models.CharField(max_length=20)


# -- 0.7-style models (issue 15)


class Loud(models.Manager):
    def shout(self):
        return "LOUD"


class LoudNaturalManager(NaturalManager, Loud):
    """0.7's class-attribute form: the natural key fields are a class attribute."""

    fields = ("name",)


class Gadget(models.Model):
    name = models.CharField(max_length=20)
    note = models.CharField(max_length=20, blank=True)
    visits = models.IntegerField(default=0)
    objects = LoudNaturalManager()

    SYNCHRO_SKIP = ("visits",)

    def natural_key(self):
        return (self.name,)


class Widget(models.Model):
    name = models.CharField(max_length=20)
    note = models.CharField(max_length=20, blank=True)
    objects = NaturalManager("name", manager=Loud)  # the call form with an extra base

    def natural_key(self):
        return (self.name,)


class Part(models.Model):
    name = models.CharField(max_length=20)
    gadget = models.ForeignKey(Gadget, on_delete=models.CASCADE, related_name="parts")
    widget = models.ForeignKey(Widget, null=True, blank=True, on_delete=models.CASCADE, related_name="parts")


class Ledger(models.Model):
    """A primary key that is not an auto-increment, and a skipped field (0.7's PkModelWithSkip)."""

    code = models.CharField(max_length=10, primary_key=True)
    cash = models.IntegerField(default=0)
    visits = models.IntegerField(default=0)

    SYNCHRO_SKIP = ("visits",)


class Room(models.Model):
    """Not watched: reached only through Enrollment.room."""

    name = models.CharField(max_length=20)


class Course(models.Model):
    name = models.CharField(max_length=20)
    students = models.ManyToManyField(Person, through="Enrollment", related_name="courses")


class Enrollment(models.Model):
    """An explicit through model that is not watched, with an FK to an unwatched model."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE)
    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    room = models.ForeignKey(Room, on_delete=models.CASCADE)
    grade = models.IntegerField(default=0)
