"""The grammar of the differential test (tests/test_differential.py): random reads and writes
over the schema of tests/diffapp, produced as ORM code so that every failure prints a program
that can be pasted into a shell.

Every read and write shape carries a *family*: ``None`` for the plain shapes, a name for the
shapes that were stale in django-cacheops 7.2 or in this package once (see ``FAMILIES``). A machine
focuses on one family per example (it draws its shapes half the time); nothing is ever filtered
out of the grammar. The tests at the bottom check that every template of the grammar is valid
ORM code on the database of the running cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from random import Random
from typing import Any

import pytest
from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    Max,
    Min,
    Model,
    OuterRef,
    ProtectedError,
    Q,
    Subquery,
    Sum,
)
from django.test.utils import override_settings

from tests.diffapp import models as diff_models
from tests.diffapp.models import (
    Author,
    Book,
    Chapter,
    CheapBook,
    Ebook,
    Loan,
    Profile,
    Publisher,
    Reader,
    Series,
    Tag,
)

# Shapes of the open issues, each a family of the grammar (reads or writes that use it).
FAMILIES: dict[str, str] = {
    "absence_fk": "issue 21: filter on the absence of related rows, reverse FK (chapters__isnull=True)",
    "absence_m2m": "issue 21: filter on the absence of related rows, m2m (tags__isnull=True)",
    "absence_o2o": "issue 14: reverse one-to-one isnull (profile__isnull=True)",
    "exclude_mv": "issue 21: exclude()/~Q over m2m, explicit-through and reverse FK relations",
    "prefetch_through": "issue 21: prefetch_related over the explicit-through m2m",
    "pk_in_subquery": "issue 21: filter(pk__in=<queryset or Subquery over another table>), Exists()",
    "set_null": "issue 21: on_delete=SET_NULL / SET_DEFAULT / SET(...) by an instance delete()",
    "set_null_bulk_on": "issue 21: on_delete=SET_DEFAULT/SET(...) by QuerySet.delete(), mass writes on",
    "agg_reverse_o2o": "issue 21: aggregates/annotations over a reverse one-to-one (Max('profile__score'))",
    "agg_relations": "issue 14: aggregates and annotations over reverse FK / m2m (Count('books'))",
    "agg_forward": "issue 14: aggregates/annotations over a forward FK join (Max('author__rank'))",
    "order_reverse_o2o": "order_by over a reverse one-to-one (order_by('profile__score'))",
    "sr_one_to_one": "issue 21: select_related across a one-to-one, either side ('profile', 'author')",
    "json_numbers": "issue 14: JSON values 1 vs 1.0, -0.0 (data=1.0, ratio=-0.0)",
    "m2m_side_delete": "issue 14: deleting either side of an auto m2m (its through rows go without signals)",
    "bulk_create": "issue 14: bulk_create() invalidates without the mass-write setting",
    "defer_last": "issue 14: defer()/only() with last()/first()",
    "rechained": "issue 21: an evaluated queryset chained and read again, ordered across a join",
    "update_fields": "issue 21: save(update_fields=...) of an instance with other fields changed in memory",
}

# ------------------------------------------------------------------ execution

NAMESPACE: dict[str, Any] = {
    "Author": Author,
    "Book": Book,
    "Chapter": Chapter,
    "CheapBook": CheapBook,
    "Ebook": Ebook,
    "Loan": Loan,
    "Profile": Profile,
    "Publisher": Publisher,
    "Reader": Reader,
    "Series": Series,
    "Tag": Tag,
    "Avg": Avg,
    "Count": Count,
    "Exists": Exists,
    "F": F,
    "Max": Max,
    "Min": Min,
    "OuterRef": OuterRef,
    "Q": Q,
    "Subquery": Subquery,
    "Sum": Sum,
    "Decimal": Decimal,
    "ProtectedError": ProtectedError,
    "override_settings": override_settings,
    "transaction": transaction,
}

DIFF_MODELS = [
    diff_models.Publisher,
    diff_models.Series,
    diff_models.Author,
    diff_models.Profile,
    diff_models.Tag,
    diff_models.Reader,
    diff_models.Book,
    diff_models.Loan,
    diff_models.Chapter,
    diff_models.Ebook,
]


def flush() -> None:
    """Empty every table of the diffapp and restart its primary keys at 1 (so that a printed
    program reproduces with the same keys), then empty the cache."""
    from cacheops import invalidate_all

    tables = [m._meta.db_table for m in DIFF_MODELS] + [Book.tags.through._meta.db_table]
    sql = connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=False)
    connection.ops.execute_sql_flush(sql)
    invalidate_all()


SETUP = """\
p1 = Publisher.objects.create(name='x')
p2 = Publisher.objects.create(name='y')
s1 = Series.objects.create(name='house')
s2 = Series.objects.create(name='s')
a1 = Author.objects.create(name='x', rank=1)
a2 = Author.objects.create(name='y', rank=2, mentor=a1)
a3 = Author.objects.create(name='z', rank=0, mentor=a1)
Profile.objects.create(author=a1, score=1)
Profile.objects.create(author=a2, score=2)
t1 = Tag.objects.create(name='x')
t2 = Tag.objects.create(name='y')
t3 = Tag.objects.create(name='z')
r1 = Reader.objects.create(name='x')
r2 = Reader.objects.create(name='y')
b1 = Book.objects.create(title='a', author=a1, publisher=p1, printer=p2, series=s2, price=Decimal('5.00'), \
ratio=0.5, data={'k': 'x'})
b2 = Book.objects.create(title='b', author=a2, publisher=p1, series=s1, price=Decimal('12.50'), ratio=1.5, \
data='x')
b3 = Ebook.objects.create(title='c', author=a2, publisher=p2, price=Decimal('8.25'), ratio=2.0, size=2)
b4 = Book.objects.create(title='a', author=a3, price=Decimal('0'), ratio=1.5, data=['x'])
b1.tags.add(t1, t2)
b2.tags.add(t1)
Loan.objects.create(book=b1, reader=r1, days=3)
Loan.objects.create(book=b3, reader=r2, days=7)
Chapter.objects.create(book=b1, number=1, editor=r1)
Chapter.objects.create(book=b1, number=2)
Chapter.objects.create(book=b2, number=1)
"""


# With the json_numbers family: rows whose JSON and float values have other spellings (1 and
# 1.0, 0.0 and -0.0) that the database compares equal.
SETUP_NUMBERS = """\
Book.objects.create(title='c', author=a3, price=Decimal('5'), ratio=0.0, data=1)
Book.objects.create(title='b', author=a1, price=Decimal('8.25'), ratio=-0.0, data={'n': 1.0})
"""


def again(qs: Any) -> Any:
    """A queryset evaluated, then chained again (the clone holds what compiling added to the
    query, such as the joins of an ordering across a relation)."""
    list(qs)
    return qs.all()


class Rollback(Exception):
    """Raised inside ``transaction.atomic()`` by a program to roll its writes back."""


def run(code: str, namespace: dict[str, Any] | None = None) -> None:
    """Run a program's code (in ``namespace``, so that later code sees its variables)."""
    if namespace is None:
        namespace = {}
    for name, value in NAMESPACE.items():
        namespace.setdefault(name, value)
    namespace.setdefault("Rollback", Rollback)
    namespace.setdefault("again", again)
    exec(code, namespace)


# ------------------------------------------------------------------ observing results


def _label(obj: Model) -> str:
    return type(obj).__name__


