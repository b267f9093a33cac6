"""Benchmark (issue 20): an incremental sync of 10,000 mixed changes, in rows/s (SQLite files).

The schema is the one of the replay tests (tests/replayapp: natural keys of one and two fields,
unique fields, PROTECT/CASCADE/SET_NULL FKs, a self FK, a UUID pk, an automatic and a watched
explicit-through m2m). A population of about 6,000 objects is synchronized first; then LOCAL
makes 10,000 ordinary ORM changes through Django's signals (updates, FK moves, creates, deletes
with their cascades, m2m adds and removes, Membership rows, renames to fresh unique values) and
one ``call_synchronize()`` sends them. The changes avoid the shapes that fail before the
order-faithful replay (no unique value or natural key passed between objects, no object deleted
after an FK moved off it, no ``members.add()``), so the same workload runs before and after it.

Times are CPU seconds of this process (``time.process_time``), best of ``SYNCHRO_BENCH_ROUNDS``
rounds (default 3), each the same workload on emptied databases. Printed: the incremental sync
in changes/s and log entries/s, and two baselines measured in the same round: the time LOCAL
took to make the changes (the sync's cost per change relative to making it) and the initial
sync of the population.
After every round REMOTE is compared with LOCAL (tests/replay_check.py); a difference fails.
"""

from __future__ import annotations

import decimal
import os
import random
import sys
import tempfile
import time
import uuid

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PACKAGE)  # tests.replayapp, tests.replay_check

import django  # noqa: E402
from django.conf import settings  # noqa: E402

TMP = tempfile.mkdtemp(prefix="synchro-bench-incremental-")
settings.configure(
    DEBUG=False,
    USE_TZ=True,
    SECRET_KEY="bench",
    DATABASES={
        alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(TMP, f"{alias}.sqlite3")}
        for alias in ("default", "remote")
    },
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "dbsettings",
        "synchro",
        "tests.replayapp.apps.ReplayappConfig",
    ],
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    SYNCHRO_REMOTE="remote",
    SYNCHRO_MODELS=["replayapp"],
)
django.setup()

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from tests.replay_check import differences, snapshot  # noqa: E402
from tests.replayapp.models import Chip, City, Club, Country, Membership, Pet, Vet  # noqa: E402

from synchro import DisableSynchroLog, call_synchronize, log_changes  # noqa: E402
from synchro.models import ChangeLog  # noqa: E402

CHANGES = 10_000
ROUNDS = int(os.environ.get("SYNCHRO_BENCH_ROUNDS", "3"))

for alias in ("default", "remote"):
    call_command("migrate", database=alias, run_syncdb=True, verbosity=0)


def populate(rng: random.Random) -> int:
    """About 6,000 objects on LOCAL, logged as added; returns how many."""
    with transaction.atomic(), DisableSynchroLog():
        countries = Country.objects.bulk_create(
            [Country(code=f"c{i}", name=f"Country {i}") for i in range(200)]
        )
        cities = City.objects.bulk_create(
            [City(name=f"city{i}", zone=str(i % 7), country=rng.choice(countries)) for i in range(400)]
        )
        vets = Vet.objects.bulk_create([Vet(name=f"vet{i}", badge=f"b{i}") for i in range(100)])
        pets = Pet.objects.bulk_create(
            [Pet(name=f"pet{i}", vet=rng.choice(vets), city=rng.choice(cities)) for i in range(3000)]
        )
        chips = Chip.objects.bulk_create(
            [
                Chip(id=uuid.UUID(int=rng.getrandbits(128)), serial=f"s{i}", pet=rng.choice(pets))
                for i in range(1500)
            ]
        )
        clubs = Club.objects.bulk_create([Club(name=f"club{i}") for i in range(20)])
        links = [
            Club.countries.through(club=club, country=country)
            for club in clubs
            for country in rng.sample(countries, 10)
        ]
        Club.countries.through.objects.bulk_create(links)
        memberships = Membership.objects.bulk_create(
            [Membership(club=club, pet=pet) for club in clubs for pet in rng.sample(pets, 40)]
        )
    groups = [countries, cities, vets, pets, chips, clubs, memberships]
    for objs in groups:
        log_changes(type(objs[0]), [o.pk for o in objs], "addition")
    return sum(map(len, groups))


