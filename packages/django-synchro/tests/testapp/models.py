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