def dump(obj: Any, sr: tuple[str, ...] = (), pf: tuple[str, ...] = ()) -> Any:
    """What a user sees of an instance: its loaded field values, and the related objects that
    ``select_related`` (``sr``) and ``prefetch_related`` (``pf``) loaded with it."""
    if obj is None:
        return None
    deferred = obj.get_deferred_fields()
    out: list[Any] = [
        _label(obj),
        tuple(
            (f.attname, getattr(obj, f.attname))
            for f in obj._meta.concrete_fields
            if f.attname not in deferred
        ),
    ]
    for path in sr:
        head, _, rest = path.partition("__")
        try:
            related = getattr(obj, head)
        except ObjectDoesNotExist:
            related = None
        out.append((path, dump(related, (rest,) if rest else ())))
    for path in pf:
        head, _, rest = path.partition("__")
        prefetched = getattr(obj, "_prefetched_objects_cache", {})  # keyed by the accessor's name
        if head not in prefetched:
            if head in obj._state.fields_cache:  # a forward relation: prefetched into its field
                out.append((path, dump(obj._state.fields_cache[head], (), (rest,) if rest else ())))
            else:
                out.append((path, "NOT PREFETCHED"))
            continue
        items = sorted(prefetched[head], key=lambda o: o.pk)
        out.append((path, [dump(item, (), (rest,) if rest else ()) for item in items]))
    return tuple(out)


