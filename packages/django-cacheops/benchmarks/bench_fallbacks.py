"""Benchmark: what the whole-table fallbacks cost (hit rate and speed), against django-cacheops 7.2.

Where a query's dependencies can't be written as conjunctions of column values (a filter on the
absence of related rows, exclude() over an m2m, an aggregate over a relation, a subquery over
another table), this package makes the query depend on the whole table involved; 7.2 narrows it
anyway and then serves stale results. The same workload runs on both, in a child process each
(the original's interpreter, with and without this package on its path): rounds of one write
(a post's title or rating changed, a post moved or created, a brand's labels changed) followed by
every read of a fixed set. Per read shape it reports the hit rate and, on each side, how many
reads differ from the same read with ``.nocache()``; overall the CPU time per read.

Environment: ``CACHEOPS_ORIGINAL_PYTHON`` names the interpreter that has django-cacheops 7.2
installed (the bench session builds one); without it only this package is measured.
``CACHEOPS_FALLBACK_ROUNDS`` (default 200) sets the number of write+read rounds.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import benchsetup
from benchsetup import configure, run_child

ROUNDS = max(1, int(os.environ.get("CACHEOPS_FALLBACK_ROUNDS", "200")))
# read shape -> whether this package makes it depend on a whole table
SHAPES = {
    "posts of a category, rating (granular)": False,
    "categories without posts (absence)": True,
    "brands without a label (exclude over m2m)": True,
    "posts per category (Count over a relation)": True,
    "posts in categories titled c1 (pk__in subquery)": True,
}


def measure(redis_url: str) -> dict[str, Any]:
    configure(redis_url)
    from django.db.models import Count
    from tests.testapp.models import Brand, Category, Label, Post

    from cacheops import invalidate_all
    from cacheops.signals import cache_read

    invalidate_all()
    rng = random.Random(7)
    cats = [Category.objects.create(title=f"c{i % 4}") for i in range(8)]
    Post.objects.bulk_create(Post(title=f"p{i}", category=cats[i % 6], rating=i % 5) for i in range(120))
    labels = [Label.objects.create(text=f"l{i}") for i in range(4)]
    brands = [Brand.objects.create(name=f"b{i}") for i in range(10)]
    for i, brand in enumerate(brands[:7]):
        brand.labels.add(labels[i % 4])

    reads: dict[str, Callable[[Callable[[Any], Any]], Any]] = {
        "posts of a category, rating (granular)": lambda m: sorted(
            m(Post).filter(category=cats[0], rating=2).values_list("pk", flat=True)
        ),
        "categories without posts (absence)": lambda m: sorted(
            m(Category).filter(posts__isnull=True).values_list("pk", flat=True)
        ),
        "brands without a label (exclude over m2m)": lambda m: sorted(
            m(Brand).exclude(labels=labels[0]).values_list("pk", flat=True)
        ),
        "posts per category (Count over a relation)": lambda m: sorted(
            m(Category).annotate(n=Count("posts")).values_list("pk", "n")
        ),
        "posts in categories titled c1 (pk__in subquery)": lambda m: sorted(
            m(Post)
            .filter(category__in=Category.objects.nocache().filter(title="c1"))
            .values_list("pk", flat=True)
        ),
    }

    def write() -> None:
        kind = rng.random()
        post = Post.objects.nocache().get(
            pk=rng.choice(list(Post.objects.nocache().values_list("pk", flat=True)))
        )
        if kind < 0.4:
            post.title = f"t{rng.randrange(1000)}"  # changes none of the reads' results
            post.save()
        elif kind < 0.6:
            post.rating = rng.randrange(5)
            post.save()
        elif kind < 0.75:
            post.category = rng.choice(cats)
            post.save()
        elif kind < 0.9:
            Post.objects.create(title="n", category=rng.choice(cats), rating=rng.randrange(5))
        else:
            brand = rng.choice(brands)
            if rng.random() < 0.5:
                brand.labels.add(rng.choice(labels))
            else:
                brand.labels.remove(rng.choice(labels))

    hits = dict.fromkeys(reads, 0)
    stale = dict.fromkeys(reads, 0)
    current: list[str] = []

    def count_hit(sender: Any, hit: bool = False, **kwargs: Any) -> None:
        if hit and current:
            hits[current[0]] += 1

    cache_read.connect(count_hit, weak=False)
    cached = lambda model: model.objects.cache()  # noqa: E731
    uncached = lambda model: model.objects.nocache()  # noqa: E731
    cpu = 0.0
    for _ in range(ROUNDS):
        write()
        for name, read in reads.items():
            current[:] = [name]
            start = time.process_time()
            value = read(cached)
            cpu += time.process_time() - start
            current[:] = []
            if value != read(uncached):
                stale[name] += 1
    return {"hits": hits, "stale": stale, "reads": ROUNDS, "cpu per read": cpu / (ROUNDS * len(reads))}


def _child(python: str, redis_url: str, ours: bool) -> dict[str, Any] | None:
    return run_child(__file__, python, redis_url, ours, timeout=900)


def report(ours: dict[str, Any], orig: dict[str, Any] | None) -> None:
    from shared_testing.bench import readme_row

    n = ours["reads"]
    print(f"\nWhole-table fallbacks: {n} rounds of one write, then every read (hit rate; stale reads)")
    header = ("read", "fallback", "hit rate ours", "hit rate 7.2", "stale ours", "stale 7.2")
    for name, coarse in SHAPES.items():
        theirs = orig["hits"][name] / n if orig else None
        readme_row(
            header,
            [
                name,
                "whole table" if coarse else "—",
                f"{ours['hits'][name] / n:.0%}",
                "n/a" if theirs is None else f"{theirs:.0%}",
                f"{ours['stale'][name]}",
                "n/a" if orig is None else f"{orig['stale'][name]}",
            ],
        )
    line = f"CPU per cached read: ours {ours['cpu per read'] * 1e6:.0f} µs"
    if orig:
        ratio = ours["cpu per read"] / orig["cpu per read"]
        line += f", 7.2 {orig['cpu per read'] * 1e6:.0f} µs (ours/7.2 {ratio:.2f})"
    print(line)


def main() -> None:
    child_redis = os.environ.get("CACHEOPS_BENCH_CHILD")
    if child_redis:
        print(json.dumps(measure(child_redis)))
        return
    from shared_testing.servers import get_redis_server

    started = time.perf_counter()
    server = get_redis_server()
    python = os.environ.get("CACHEOPS_ORIGINAL_PYTHON") or "/tmp/cacheops-original-venv/bin/python"
    if os.path.exists(python):
        orig = _child(python, server.url_for_db(12), ours=False)
        ours = _child(python, server.url_for_db(13), ours=True)
    else:
        print(f"(no original django-cacheops 7.2 at {python}: this package only)")
        orig, ours = None, _child(sys.executable, server.url_for_db(13), ours=True)
    if ours is None:
        sys.exit(1)
    report(ours, orig)
    print(f"({time.perf_counter() - started:.0f} s wall)")


if __name__ == "__main__":
    _ = benchsetup  # the tests' models are importable from the package folder
    main()
