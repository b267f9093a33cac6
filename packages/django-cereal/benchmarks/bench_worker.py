"""End-to-end tasks per second through a real Redis broker and a real worker: references vs bare pks.

Each task gets one row and reads a field. The baseline sends the primary key and calls
``Model.objects.get(pk=...)`` in the task; django-cereal sends the instance. Prints the ratio.
"""

from __future__ import annotations

import time

from _setup import setup_django

setup_django()

from benchapp.models import Item  # noqa: E402
from celery import Celery  # noqa: E402
from celery.contrib.testing.worker import start_worker  # noqa: E402

from shared_testing.bench import readme_row  # noqa: E402
from shared_testing.servers import get_redis_server  # noqa: E402

TASKS = 150
ROUNDS = 4

redis = get_redis_server()
app = Celery("bench", set_as_current=True)
app.conf.update(
    broker_url=redis.url_for_db(1),
    result_backend=redis.url_for_db(2),
    accept_content=["json", "django-cereal-json", "django-cereal-pickle"],
    task_default_queue="cereal-bench",
    worker_hijack_root_logger=False,
    worker_prefetch_multiplier=16,
)
app.conf.include = ["celery.contrib.testing.tasks"]


@app.task(name="bench.by_pk")
def by_pk(pk):
    return Item.objects.get(pk=pk).price


@app.task(name="bench.by_ref_json", serializer="django-cereal-json")
def by_ref_json(item):
    return item.price


@app.task(name="bench.by_ref_pickle", serializer="django-cereal-pickle")
def by_ref_pickle(item):
    return item.price


def run(task, args_for) -> float:
    started = time.perf_counter()
    results = [task.delay(*args_for(i)) for i in range(TASKS)]
    for result in results:
        result.get(timeout=120)
    return TASKS / (time.perf_counter() - started)


def main() -> None:
    items = list(Item.objects.order_by("pk")[:TASKS])
    cases = {
        "bare pks": (by_pk, lambda i: (items[i].pk,)),
        "django-cereal-json": (by_ref_json, lambda i: (items[i],)),
        "django-cereal-pickle": (by_ref_pickle, lambda i: (items[i],)),
    }
    best = dict.fromkeys(cases, 0.0)
    app.loader.import_default_modules()
    with start_worker(app, pool="solo", perform_ping_check=True, loglevel="WARNING", shutdown_timeout=60):
        for _ in range(ROUNDS):
            for name, (task, args_for) in cases.items():
                best[name] = max(best[name], run(task, args_for))
    print(f"\n== end to end, {TASKS} tasks x {ROUNDS} rounds through a real worker (best round) ==")
    for name, rate in best.items():
        print(f"{name:22} {rate:8.1f} tasks/s")
    for name in ("django-cereal-json", "django-cereal-pickle"):
        print(f"{name}: {best[name] / best['bare pks']:.2f}x the bare-pk tasks/s (target >= 0.9x)")
    readme_row(
        ("Measure", "Result"),
        [
            "end to end through a real worker, tasks/s vs the bare-pk task (json / pickle)",
            f"{best['django-cereal-json'] / best['bare pks']:.2f}x / "
            f"{best['django-cereal-pickle'] / best['bare pks']:.2f}x",
        ],
    )


if __name__ == "__main__":
    main()