def observe(value: Any, sr: tuple[str, ...] = (), pf: tuple[str, ...] = ()) -> Any:
    if isinstance(value, Model):
        return dump(value, sr, pf)
    if isinstance(value, list):
        return [observe(v, sr, pf) for v in value]
    if isinstance(value, tuple):
        return tuple(observe(v, sr, pf) for v in value)
    if isinstance(value, dict):
        return {k: observe(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Read:
    """A read as ORM code; ``@C@`` stands for ``cache`` or ``nocache``."""

    code: str
    families: frozenset[str] = frozenset()
    sr: tuple[str, ...] = ()
    pf: tuple[str, ...] = ()

    def source(self, cached: bool) -> str:
        return self.code.replace("@C@", "cache" if cached else "nocache")

    def result(self, cached: bool) -> Any:
        """The read's result as a user compares it (exceptions of get() included)."""
        namespace = {**NAMESPACE, "again": again}
        try:
            value = eval(self.source(cached), namespace)
        except (ObjectDoesNotExist, MultipleObjectsReturned) as e:
            return ("raised", type(e).__name__)
        return observe(value, self.sr, self.pf)


# ------------------------------------------------------------------ values


@dataclass
class Pools:
    """The values reads and writes rng from; some depend on the enabled families."""

    json_numbers: bool
    focused: bool = False  # a machine focused on json_numbers: (almost) only the numbers

    NUMBERS = ["1", "1.0", "-0.0", "0", "{'n': 1}", "{'n': 1.0}"]

    @property
    def json(self) -> list[str]:
        if self.focused:
            return [*self.NUMBERS, "'x'"]
        return ["'x'", "'y'", "{'k': 'x'}", "{'k': 'y'}", "['x']", "None"] + (
            self.NUMBERS if self.json_numbers else []
        )

    @property
    def json_filters(self) -> list[str]:
        if self.focused:
            return self.NUMBERS
        return ["'x'", "{'k': 'x'}", "['x']"] + (self.NUMBERS if self.json_numbers else [])

    @property
    def ratio(self) -> list[str]:
        if self.focused:
            return ["0.0", "-0.0", "0.5"]
        return ["0.5", "1.5", "2.0"] + (["0.0", "-0.0"] if self.json_numbers else [])


PRICES = [
    "Decimal('5')",
    "Decimal('5.00')",
    "Decimal('12.5')",
    "Decimal('12.50')",
    "Decimal('0')",
    "Decimal('8.25')",
]
TITLES = ["'a'", "'b'", "'c'"]
NAMES = ["'x'", "'y'", "'z'"]

PK_MODELS = {
    "author": Author,
    "book": Book,
    "chapter": Chapter,
    "ebook": Ebook,
    "loan": Loan,
    "profile": Profile,
    "publisher": Publisher,
    "reader": Reader,
    "series": Series,
    "tag": Tag,
}


def pks(model: Any, **filters: Any) -> list[int]:
    return list(model._base_manager.nocache().filter(**filters).order_by("pk").values_list("pk", flat=True))


class Drawer:
    """Fills a template's ``<placeholders>`` with drawn values (primary keys of existing rows,
    and one more that does not exist yet)."""

    def __init__(self, rng: Random, pools: Pools) -> None:
        self.rng = rng
        self.pools = pools
        self.known: dict[str, list[int]] = {}

    def ref(self, name: str) -> int:
        if name not in self.known:
            self.known[name] = pks(PK_MODELS[name])
        existing = self.known[name]
        fresh = (max(existing) if existing else 0) + 1
        return self.rng.choice([*existing, fresh])

    def value(self, kind: str) -> str:
        rng = self.rng
        if kind in PK_MODELS:
            return str(self.ref(kind))
        if kind.endswith("s") and kind[:-1] in PK_MODELS:
            return repr(sorted({self.ref(kind[:-1]) for _ in range(rng.randint(1, 3))}))
        if kind == "int":
            return str(rng.randint(0, 3))
        if kind == "price":
            return rng.choice(PRICES)
        if kind == "title":
            return rng.choice(TITLES)
        if kind == "name":
            return rng.choice(NAMES)
        if kind == "ratio":
            return rng.choice(self.pools.ratio)
        if kind == "json":
            return rng.choice(self.pools.json_filters)
        if kind == "bool":
            return rng.choice(["True", "False"])
        raise AssertionError(kind)

    def fill(self, template: str) -> str:
        return re.sub(r"<(\w+)>", lambda m: self.value(m.group(1)), template)


# ------------------------------------------------------------------ reads


@dataclass(frozen=True)
class Cond:
    template: str
    family: str | None = None
    multivalued: bool = False  # a condition over a reverse FK or an m2m (negating it is a subquery)


def C(template: str, family: str | None = None, mv: bool = False) -> Cond:
    return Cond(template, family, mv)


BOOK_CONDS = [
    C("title=<title>"),
    C("title__in=[<title>, <title>]"),
    C("author=<author>"),
    C("author_id__in=<authors>"),
    C("author__name=<name>"),
    C("author__rank__gte=<int>"),
    C("author__mentor=<author>"),
    C("author__mentor__name=<name>"),
    C("author__mentor__isnull=<bool>"),
    C("author__profile__score=<int>"),
    C("publisher=<publisher>"),
    C("publisher__name=<name>"),
    C("publisher__isnull=<bool>"),
    C("printer=<publisher>"),
    C("printer__isnull=<bool>"),
    C("series=<series>"),
    C("series__name=<name>"),
    C("price=<price>"),
    C("price__lt=<price>"),
    C("price__in=[<price>, <price>]"),
    C("ratio=<ratio>"),
    C("ratio__gt=<ratio>"),
    C("data=<json>"),
    C("data__k=<name>"),
    C("data__n=<int>"),
    C("data__isnull=<bool>"),
    C("tags=<tag>", mv=True),
    C("tags__name=<name>", mv=True),
    C("tags__in=<tags>", mv=True),
    C("readers=<reader>", mv=True),
    C("readers__name=<name>", mv=True),
    C("loan__days=<int>", mv=True),
    C("loan__days__gte=<int>", mv=True),
    C("chapters__number=<int>", mv=True),
    C("chapters__editor=<reader>", mv=True),
    C("ebook__size__gte=<int>"),
    C("chapters__isnull=<bool>", "absence_fk", mv=True),
    C("loan__isnull=<bool>", "absence_fk", mv=True),
    C("tags__isnull=<bool>", "absence_m2m", mv=True),
    C("readers__isnull=<bool>", "absence_m2m", mv=True),
    C("ebook__isnull=<bool>", "absence_o2o"),
    C("author__profile__isnull=<bool>", "absence_o2o"),
    C("pk__in=Chapter.objects.filter(number=<int>).values('book')", "pk_in_subquery"),
    C("pk__in=Subquery(Loan.objects.filter(days__gte=<int>).values('book_id'))", "pk_in_subquery"),
    C("pk__in=Tag.objects.filter(name=<name>).values('books')", "pk_in_subquery"),
    C("author__in=Author.objects.filter(rank__gte=<int>)", "pk_in_subquery"),
    C("Exists(Chapter.objects.filter(book=OuterRef('pk'), number=<int>))", "pk_in_subquery"),
    C("Q(title=<title>, publisher=<publisher>)", "update_fields"),
]

MODEL_GRAMMAR: dict[str, dict[str, list]] = {
    "Book": {
        "conds": BOOK_CONDS,
        "sr": [
            ("author", None),
            ("publisher", None),
            ("printer", None),
            ("series", None),
            ("author__mentor", None),
            ("author__profile", "sr_one_to_one"),
            ("ebook", "sr_one_to_one"),
        ],
        "pf": [
            ("tags", None),
            ("chapters", None),
            ("loan_set", None),
            ("readers", "prefetch_through"),
            ("chapters__editor", None),
        ],
        "order": [
            ("title", None),
            ("-price", None),
            ("ratio", None),
            ("author__name", None),
            ("-author__rank", None),
            ("publisher__name", None),
            ("-series__name", None),
        ],
        "values": [
            ("title", None),
            ("price", None),
            ("data", None),
            ("author__name", None),
            ("publisher__name", None),
            ("series__name", None),
            ("tags__name", None),
            ("chapters__number", None),
        ],
        "aggs": [
            ("Count('pk')", None),
            ("Sum('price')", None),
            ("Max('ratio')", None),
            ("Min('price')", None),
            ("Max('author__rank')", "agg_forward"),
            ("Count('chapters')", "agg_relations"),
            ("Max('chapters__number')", "agg_relations"),
            ("Count('tags')", "agg_relations"),
            ("Count('readers')", "agg_relations"),
            ("Sum('loan__days')", "agg_relations"),
            ("Max('ebook__size')", "agg_reverse_o2o"),
        ],
        "groups": [("author", None), ("publisher", None), ("publisher__name", "agg_forward")],
        "defer": [("defer('data')", None), ("only('title')", None)],
    },
    "Author": {
        "conds": [
            C("name=<name>"),
            C("rank=<int>"),
            C("rank__gte=<int>"),
            C("pk__in=<authors>"),
            C("mentor=<author>"),
            C("mentor__name=<name>"),
            C("mentor__isnull=<bool>"),
            C("profile__score=<int>"),
            C("profile__score__gte=<int>"),
            C("pupils__name=<name>", mv=True),
            C("books__title=<title>", mv=True),
            C("books__price__lt=<price>", mv=True),
            C("books__tags__name=<name>", mv=True),
            C("books__publisher=<publisher>", mv=True),
            C("profile__isnull=<bool>", "absence_o2o"),
            C("books__isnull=<bool>", "absence_fk", mv=True),
            C("pupils__isnull=<bool>", "absence_fk", mv=True),
            C("pk__in=Book.objects.filter(price__lt=<price>).values('author')", "pk_in_subquery"),
            C("Exists(Profile.objects.filter(author=OuterRef('pk'), score__gte=<int>))", "pk_in_subquery"),
        ],
        "sr": [("mentor", None), ("profile", "sr_one_to_one"), ("mentor__profile", "sr_one_to_one")],
        "pf": [("books", None), ("pupils", None), ("books__tags", None)],
        "order": [
            ("name", None),
            ("-rank", None),
            ("mentor__name", None),
            ("profile__score", "order_reverse_o2o"),
        ],
        "values": [("name", None), ("rank", None), ("mentor__name", None), ("profile__score", None)],
        "aggs": [
            ("Count('pk')", None),
            ("Max('rank')", None),
            ("Max('profile__score')", "agg_reverse_o2o"),
            ("Sum('profile__score')", "agg_reverse_o2o"),
            ("Count('books')", "agg_relations"),
            ("Count('pupils')", "agg_relations"),
            ("Max('mentor__rank')", "agg_forward"),
        ],
        "groups": [("mentor", None), ("rank", None)],
        "defer": [("only('name')", None)],
    },
    "Publisher": {
        "conds": [
            C("name=<name>"),
            C("pk=<publisher>"),
            C("books__title=<title>", mv=True),
            C("printed__price__lt=<price>", mv=True),
            C("books__isnull=<bool>", "absence_fk", mv=True),
            C("printed__isnull=<bool>", "absence_fk", mv=True),
            C("pk__in=Book.objects.filter(price__gte=<price>).values('publisher')", "pk_in_subquery"),
        ],
        "sr": [],
        "pf": [("books", None), ("printed", None)],
        "order": [("name", None)],
        "values": [("name", None), ("books__title", None)],
        "aggs": [
            ("Count('pk')", None),
            ("Count('books')", "agg_relations"),
            ("Count('printed')", "agg_relations"),
        ],
        "groups": [("name", None)],
        "defer": [],
    },
    "Series": {
        "conds": [
            C("name=<name>"),
            C("books__price__lt=<price>", mv=True),
            C("books__isnull=<bool>", "absence_fk", mv=True),
        ],
        "sr": [],
        "pf": [("books", None)],
        "order": [("name", None)],
        "values": [("name", None), ("books__title", None)],
        "aggs": [("Count('pk')", None), ("Count('books')", "agg_relations")],
        "groups": [("name", None)],
        "defer": [],
    },
    "Tag": {
        "conds": [
            C("name=<name>"),
            C("books=<book>", mv=True),
            C("books__author=<author>", mv=True),
            C("books__title=<title>", mv=True),
            C("books__in=<books>", mv=True),
            C("books__isnull=<bool>", "absence_m2m", mv=True),
            C("pk__in=Book.objects.filter(title=<title>).values('tags')", "pk_in_subquery"),
        ],
        "sr": [],
        "pf": [("books", None)],
        "order": [("name", None)],
        "values": [("name", None), ("books__title", None)],
        "aggs": [("Count('pk')", None), ("Count('books')", "agg_relations")],
        "groups": [("name", None)],
        "defer": [],
    },
    "Reader": {
        "conds": [
            C("name=<name>"),
            C("books=<book>", mv=True),
            C("loan__days=<int>", mv=True),
            C("loan__days__lte=<int>", mv=True),
            C("edited__number=<int>", mv=True),
            C("books__isnull=<bool>", "absence_m2m", mv=True),
            C("edited__isnull=<bool>", "absence_fk", mv=True),
            C("pk__in=Loan.objects.filter(days=<int>).values('reader')", "pk_in_subquery"),
        ],
        "sr": [],
        "pf": [("loan_set", None), ("edited", None), ("books", "prefetch_through")],
        "order": [("name", None)],
        "values": [("name", None), ("books__title", None), ("loan__days", None)],
        "aggs": [
            ("Count('pk')", None),
            ("Count('books')", "agg_relations"),
            ("Sum('loan__days')", "agg_relations"),
        ],
        "groups": [("name", None)],
        "defer": [],
    },
    "Chapter": {
        "conds": [
            C("number=<int>"),
            C("book=<book>"),
            C("book__title=<title>"),
            C("book__author__name=<name>"),
            C("editor=<reader>"),
            C("editor__isnull=<bool>"),
            C("book__tags__name=<name>", mv=True),
            C("book__in=Book.objects.filter(author=<author>)", "pk_in_subquery"),
        ],
        "sr": [("book", None), ("book__author", None), ("editor", None)],
        "pf": [],
        "order": [("number", None), ("book__title", None), ("-book__price", None)],
        "values": [("number", None), ("book__title", None), ("editor__name", None)],
        "aggs": [("Max('number')", None), ("Count('pk')", None), ("Max('book__price')", "agg_forward")],
        "groups": [("book", None), ("number", None)],
        "defer": [("only('number')", None)],
    },
    "Profile": {
        "conds": [C("score=<int>"), C("score__gte=<int>"), C("author=<author>"), C("author__name=<name>")],
        "sr": [
            ("author", "sr_one_to_one")
        ],  # Django caches the reverse side too: profile -> author -> profile
        "pf": [],
        "order": [("score", None), ("author__name", None)],
        "values": [("score", None), ("author__name", None)],
        "aggs": [("Sum('score')", None), ("Count('pk')", None), ("Max('author__rank')", "agg_forward")],
        "groups": [("score", None)],
        "defer": [],
    },
    "Loan": {
        "conds": [
            C("days=<int>"),
            C("days__gte=<int>"),
            C("book=<book>"),
            C("reader=<reader>"),
            C("book__title=<title>"),
            C("reader__name=<name>"),
        ],
        "sr": [("book", None), ("reader", None)],
        "pf": [],
        "order": [("days", None), ("book__title", None)],
        "values": [("days", None), ("book__title", None), ("reader__name", None)],
        "aggs": [("Sum('days')", None), ("Count('pk')", None), ("Max('book__price')", "agg_forward")],
        "groups": [("reader", None), ("book", None)],
        "defer": [],
    },
    "Ebook": {
        "conds": [
            C("size=<int>"),
            C("size__gte=<int>"),
            *(c for c in BOOK_CONDS if "ebook__" not in c.template),
        ],
        "sr": [("author", None), ("publisher", None)],
        "pf": [("tags", None), ("chapters", None)],
        "order": [("size", None), ("title", None), ("-price", None)],
        "values": [("size", None), ("title", None), ("author__name", None)],
        "aggs": [("Sum('size')", None), ("Count('pk')", None), ("Max('price')", None)],
        "groups": [("size", None)],
        "defer": [("defer('data')", None)],
    },
}
MODEL_GRAMMAR["CheapBook"] = {**MODEL_GRAMMAR["Book"], "sr": MODEL_GRAMMAR["Book"]["sr"][:4]}

PK_NAMES = {name: name.lower() for name in MODEL_GRAMMAR} | {"CheapBook": "book"}
OPS = [
    "list",
    "slice",
    "values",
    "values_list",
    "pks",
    "count",
    "exists",
    "first",
    "last",
    "get",
    "aggregate",
]
OPS += ["annotate", "group", "distinct", "deferred"]


# The families a read can carry, and the operations that show them best.
READ_FAMILIES = {
    "absence_fk": OPS,
    "absence_m2m": OPS,
    "absence_o2o": OPS,
    "exclude_mv": OPS,
    "prefetch_through": ["list", "slice", "first", "get"],
    "pk_in_subquery": OPS,
    "agg_reverse_o2o": ["aggregate", "annotate"],
    "agg_relations": ["aggregate", "annotate"],
    "agg_forward": ["aggregate", "annotate", "group"],
    "order_reverse_o2o": ["list", "pks", "values", "first", "last"],
    "sr_one_to_one": ["list", "slice", "first", "get"],
    "defer_last": ["deferred"],
    "update_fields": OPS,
    "rechained": ["list", "slice", "values", "values_list", "pks", "count", "exists", "first", "aggregate"],
}


# Write-side families: the reads worth having around when their writes run.
READ_HINTS = {
    "set_null": ("publisher", "printer", "series", "mentor"),
    "set_null_bulk_on": ("publisher", "printer", "series"),
    "m2m_side_delete": ("tags", "books"),
    "bulk_create": ("chapters", "tags", "loan", "readers", "books", "Count"),
    "json_numbers": ("data=", "ratio=", "'data'", "'ratio'"),
}


def _sample(rng: Random, options: list, preferred: list) -> Any:
    """One of ``options``; one of ``preferred`` (a subset) half the time when there are any."""
    if preferred and (rng.random() < 0.5):
        return rng.choice(preferred)
    return rng.choice(options)


def _hinted(text: str, prefer: frozenset[str]) -> bool:
    return any(hint in text for family in prefer for hint in READ_HINTS.get(family, ()))


def _choose(
    rng: Random,
    options: list[tuple[str, str | None]],
    families: frozenset[str],
    prefer: frozenset[str] = frozenset(),
) -> Any:
    allowed = [o for o in options if o[1] is None or o[1] in families]
    preferred = [o for o in allowed if o[1] in prefer or _hinted(o[0], prefer)]
    return _sample(rng, allowed, preferred) if allowed else None


def draw_read(
    rng: Random, families: frozenset[str], pools: Pools, focus: frozenset[str] = frozenset()
) -> Read:
    """One random read over the current rows (references are resolved to primary keys now);
    with ``focus``, reads that use the focused families are preferred."""
    wanted = focus & set(READ_FAMILIES)
    read = _draw_read(rng, families, pools, focus)
    for _ in range(8):
        if not wanted or read.families & wanted:
            break
        read = _draw_read(rng, families, pools, focus)
    return read


def _grammar_has(grammar: dict[str, list], prefer: frozenset[str]) -> bool:
    for key, options in grammar.items():
        for option in options:
            family, text = (option.family, option.template) if key == "conds" else (option[1], option[0])
            if family in prefer or _hinted(text, prefer):
                return True
    return False


def _draw_read(rng: Random, families: frozenset[str], pools: Pools, prefer: frozenset[str]) -> Read:
    models = list(MODEL_GRAMMAR)
    model = _sample(rng, models, [m for m in models if _grammar_has(MODEL_GRAMMAR[m], prefer)])
    grammar = MODEL_GRAMMAR[model]
    fill = Drawer(rng, pools).fill
    used: set[str] = set()

    def preferred(c: Cond) -> bool:
        return c.family in prefer or ("exclude_mv" in prefer and c.multivalued) or _hinted(c.template, prefer)

    def cond(negated: bool = False) -> str:
        allowed = [c for c in grammar["conds"] if c.family is None or c.family in families]
        if negated and "exclude_mv" not in families:
            allowed = [c for c in allowed if not c.multivalued]
        c = _sample(rng, allowed, [c for c in allowed if preferred(c)])
        if c.family:
            used.add(c.family)
        if negated and c.multivalued:
            used.add("exclude_mv")
        return fill(c.template)

    def args(*conds: str) -> str:  # positional expressions (Exists, Q) before keyword conditions
        return ", ".join(sorted(conds, key=lambda text: not text.startswith(("Exists(", "Q("))))

    qs = f"{model}.objects.@C@()"
    # no filter and one filter twice as often as the rest: random conjunctions are mostly empty
    shapes = [0, 0, 1, 1, 2, 3, 4, 5, 6, 7]
    if "exclude_mv" in prefer:
        preferred_shapes = [5, 6, 7]
    elif prefer & {"rechained", "order_reverse_o2o"}:
        preferred_shapes = [0, 0, 1]  # an order shows on more than one row
    elif "update_fields" in prefer:
        preferred_shapes = [1]  # the conjunction of the field saved and the one changed in memory
    else:
        preferred_shapes = [1, 2, 4] if prefer else []
    shape = _sample(rng, shapes, preferred_shapes)
    if shape == 1:
        qs += f".filter({cond()})"
    elif shape == 2:
        first, second = cond(), cond()
        if first.split("=")[0] == second.split("=")[0]:  # one keyword can't be given twice
            qs += f".filter({first}).filter({second})"
        else:
            qs += f".filter({args(first, second)})"
    elif shape == 3:
        qs += f".filter({cond()}).filter({cond()})"
    elif shape == 4:
        qs += f".filter(Q({cond()}) | Q({cond()}))"
    elif shape == 5:
        qs += f".exclude({cond(negated=True)})"
    elif shape == 6:
        qs += f".filter(~Q({cond(negated=True)}))"
    elif shape == 7:
        qs += f".filter({cond()}).exclude({cond(negated=True)})"

    # an evaluated queryset chained again, still ordered across a join that compiling added
    fixed_order = False
    across = [o for o in grammar["order"] if "__" in o[0] and (o[1] is None or o[1] in families)]
    if "rechained" in families and across and rng.random() < (0.5 if "rechained" in prefer else 0.1):
        chosen_order = rng.choice(across)
        qs = f"again({qs}.order_by({chosen_order[0]!r}, 'pk'))"
        used.add("rechained")
        if chosen_order[1]:
            used.add(chosen_order[1])
        fixed_order = True

    op = _sample(rng, OPS, sorted({op for f in prefer & set(READ_FAMILIES) for op in READ_FAMILIES[f]}))
    sr: tuple[str, ...] = ()
    pf: tuple[str, ...] = ()
    if op in ("list", "slice", "first", "last", "get"):
        rel = (
            _choose(rng, grammar["sr"], families, prefer) if grammar["sr"] and (rng.random() < 0.5) else None
        )
        if rel is not None:
            sr = (rel[0],)
            qs += f".select_related({rel[0]!r})"
            if rel[1]:
                used.add(rel[1])
        rel = (
            _choose(rng, grammar["pf"], families, prefer) if grammar["pf"] and (rng.random() < 0.5) else None
        )
        if rel is not None:
            pf = (rel[0],)
            qs += f".prefetch_related({rel[0]!r})"
            if rel[1]:
                used.add(rel[1])

    def ordering() -> str:
        if fixed_order:
            return ""
        chosen = _choose(rng, grammar["order"], families, prefer) if (rng.random() < 0.5) else None
        if chosen is None:
            return ".order_by('pk')"
        if chosen[1]:
            used.add(chosen[1])
        return f".order_by({chosen[0]!r}, 'pk')"

    def sliced() -> str:
        start = rng.randint(0, 2)
        return f"[{start}:{start + rng.randint(1, 3)}]"

    def agg() -> str:
        chosen = _choose(rng, grammar["aggs"], families, prefer)
        if chosen[1]:
            used.add(chosen[1])
        return chosen[0]

    if op == "list":
        code = f"list({qs}{ordering()})"
    elif op == "slice":
        code = f"list({qs}{ordering()}{sliced()})"
    elif op == "values":
        chosen = _choose(rng, grammar["values"], families)
        code = f"list({qs}{ordering()}.values('pk', {chosen[0]!r}))"
    elif op == "values_list":
        chosen = _choose(rng, grammar["values"], families)
        code = f"list({qs}{ordering()}.values_list('pk', {chosen[0]!r}))"
    elif op == "pks":
        code = f"list({qs}{ordering()}.values_list('pk', flat=True))"
    elif op == "count":
        code = f"{qs}.count()" if (rng.random() < 0.5) else f"{qs}.order_by('pk'){sliced()}.count()"
    elif op == "exists":
        code = f"{qs}.exists()"
    elif op in ("first", "last"):
        code = f"{qs}{ordering() if (rng.random() < 0.5) else ''}.{op}()"
    elif op == "get":
        if rng.random() < 0.5:
            code = f"{qs}.get(pk={Drawer(rng, pools).ref(PK_NAMES[model])})"
        else:
            code = f"{qs}.get({cond()})"
    elif op == "aggregate":
        code = f"{qs}.aggregate(a={agg()}, b={agg()})"
    elif op == "annotate":
        annotated = f"{qs}.annotate(n={agg()})"
        if rng.random() < 0.5:
            annotated += f".filter(n__gte={rng.randint(0, 2)})"
        code = f"list({annotated}.order_by('pk').values_list('pk', 'n'))"
    elif op == "group":
        chosen = _choose(rng, grammar["groups"], families, prefer)
        if chosen[1]:
            used.add(chosen[1])
        code = f"list({qs}.values({chosen[0]!r}).annotate(n=Count('pk')).order_by({chosen[0]!r}))"
    elif op == "distinct":
        code = f"list({qs}.distinct().order_by('pk').values_list('pk', flat=True))"
    else:  # deferred
        chosen = _choose(rng, grammar["defer"], families)
        if chosen is None:
            code = f"{qs}.first()"
        else:
            tail = rng.choice(["first", "last", "list"])
            if tail != "list" and "defer_last" not in families:
                tail = "list"
            if tail == "list":
                code = f"list({qs}.{chosen[0]}{ordering()})"
            else:
                used.add("defer_last")
                code = f"{qs}.{chosen[0]}.{tail}()"
    return Read(code, frozenset(used), sr, pf)


# ------------------------------------------------------------------ writes


@dataclass
class WriteContext:
    """What a write generator needs: the rng function, the enabled families and value pools."""

    rng: Random
    families: frozenset[str]
    pools: Pools
    focus: frozenset[str] = frozenset()
    used: set[str] = field(default_factory=set)

    def pick(self, model: Any, **filters: Any) -> int | None:
        existing = pks(model, **filters)
        return self.rng.choice(existing) if existing else None

    def maybe(self, model: Any) -> int | None:
        """A primary key of ``model`` or None (for a nullable foreign key)."""
        return self.pick(model) if (self.rng.random() < 0.5) else None

    def picks(self, model: Any, max_size: int = 3) -> list[int]:
        existing = pks(model)
        if not existing:
            return []
        return sorted({self.rng.choice(existing) for _ in range(self.rng.randint(1, max_size))})

    def one(self, options: list[str]) -> str:
        return self.rng.choice(options)

    def small(self) -> int:
        return self.rng.randint(0, 3)

    def fill(self, template: str) -> str:
        return Drawer(self.rng, self.pools).fill(template)

    def allow(self, family: str) -> bool:
        return family in self.families


Write = Callable[[WriteContext], "str | None"]


def _has_auto_m2m_rows(book_ids: list[int] | None = None, tag_ids: list[int] | None = None) -> bool:
    through = Book.tags.through._base_manager.nocache()
    if book_ids is not None:
        through = through.filter(book_id__in=book_ids)
    if tag_ids is not None:
        through = through.filter(tag_id__in=tag_ids)
    return through.exists()


def _deletable_books(w: WriteContext) -> list[int]:
    """Books whose delete() uses no family the machine lacks (auto m2m rows go silently)."""
    books = pks(Book)
    if not w.allow("m2m_side_delete"):
        books = [b for b in books if not _has_auto_m2m_rows(book_ids=[b])]
    return books


def _referenced_publisher(p: int) -> bool:
    return bool(pks(Book, publisher_id=p) or pks(Book, printer_id=p))


def _kwargs(values: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


BOOK_EDITS = ["title", "price", "ratio", "data", "author_id", "publisher_id", "printer_id", "series_id"]


def _book_value(w: WriteContext, name: str) -> str | None:
    if name == "title":
        return w.one(TITLES)
    if name == "price":
        return w.one(PRICES)
    if name == "ratio":
        return w.one(w.pools.ratio)
    if name == "data":
        return w.one(w.pools.json)
    if name == "author_id":
        author = w.pick(Author)
        return None if author is None else str(author)
    if name in ("publisher_id", "printer_id"):
        return str(w.maybe(Publisher))
    if name == "series_id":
        return str(w.maybe(Series))
    raise AssertionError(name)


def _book_fields(w: WriteContext) -> dict[str, str] | None:
    values = {name: _book_value(w, name) for name in BOOK_EDITS}
    if values["author_id"] is None:
        return None
    return values  # type: ignore[return-value]


def w_create_book(w: WriteContext) -> str | None:
    values = _book_fields(w)
    if values is None:
        return None
    cls = w.one(["Book", "Book", "Ebook", "CheapBook"])
    if cls == "Ebook":
        values["size"] = str(w.small())
    return f"{cls}.objects.create({_kwargs(values)})"


def w_save_book(w: WriteContext) -> str | None:
    """save() of a book through Book, its proxy or (for an ebook) its MTI child, FK moves included."""
    book = w.pick(Book)
    if book is None:
        return None
    is_ebook = Ebook._base_manager.nocache().filter(pk=book).exists()
    via = w.one(["Book", "CheapBook", *(["Ebook"] if is_ebook else [])])
    getter = "CheapBook._base_manager" if via == "CheapBook" else f"{via}.objects"
    choices = ["data", "ratio"] if w.pools.focused else BOOK_EDITS
    edits = sorted({w.rng.choice(choices) for _ in range(w.rng.randint(1, 2))})
    in_memory = None  # a field changed in memory only (not in update_fields)
    if "update_fields" in w.focus:  # the fields of the reads this focus prefers
        saved, in_memory = w.rng.sample(["title", "publisher_id"], 2)
        edits = [saved]
    lines = [f"b = {getter}.nocache().get(pk={book})"]
    for name in edits:
        value = _book_value(w, name)
        if value is None:
            return None
        lines.append(f"b.{name} = {value}")
    if via == "Ebook":
        lines.append(f"b.size = {w.small()}")
    if in_memory or w.rng.random() < 0.5:
        fields = [n.removesuffix("_id") for n in edits] + (["size"] if via == "Ebook" else [])
        others = [n for n in BOOK_EDITS if n not in edits and n != "author_id"]
        if in_memory or w.rng.random() < 0.3:
            # changed in memory only: save(update_fields=...) leaves the database's value
            name = in_memory or w.rng.choice(others)
            value = _book_value(w, name)
            if value is not None:
                lines.append(f"b.{name} = {value}")
                w.used.add("update_fields")
        lines.append(f"b.save(update_fields={fields!r})")
    else:
        lines.append("b.save()")
    return "\n".join(lines)


def w_delete_book(w: WriteContext) -> str | None:
    """delete() of a book: its chapters, loans and ebook row go by cascade."""
    books = _deletable_books(w)
    if not books:
        return None
    book = w.rng.choice(books)
    if _has_auto_m2m_rows(book_ids=[book]):
        w.used.add("m2m_side_delete")
    if Ebook._base_manager.nocache().filter(pk=book).exists() and (w.rng.random() < 0.5):
        return f"Ebook.objects.nocache().get(pk={book}).delete()"
    return f"Book.objects.nocache().get(pk={book}).delete()"


def w_create_author(w: WriteContext) -> str | None:
    return f"Author.objects.create(name={w.one(NAMES)}, rank={w.small()}, mentor_id={w.maybe(Author)})"


def w_save_author(w: WriteContext) -> str | None:
    author = w.pick(Author)
    if author is None:
        return None
    if w.rng.random() < 0.5:
        return (
            f"a = Author.objects.nocache().get(pk={author})\n"
            f"a.name = {w.one(NAMES)}\na.rank = {w.small()}\na.save()"
        )
    return f"a = Author.objects.nocache().get(pk={author})\na.mentor_id = {w.maybe(Author)}\na.save()"


def w_delete_author(w: WriteContext) -> str | None:
    """delete() of an author: books (and theirs) and profile by cascade, pupils' mentor SET_NULL."""
    candidates = []
    for a in pks(Author):
        if not w.allow("set_null") and pks(Author, mentor_id=a):
            continue
        if not w.allow("m2m_side_delete") and _has_auto_m2m_rows(book_ids=pks(Book, author_id=a)):
            continue
        candidates.append(a)
    if not candidates:
        return None
    author = w.rng.choice(candidates)
    if pks(Author, mentor_id=author):
        w.used.add("set_null")
    if _has_auto_m2m_rows(book_ids=pks(Book, author_id=author)):
        w.used.add("m2m_side_delete")
    return f"Author.objects.nocache().get(pk={author}).delete()"


def w_create_profile(w: WriteContext) -> str | None:
    lonely = [a for a in pks(Author) if not pks(Profile, author_id=a)]
    if not lonely:
        return None
    return f"Profile.objects.create(author_id={w.rng.choice(lonely)}, score={w.small()})"


def w_save_profile(w: WriteContext) -> str | None:
    profile = w.pick(Profile)
    if profile is None:
        return None
    return f"p = Profile.objects.nocache().get(pk={profile})\np.score = {w.small()}\np.save()"


def w_delete_profile(w: WriteContext) -> str | None:
    profile = w.pick(Profile)
    return None if profile is None else f"Profile.objects.nocache().get(pk={profile}).delete()"


def w_publisher(w: WriteContext) -> str | None:
    if w.rng.random() < 0.5:
        return f"Publisher.objects.create(name={w.one(NAMES)})"
    p = w.pick(Publisher)
    if p is None:
        return None
    return f"p = Publisher.objects.nocache().get(pk={p})\np.name = {w.one(NAMES)}\np.save()"


def w_delete_publisher(w: WriteContext) -> str | None:
    """delete() of a publisher: books' publisher SET_NULL, printer SET_DEFAULT."""
    candidates = [p for p in pks(Publisher) if w.allow("set_null") or not _referenced_publisher(p)]
    if not candidates:
        return None
    p = w.rng.choice(candidates)
    if _referenced_publisher(p):
        w.used.add("set_null")
    return f"Publisher.objects.nocache().get(pk={p}).delete()"


def _plain_series() -> list[int]:
    return pks(Series, name__in=["x", "y", "z", "s"])  # never the house series (SET's target)


def w_series(w: WriteContext) -> str | None:
    if w.rng.random() < 0.5:
        return f"Series.objects.create(name={w.one(NAMES)})"
    others = _plain_series()
    if not others:
        return None
    return f"s = Series.objects.nocache().get(pk={w.rng.choice(others)})\ns.name = {w.one(NAMES)}\ns.save()"


def w_delete_series(w: WriteContext) -> str | None:
    """delete() of a series: its books move to the house series (SET(house_series))."""
    candidates = [s for s in _plain_series() if w.allow("set_null") or not pks(Book, series_id=s)]
    if not candidates:
        return None
    s = w.rng.choice(candidates)
    if pks(Book, series_id=s):
        w.used.add("set_null")
    return f"Series.objects.nocache().get(pk={s}).delete()"


def w_tag(w: WriteContext) -> str | None:
    if w.rng.random() < 0.5:
        return f"Tag.objects.create(name={w.one(NAMES)})"
    t = w.pick(Tag)
    if t is None:
        return None
    return f"t = Tag.objects.nocache().get(pk={t})\nt.name = {w.one(NAMES)}\nt.save()"


def w_delete_tag(w: WriteContext) -> str | None:
    candidates = [t for t in pks(Tag) if w.allow("m2m_side_delete") or not _has_auto_m2m_rows(tag_ids=[t])]
    if not candidates:
        return None
    t = w.rng.choice(candidates)
    if _has_auto_m2m_rows(tag_ids=[t]):
        w.used.add("m2m_side_delete")
    return f"Tag.objects.nocache().get(pk={t}).delete()"


def w_reader(w: WriteContext) -> str | None:
    kind = w.one(["create", "save", "delete"])
    if kind == "create":
        return f"Reader.objects.create(name={w.one(NAMES)})"
    r = w.pick(Reader)
    if r is None:
        return None
    if kind == "save":
        return f"r = Reader.objects.nocache().get(pk={r})\nr.name = {w.one(NAMES)}\nr.save()"
    # loans go by cascade; editors of chapters are protected (ProtectedError, nothing changes)
    return f"try:\n    Reader.objects.nocache().get(pk={r}).delete()\nexcept ProtectedError:\n    pass"


def w_create_chapter(w: WriteContext) -> str | None:
    book = w.pick(Book)
    if book is None:
        return None
    return f"Chapter.objects.create(book_id={book}, number={w.small()}, editor_id={w.maybe(Reader)})"


def w_save_chapter(w: WriteContext) -> str | None:
    chapter, book = w.pick(Chapter), w.pick(Book)
    if chapter is None or book is None:
        return None
    if w.rng.random() < 0.5:  # a move to another book
        return f"c = Chapter.objects.nocache().get(pk={chapter})\nc.book_id = {book}\nc.save()"
    return (
        f"c = Chapter.objects.nocache().get(pk={chapter})\n"
        f"c.number = {w.small()}\nc.editor_id = {w.maybe(Reader)}\nc.save()"
    )


def w_delete_chapter(w: WriteContext) -> str | None:
    chapter = w.pick(Chapter)
    return None if chapter is None else f"Chapter.objects.nocache().get(pk={chapter}).delete()"


def _m2m(w: WriteContext, owner: str, others: list[int], defaults: str = "") -> str:
    action = w.one(["add", "add", "remove", "clear", "set"])
    extra = f", {defaults}" if defaults else ""
    if action == "clear":
        return f"{owner}.clear()"
    if action == "set":
        return f"{owner}.set({others!r}{extra})"
    if action == "remove":
        return f"{owner}.remove({', '.join(map(str, others))})"
    return f"{owner}.add({', '.join(map(str, others))}{extra})"


def w_book_tags(w: WriteContext) -> str | None:
    book, tags = w.pick(Book), w.picks(Tag)
    if book is None or not tags:
        return None
    return _m2m(w, f"Book.objects.nocache().get(pk={book}).tags", tags)


def w_tag_books(w: WriteContext) -> str | None:
    tag, books = w.pick(Tag), w.picks(Book)
    if tag is None or not books:
        return None
    return _m2m(w, f"Tag.objects.nocache().get(pk={tag}).books", books)


def w_book_readers(w: WriteContext) -> str | None:
    book, readers = w.pick(Book), w.picks(Reader)
    if book is None or not readers:
        return None
    return _m2m(
        w,
        f"Book.objects.nocache().get(pk={book}).readers",
        readers,
        f"through_defaults={{'days': {w.small()}}}",
    )


def w_reader_books(w: WriteContext) -> str | None:
    reader, books = w.pick(Reader), w.picks(Book)
    if reader is None or not books:
        return None
    return _m2m(
        w,
        f"Reader.objects.nocache().get(pk={reader}).books",
        books,
        f"through_defaults={{'days': {w.small()}}}",
    )


def w_loan(w: WriteContext) -> str | None:
    """Rows of the explicit through model, created, changed and deleted directly."""
    kind = w.one(["create", "save", "delete"])
    book, reader, loan = w.pick(Book), w.pick(Reader), w.pick(Loan)
    if kind == "create" and book is not None and reader is not None:
        return f"Loan.objects.create(book_id={book}, reader_id={reader}, days={w.small()})"
    if loan is None or book is None:
        return None
    if kind == "save":
        return (
            f"l = Loan.objects.nocache().get(pk={loan})\nl.days = {w.small()}\nl.book_id = {book}\nl.save()"
        )
    return f"Loan.objects.nocache().get(pk={loan}).delete()"


def w_invalidated_update(w: WriteContext) -> str | None:
    target = w.one(["book", "author", "chapter"])
    if target == "book":
        where = w.fill(w.one(["author=<author>", "pk__in=<books>", "price__lt=<price>", "tags=<tag>"]))
        name = w.one(["title", "price", "data", "publisher_id", "series_id"])
        return f"Book.objects.filter({where}).invalidated_update({name}={_book_value(w, name)})"
    if target == "author":
        author = w.pick(Author)
        if author is None:
            return None
        if w.rng.random() < 0.5:
            return f"Author.objects.filter(pk={author}).invalidated_update(rank={w.small()})"
        return f"Author.objects.filter(pk={author}).invalidated_update(mentor_id={w.maybe(Author)})"
    book = w.pick(Book)
    if book is None:
        return None
    return f"Chapter.objects.filter(book={book}).invalidated_update(number={w.small()})"


def w_profile_invalidated_update(w: WriteContext) -> str | None:
    profile = w.pick(Profile)
    return (
        None
        if profile is None
        else f"Profile.objects.filter(pk={profile}).invalidated_update(score={w.small()})"
    )


def w_bulk_create(w: WriteContext) -> str | None:
    """bulk_create() without the mass-write setting (issue 14: it must invalidate by default)."""
    target = w.one(["chapter", "tag", "book", "loan"])
    count = w.rng.randint(1, 2)
    objs: list[str] = []
    for _ in range(count):
        if target == "tag":
            objs.append(f"Tag(name={w.one(NAMES)})")
        elif target == "chapter":
            book = w.pick(Book)
            if book is None:
                return None
            objs.append(f"Chapter(book_id={book}, number={w.small()})")
        elif target == "loan":
            book, reader = w.pick(Book), w.pick(Reader)
            if book is None or reader is None:
                return None
            objs.append(f"Loan(book_id={book}, reader_id={reader}, days={w.small()})")
        else:
            values = _book_fields(w)
            if values is None:
                return None
            objs.append(f"Book({_kwargs(values)})")
    w.used.add("bulk_create")
    return f"{target.capitalize()}.objects.bulk_create([{', '.join(objs)}])"


BULK_ON = "with override_settings(CACHEOPS_INVALIDATE_BULK=True):\n"


def _bulk_on(code: str) -> str:
    return BULK_ON + "".join(f"    {line}\n" for line in code.splitlines())


BOOK_WHERE = ["author=<author>", "pk__in=<books>", "price__lt=<price>", "tags=<tag>", "title=<title>"]


def w_update(w: WriteContext) -> str | None:
    """QuerySet.update() with the mass-write setting on: plain values, expressions, other models."""
    kind = w.one(["book", "book", "expression", "profile", "author"])
    where = w.fill(w.one(BOOK_WHERE))
    if kind == "book":
        name = w.one(BOOK_EDITS)
        value = _book_value(w, name)
        if value is None:
            return None
        return _bulk_on(f"Book.objects.filter({where}).update({name}={value})")
    if kind == "expression":
        expr = w.one(["ratio=F('ratio') + 1", "price=F('price') + 1", "ratio=F('ratio') * -1"])
        return _bulk_on(f"Book.objects.filter({where}).update({expr})")
    if kind == "profile":
        return _bulk_on(f"Profile.objects.filter(score__gte={w.small()}).update(score={w.small()})")
    return _bulk_on(f"Author.objects.filter(rank={w.small()}).update(mentor_id={w.maybe(Author)})")


def w_bulk_update(w: WriteContext) -> str | None:
    books = w.picks(Book)
    name = w.one(["title", "price", "data", "publisher_id", "author_id"])
    value = _book_value(w, name)
    if not books or value is None:
        return None
    body = (
        f"objs = list(Book.objects.nocache().filter(pk__in={books!r}))\n"
        f"for o in objs:\n    o.{name} = {value}\n"
        f"Book.objects.bulk_update(objs, [{name.removesuffix('_id')!r}])"
    )
    return _bulk_on(body)


def w_queryset_delete(w: WriteContext) -> str | None:
    """QuerySet.delete() (post_delete covers it: with the mass-write setting on or off)."""
    target = w.one(["chapter", "loan", "book"])
    if target == "chapter":
        statement = f"Chapter.objects.filter(number={w.small()}).delete()"
    elif target == "loan":
        statement = f"Loan.objects.filter(days__lte={w.small()}).delete()"
    else:
        books = [b for b in _deletable_books(w) if (w.rng.random() < 0.5)]
        if not books:
            return None
        if _has_auto_m2m_rows(book_ids=books):
            w.used.add("m2m_side_delete")
        statement = f"Book.objects.filter(pk__in={books!r}).delete()"
    return _bulk_on(statement) if (w.rng.random() < 0.5) else statement


def w_queryset_delete_set(w: WriteContext) -> str | None:
    """QuerySet.delete() of publishers or series with the mass-write setting on: the collector
    runs SET_NULL / SET_DEFAULT / SET(...) as an UPDATE of the books."""
    if w.rng.random() < 0.5:
        model, referenced = "Publisher", _referenced_publisher
        candidates = pks(Publisher)
    else:
        model, referenced = "Series", lambda s: bool(pks(Book, series_id=s))
        candidates = _plain_series()
    candidates = [c for c in candidates if w.allow("set_null_bulk_on") or not referenced(c)]
    if not candidates:
        return None
    pk = w.rng.choice(candidates)
    if referenced(pk):
        w.used.add("set_null_bulk_on")
    return _bulk_on(f"{model}.objects.filter(pk={pk}).delete()")


WRITES: list[Write] = [
    w_create_book,
    w_save_book,
    w_save_book,
    w_delete_book,
    w_create_author,
    w_save_author,
    w_delete_author,
    w_create_profile,
    w_save_profile,
    w_delete_profile,
    w_profile_invalidated_update,
    w_publisher,
    w_delete_publisher,
    w_series,
    w_delete_series,
    w_tag,
    w_delete_tag,
    w_reader,
    w_create_chapter,
    w_save_chapter,
    w_delete_chapter,
    w_book_tags,
    w_tag_books,
    w_book_readers,
    w_reader_books,
    w_loan,
    w_invalidated_update,
    w_bulk_create,
    w_update,
    w_bulk_update,
    w_queryset_delete,
    w_queryset_delete_set,
]
WRITE_FAMILIES = {w_bulk_create: "bulk_create"}  # generators that are a family as a whole

# The writes that exercise a family (a machine focused on the family draws them half the time).
FOCUS_WRITES: dict[str, list[Write]] = {
    "absence_fk": [
        w_create_chapter,
        w_save_chapter,
        w_delete_chapter,
        w_loan,
        w_create_author,
        w_save_author,
    ],
    "absence_m2m": [w_book_tags, w_tag_books, w_book_readers, w_reader_books, w_loan],
    "absence_o2o": [w_create_profile, w_delete_profile, w_create_book, w_delete_book, w_delete_author],
    "exclude_mv": [w_book_tags, w_tag_books, w_book_readers, w_reader_books, w_loan, w_create_chapter],
    "prefetch_through": [w_book_readers, w_reader_books, w_loan, w_reader],
    "pk_in_subquery": [w_create_chapter, w_save_chapter, w_loan, w_book_tags, w_save_author, w_save_profile],
    "set_null": [w_delete_publisher, w_delete_series, w_delete_author],
    "set_null_bulk_on": [w_queryset_delete_set],
    "agg_reverse_o2o": [w_save_profile, w_delete_profile, w_profile_invalidated_update, w_create_profile],
    "agg_relations": [w_create_chapter, w_create_book, w_book_tags, w_tag_books, w_book_readers, w_loan],
    "agg_forward": [w_save_author, w_save_book, w_publisher],
    "order_reverse_o2o": [w_save_profile, w_delete_profile, w_create_profile],
    "sr_one_to_one": [w_save_profile, w_create_profile, w_delete_profile, w_save_book],
    "json_numbers": [w_create_book, w_save_book, w_update],
    "m2m_side_delete": [
        w_delete_tag,
        w_delete_tag,
        w_delete_book,
        w_delete_author,
        w_queryset_delete,
        w_tag,
        w_book_tags,
        w_tag_books,
    ],
    "bulk_create": [w_bulk_create],
    "defer_last": [w_create_book, w_save_book],
    "rechained": [w_save_profile, w_save_author, w_publisher, w_series, w_save_book, w_create_chapter],
    "update_fields": [w_save_book, w_save_book],
}


def draw_write(
    rng: Random, families: frozenset[str], pools: Pools, focus: frozenset[str] = frozenset()
) -> tuple[str | None, frozenset[str]]:
    """One random write as code (None: nothing applicable to the current rows) and the families
    it touches; with ``focus``, half the writes are those that exercise the focused families."""
    allowed = [w for w in WRITES if WRITE_FAMILIES.get(w) is None or WRITE_FAMILIES[w] in families]
    focused = [w for family in sorted(focus) for w in FOCUS_WRITES[family] if w in allowed]
    if focused and (rng.random() < 0.5):
        allowed = focused
    context = WriteContext(rng, families, pools, focus)
    code = rng.choice(allowed)(context)
    return code, frozenset(context.used)


# ------------------------------------------------------------------ the grammar is valid ORM code

pytestmark = [pytest.mark.django_db(transaction=True)]


def _fill_first(template: str) -> str:
    """A template with the first value of every placeholder (primary key 1 for references)."""
    firsts = {"int": "1", "price": PRICES[0], "title": TITLES[0], "name": NAMES[0], "ratio": "0.5"}
    firsts |= {"json": "'x'", "bool": "True"}

    def value(m: re.Match) -> str:
        kind = m.group(1)
        if kind in firsts:
            return firsts[kind]
        return "1" if kind in PK_MODELS else "[1, 2]"

    return re.sub(r"<(\w+)>", value, template)


def test_every_read_template_runs_on_this_database():
    run(SETUP)
    for model, grammar in MODEL_GRAMMAR.items():
        for c in grammar["conds"]:
            Read(f"list({model}.objects.nocache().filter({_fill_first(c.template)}))").result(False)
            Read(f"list({model}.objects.nocache().exclude({_fill_first(c.template)}))").result(False)
        for path, _ in grammar["sr"]:
            Read(f"list({model}.objects.nocache().select_related({path!r}))", sr=(path,)).result(False)
        for path, _ in grammar["pf"]:
            result = Read(f"list({model}.objects.nocache().prefetch_related({path!r}))", pf=(path,)).result(
                False
            )
            assert "NOT PREFETCHED" not in repr(result)
        for order, _ in grammar["order"]:
            Read(f"list({model}.objects.nocache().order_by({order!r}, 'pk'))").result(False)
        for name, _ in grammar["values"]:
            Read(f"list({model}.objects.nocache().values('pk', {name!r}))").result(False)
        for expr, _ in grammar["aggs"]:
            Read(f"{model}.objects.nocache().aggregate(a={expr})").result(False)
            Read(f"list({model}.objects.nocache().annotate(n={expr}).values_list('pk', 'n'))").result(False)
        for name, _ in grammar["groups"]:
            Read(
                f"list({model}.objects.nocache().values({name!r}).annotate(n=Count('pk')).order_by({name!r}))"
            ).result(False)


def test_the_setup_reads_back_with_keys_from_1(settings):
    settings.CACHEOPS = {**settings.CACHEOPS, "diffapp.*": {"ops": "all", "timeout": 60}}
    run(SETUP)
    flush()  # keys restart at 1, so that a printed program reproduces as it ran
    run(SETUP)
    titles = Read("list(Book.objects.@C@().order_by('pk').values_list('pk', 'title'))")
    assert titles.result(True) == titles.result(False) == [(1, "a"), (2, "b"), (3, "c"), (4, "a")]
    author = Read("Author.objects.@C@().get(pk=2)", sr=("mentor",))
    assert author.result(True) == author.result(False)
    assert author.result(True)[2] == (
        "mentor",
        ("Author", (("id", 1), ("name", "x"), ("rank", 1), ("mentor_id", None))),
    )