class Workload:
    """10,000 mixed ORM changes on LOCAL, avoiding the shapes issue 20 lists as failing today."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.fresh = 0
        self.chips = list(Chip.objects.order_by("serial").values_list("pk", flat=True))
        self.abandoned: set[tuple[type, object]] = set()  # targets a PROTECT/CASCADE FK moved off

    def name(self, prefix: str) -> str:
        self.fresh += 1
        return f"{prefix}-new{self.fresh}"

    def some(self, model, **filters):
        """A random object of ``model`` (one indexed query), or None."""
        if model is Chip:  # UUID pks: drawn from the pks this workload knows
            while self.chips:
                pk = self.rng.choice(self.chips)
                chip = Chip.objects.filter(pk=pk).first()
                if chip is not None:
                    return chip
                self.chips.remove(pk)  # deleted with its pet
            return None
        top = model.objects.filter(**filters).order_by("-pk").values_list("pk", flat=True).first()
        if top is None:
            return None
        return model.objects.filter(pk__gte=self.rng.randint(1, top), **filters).order_by("pk").first()

    def move(self, obj, field: str, target) -> None:
        old = getattr(obj, f"{field}_id")
        setattr(obj, field, target)
        obj.save()
        if old is not None and field != "city" and field != "parent":  # PROTECT / CASCADE
            self.abandoned.add((type(obj)._meta.get_field(field).related_model, old))

    def change(self) -> bool:
        """Make one change; False when the drawn change found nothing to act on."""
        rng = self.rng
        kind = rng.choices(
            ["update", "move", "create", "delete", "m2m", "membership", "rename"],
            weights=[30, 15, 15, 10, 15, 10, 5],
        )[0]
        if kind == "update":
            what = rng.choice(["pet", "vet", "chip", "country"])
            if what == "pet" and (pet := self.some(Pet)):
                pet.weight = decimal.Decimal(rng.randint(1, 99999)) / 100
                pet.save()
            elif what == "vet" and (vet := self.some(Vet)):
                vet.since = timezone.now()
                vet.save()
            elif what == "chip" and (chip := self.some(Chip)):
                chip.data = {"n": rng.randint(0, 9), "s": "żółw"}
                chip.save()
            elif country := self.some(Country):
                country.name = f"Name {rng.randint(0, 999)}"
                country.save()
        elif kind == "move":
            what = rng.choice(["vet", "city", "parent", "country", "pet"])
            if what in ("vet", "city", "parent") and (pet := self.some(Pet)):
                target = {"vet": self.some(Vet), "city": self.some(City), "parent": self.some(Pet)}[what]
                self.move(pet, what, target if rng.random() < 0.9 else None)
            elif what == "country" and (city := self.some(City)):
                self.move(city, "country", self.some(Country))
            elif (chip := self.some(Chip)) and (pet := self.some(Pet)):
                self.move(chip, "pet", pet)
        elif kind == "create":
            what = rng.choice(["pet", "chip", "city", "country"])
            if what == "pet":
                Pet.objects.create(name=self.name("pet"), vet=self.some(Vet), city=self.some(City))
            elif what == "chip" and (pet := self.some(Pet)):
                self.chips.append(Chip.objects.create(serial=self.name("s"), pet=pet, data={"new": True}).pk)
            elif what == "city" and (country := self.some(Country)):
                City.objects.create(name=self.name("city"), zone="n", country=country)
            else:
                Country.objects.create(code=self.name("c"))
        elif kind == "delete":
            model = rng.choice([Chip, Membership, Pet, City, Country])
            obj = self.some(model)
            if obj is None or (model, obj.pk) in self.abandoned:
                return False
            obj.delete()
        elif kind == "m2m":
            club, country = self.some(Club), self.some(Country)
            if not (club and country):
                return False
            (club.countries.add if rng.random() < 0.5 else club.countries.remove)(country)
        elif kind == "membership":
            club, pet = self.some(Club), self.some(Pet)
            if not (club and pet):
                return False
            row = Membership.objects.filter(club=club, pet=pet).first()
            if row is None:
                Membership.objects.create(club=club, pet=pet, role="new")
            elif rng.random() < 0.5:
                row.delete()
            else:
                row.role = "chair"
                row.save()
        else:
            what = rng.choice(["vet", "pet", "country"])
            if what == "vet" and (vet := self.some(Vet)):
                vet.badge = self.name("b")
                vet.save()
            elif what == "pet" and (pet := self.some(Pet)):
                pet.name = self.name("pet")
                pet.save()
            elif country := self.some(Country):
                country.code = self.name("c")
                country.save()
            else:
                return False
        return True


def one_round(seed: int) -> tuple[float, float, float, float, int, int]:
    """(initial sync CPU s, changes CPU s, incremental sync CPU s, its wall s, objects, log entries)."""
    for alias in ("default", "remote"):  # empty, with pks from 1 again: every round is the same
        call_command("flush", database=alias, interactive=False, verbosity=0)
    cache.clear()
    rng = random.Random(seed)
    objects = populate(rng)
    start = time.process_time()
    call_synchronize()
    initial = time.process_time() - start
    first_log = ChangeLog.objects.order_by("-id").values_list("id", flat=True).first() or 0
    workload = Workload(rng)
    start = time.process_time()
    done = 0
    while done < CHANGES:
        with transaction.atomic():  # 500 changes per transaction, as a busy application would
            target = min(done + 500, CHANGES)
            while done < target:
                done += workload.change()
    changes = time.process_time() - start
    entries = ChangeLog.objects.filter(id__gt=first_log).count()
    start, wall = time.process_time(), time.perf_counter()
    summary = call_synchronize()
    incremental, wall = time.process_time() - start, time.perf_counter() - wall
    diff = differences(snapshot("default"), snapshot("remote"))
    if diff:
        raise SystemExit("REMOTE differs from LOCAL after the incremental sync:\n" + "\n".join(diff[:20]))
    again = call_synchronize()
    assert (again.added, again.changed, again.deleted) == (0, 0, 0), again
    print(
        f"  round (seed {seed}): {summary.added:,} added, {summary.changed:,} changed, "
        f"{summary.deleted:,} deleted from {entries:,} log entries in {incremental:.2f} s CPU "
        f"({wall:.2f} s wall)"
    )
    return initial, changes, incremental, wall, objects, entries


print(f"django-synchro incremental-sync benchmark (SQLite files in {TMP})")
results = [one_round(20) for _ in range(ROUNDS)]
initial, changes, incremental, wall, objects, entries = min(results, key=lambda r: r[2])
print(
    f"incremental sync of {CHANGES:,} mixed changes ({entries:,} log entries): "
    f"{incremental:.2f} s CPU ({wall:.2f} s wall) = {CHANGES / incremental:,.0f} changes/s "
    f"({entries / incremental:,.0f} log entries/s), best of {ROUNDS}"
)
print(
    f"  vs LOCAL making the changes: {changes:.2f} s CPU, sync/changes ratio {incremental / changes:.2f}x; "
    f"vs the initial sync of {objects:,} objects: {objects / initial:,.0f} rows/s"
)

# The README's table (Performance), with this run's figure.
from shared_testing.bench import readme_row  # noqa: E402

readme_row(
    ("Measure", "Result"),
    [
        f"incremental sync of {CHANGES:,} mixed changes (the replay tests' schema, {entries:,} log entries)",
        f"{CHANGES / incremental:,.0f} changes/s ({incremental / changes:.2f}× the time LOCAL took for them)",
    ],
)
