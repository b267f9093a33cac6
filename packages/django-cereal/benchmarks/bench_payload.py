"""Payload size, encode+decode+load time and queries per task: references vs full pickles vs bare pks.

Also the cost of django-cereal-pickle's restricted unpickling (its allow-list of globals) against
kombu's unrestricted pickle decoder on the same body. Prints ratios against baselines measured in
the same run. Run with ``nox -s bench-django-cereal``.
"""

from __future__ import annotations

import functools
import timeit

from _setup import setup_django

setup_django()

from benchapp.models import Item  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from kombu import serialization  # noqa: E402

from shared_testing.bench import readme_row  # noqa: E402

EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
ACCEPT = {
    "application/json",
    "application/x-python-serialize",
    "application/x-django-cereal-json",
    "application/x-django-cereal-pickle",
}


def body(*args):
    return (args, {}, EMBED)


def round_trip(serializer, value, load):
    """Encode a Celery body, decode it as the worker does, and get model instances (``load``)."""
    content_type, encoding, data = serialization.dumps(body(value), serializer=serializer)
    args, _, _ = serialization.loads(data, content_type, encoding, accept=ACCEPT)
    return load(list(args)[0])


def load_pks(value):
    if isinstance(value, list):
        found = Item.objects.in_bulk(value)
        return [found[pk] for pk in value]
    return Item.objects.get(pk=value)


def as_is(value):
    return value


def measure(count):
    items = list(Item.objects.order_by("pk")[:count])
    value = items if count > 1 else items[0]
    pks = [i.pk for i in items] if count > 1 else items[0].pk
    cases = {
        "bare pks (json)": ("json", pks, load_pks),
        "bare pks (pickle)": ("pickle", pks, load_pks),
        "full instances (pickle)": ("pickle", value, as_is),
        "django-cereal-json": ("django-cereal-json", value, as_is),
        "django-cereal-pickle": ("django-cereal-pickle", value, as_is),
    }
    results = {}
    for name, (serializer, arg, load) in cases.items():
        size = len(serialization.dumps(body(arg), serializer=serializer)[2])
        with CaptureQueriesContext(connection) as queries:
            round_trip(serializer, arg, load)
        number = 2000 if count == 1 else 300
        run = functools.partial(round_trip, serializer, arg, load)
        seconds = min(timeit.repeat(run, number=number, repeat=5)) / number
        results[name] = (size, seconds, len(queries))
    return results


def report(count, results):
    print(f"\n== {count} model{'s' if count > 1 else ''} of one class per task ==")
    print(f"{'payload':26} {'bytes':>7} {'µs/task':>9} {'queries':>8}")
    for name, (size, seconds, queries) in results.items():
        print(f"{name:26} {size:7d} {seconds * 1e6:9.1f} {queries:8d}")
    for cereal, bare in (
        ("django-cereal-json", "bare pks (json)"),
        ("django-cereal-pickle", "bare pks (pickle)"),
    ):
        size_ratio = results[cereal][0] / results[bare][0]
        time_ratio = results[cereal][1] / results[bare][1]
        full_ratio = results[cereal][0] / results["full instances (pickle)"][0]
        print(
            f"{cereal}: payload {size_ratio:.2f}x {bare}, {full_ratio:.2f}x full pickle; "
            f"encode+decode+load time {time_ratio:.2f}x {bare}; queries {results[cereal][2]}"
        )


def restricted_unpickling() -> float:
    """Decode one body without models (dates, Decimals, UUIDs, containers) both ways."""
    import datetime
    import decimal
    import uuid
    import zoneinfo

    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    rows = [
        {
            "when": datetime.datetime(2026, 1, 2, 3, 4, i % 60, tzinfo=zone),
            "day": datetime.date(2026, 1, 1 + i % 28),
            "amount": decimal.Decimal(f"{i}.50"),
            "id": uuid.UUID(int=i),
            "tags": {f"t{i % 7}", "x"},
            "pair": (i, str(i)),
        }
        for i in range(50)
    ]
    payload = body(rows)
    cases = {
        "kombu pickle (unrestricted)": "pickle",
        "django-cereal-pickle (allow-list)": "django-cereal-pickle",
    }
    print("\n== decoding 50 rows of dates, Decimals, UUIDs (no models), best of 7 alternating rounds ==")
    runs = {}
    for name, serializer in cases.items():
        content_type, encoding, data = serialization.dumps(payload, serializer=serializer)
        decoded = serialization.loads(data, content_type, encoding, accept=ACCEPT)
        assert decoded[0][0] == rows, name
        runs[name] = (
            len(data),
            functools.partial(serialization.loads, data, content_type, encoding, accept=ACCEPT),
        )
    timings = dict.fromkeys(cases, float("inf"))
    for _ in range(7):  # alternate, so load on a shared machine hits both sides alike
        for name, (_, run) in runs.items():
            timings[name] = min(timings[name], timeit.timeit(run, number=1000) / 1000)
    for name, (size, _) in runs.items():
        print(f"{name:36} {size:6d} bytes {timings[name] * 1e6:8.1f} µs/decode")
    ratio = timings["django-cereal-pickle (allow-list)"] / timings["kombu pickle (unrestricted)"]
    print(f"restricted unpickling: {ratio:.2f}x kombu's pickle decode time")
    return ratio


def readme_tables(by_count: dict[int, dict], restricted: float) -> None:
    """The README's Benchmarks table (1 model, 100 models), and the figures quoted below it."""
    header = ("", "1 model", "100 models of one class")
    for cereal, bare in (
        ("django-cereal-json", "bare pks (json)"),
        ("django-cereal-pickle", "bare pks (pickle)"),
    ):
        cells = []
        for results in by_count.values():
            mine, theirs = results[cereal][0], results[bare][0]
            cells.append(f"{mine / theirs:.2f}x ({mine} vs {theirs} bytes)")
        readme_row(header, [f"`{cereal}` payload vs {bare}", *cells])
    full = [
        "–".join(
            f"{results[name][0] / results['full instances (pickle)'][0]:.2f}x"
            for name in ("django-cereal-pickle", "django-cereal-json")
        )
        for results in by_count.values()
    ]
    readme_row(header, ["payload vs pickling the full instances", *full])
    readme_row(
        header,
        ["queries per task", *(str(results["django-cereal-json"][2]) for results in by_count.values())],
    )
    readme_row(
        ("Measure", "Result"), ["restricted unpickling vs kombu's pickle decode time", f"{restricted:.2f}x"]
    )


if __name__ == "__main__":
    by_count = {count: measure(count) for count in (1, 100)}
    for count, results in by_count.items():
        report(count, results)
    readme_tables(by_count, restricted_unpickling())
