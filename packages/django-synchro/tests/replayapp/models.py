"""The schema of the replay tests (issue 20): every kind of identity and relation synchro replays.

Every model has an identity that survives the trip to REMOTE, so two databases can be compared
without the pk map: a natural key of one field (Country, Vet, Pet, Club) or of two (City), a UUID
primary key kept on both sides (Chip), or the pair of its foreign keys (Membership, the explicit
``through`` of Club.members, watched itself). The relations cover PROTECT, CASCADE and SET_NULL,
a self FK (Pet.parent), an automatic m2m (Club.countries) and unique fields that are not the key
(Vet.badge, Chip.serial).
"""

import decimal
import uuid

from django.db import models

from synchro import NaturalKeyModel, NaturalManager


class Country(NaturalKeyModel):
    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=50, blank=True)
    _natural_key = ("code",)

    def __str__(self):
        return self.code


class City(models.Model):
    name = models.CharField(max_length=30)
    zone = models.CharField(max_length=10)
    country = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="cities")
    objects = NaturalManager("name", "zone")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "zone"], name="replayapp_city_natural_key")]

    def __str__(self):
        return f"{self.name}/{self.zone}"

    def natural_key(self):
        return self.name, self.zone


class Vet(NaturalKeyModel):
    name = models.CharField(max_length=30, unique=True)
    badge = models.CharField(max_length=10, unique=True)
    since = models.DateTimeField(null=True, blank=True)
    _natural_key = ("name",)

    def __str__(self):
        return self.name


class Pet(NaturalKeyModel):
    name = models.CharField(max_length=30, unique=True)
    vet = models.ForeignKey(Vet, null=True, blank=True, on_delete=models.PROTECT, related_name="pets")
    city = models.ForeignKey(City, null=True, blank=True, on_delete=models.SET_NULL, related_name="pets")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    weight = models.DecimalField(max_digits=6, decimal_places=2, default=decimal.Decimal("1.00"))
    _natural_key = ("name",)

    def __str__(self):
        return self.name


class Chip(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    serial = models.CharField(max_length=20, unique=True)
    pet = models.ForeignKey(Pet, on_delete=models.CASCADE, related_name="chips")
    data = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return self.serial


class Club(NaturalKeyModel):
    name = models.CharField(max_length=30, unique=True)
    countries = models.ManyToManyField(Country, blank=True, related_name="clubs")
    members = models.ManyToManyField(Pet, through="Membership", blank=True, related_name="clubs")
    _natural_key = ("name",)

    def __str__(self):
        return self.name


class Membership(models.Model):
    club = models.ForeignKey(Club, on_delete=models.CASCADE)
    pet = models.ForeignKey(Pet, on_delete=models.CASCADE)
    role = models.CharField(max_length=20, default="member")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["club", "pet"], name="replayapp_membership_pair")]

    def __str__(self):
        return f"{self.club}:{self.pet}"
