"""Benchmark: what running cacheops on a Redis Cluster costs against a single Redis server.

The same workload runs twice, each time in a child process of its own (settings are configured
once per process): against one redis-server, and against a 3-master Redis Cluster with
``CACHEOPS_CLIENT_CLASS = "redis.cluster.RedisCluster"`` and ``CACHEOPS_REDIS`` naming one node.
Both servers are started by the shared test harness on this machine. The children alternate
(single, cluster, single, cluster, ...) for ``CACHEOPS_BENCH_ROUNDS`` rounds (default 3) and each
side's best time per operation over its rounds counts.

Reported per operation: CPU seconds of the client process (what the cluster client adds: slot
lookup, node routing) and wall-clock seconds (which also hold the servers' work and the round
trips, and swing with the load of a shared machine), as cluster/single ratios. There is no target:
the numbers are informational.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import benchsetup
from benchsetup import PACKAGE_DIR, configure, populate

ROUNDS = max(1, int(os.environ.get("CACHEOPS_BENCH_ROUNDS", "3")))
REPEAT = 5
OPERATIONS = ("get(pk) hit", "fetch 100 rows hit", "count hit", "get(pk) miss+store", "save() N=100")
Times = tuple[float, float]  # (CPU seconds, wall seconds)


def best(func: Callable[[], object], number: int, repeat: int = REPEAT) -> Times:
    return benchsetup.best(func, number, repeat)


def measure(redis_url: str, cluster: bool) -> dict[str, Any]:
    """Seconds per operation, (CPU, wall), of every workload against the configured Redis."""
    configure(redis_url, **({"CACHEOPS_CLIENT_CLASS": "redis.cluster.RedisCluster"} if cluster else {}))
    from tests.testapp.models import Post

    from cacheops import invalidate_all
    from cacheops.redis import get_client

    client = get_client()
    invalidate_all()
    cats, first = populate()
    pk = first.pk
    out: dict[str, Any] = {"client": f"{type(client).__module__}.{type(client).__qualname__}"}

    hits: dict[str, Callable[[], object]] = {
        "get(pk) hit": lambda: Post.objects.get(pk=pk),
        "fetch 100 rows hit": lambda: list(Post.objects.filter(category=cats[0])),
        "count hit": lambda: Post.objects.filter(rating=3).count(),
    }
    for name, work in hits.items():
        work()
        out[name] = best(work, 100)

    fresh = iter(range(10**9))

    def miss() -> None:  # a query never asked before: a miss, then the store
        Post.objects.get(pk=pk, rating__gte=-next(fresh))

    out["get(pk) miss+store"] = best(miss, 50)

    post = Post.objects.nocache().get(pk=pk)

    def save_once() -> Times:
        for i in range(100):  # 100 distinct cached queries that the saved row belongs to
            list(Post.objects.filter(category=post.category_id, rating__gte=-i))
        c, w = time.process_time(), time.perf_counter()
        post.save()  # drops all 100, so the next call stores them again
        return time.process_time() - c, time.perf_counter() - w

    saves = [save_once() for _ in range(REPEAT)]
    out["save() N=100"] = (min(s[0] for s in saves), min(s[1] for s in saves))
    return out


def _child(redis_url: str, cluster: bool) -> dict[str, Any] | None:
    env = dict(os.environ, CACHEOPS_BENCH_CLUSTER_CHILD=json.dumps({"redis": redis_url, "cluster": cluster}))
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [os.path.join(PACKAGE_DIR, "src"), env.get("PYTHONPATH")])
    )
    proc = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode:
        print(f"  ({'cluster' if cluster else 'single-node'} run failed: {proc.stderr[-300:]})")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(singles: list[dict[str, Any]], clusters: list[dict[str, Any]]) -> None:
    def least(runs: list[dict[str, Any]], name: str) -> Times:
        return min(run[name][0] for run in runs), min(run[name][1] for run in runs)

    print(f"single node: {singles[0]['client']};  cluster (3 masters): {clusters[0]['client']}")
    print(
        f"each side's best over {len(singles)}+{len(clusters)} alternating runs; "
        "ratio = cluster/single (lower is better)"
    )
    print("no target: informational ('per round' is the spread of round-by-round CPU ratios)\n")
    print(f"{'':<22}{'CPU us per operation':^39}{'wall us per operation':^28}")
    print(
        f"{'operation':<22}{'single':>8}{'cluster':>9}{'ratio':>8}{'per round':>14}"
        f"{'single':>10}{'cluster':>10}{'ratio':>8}"
    )
    for name in OPERATIONS:
        one, three = least(singles, name), least(clusters, name)
        rounds = [c[name][0] / s[name][0] for s, c in zip(singles, clusters, strict=False)]
        spread = f"{min(rounds):.2f}-{max(rounds):.2f}"
        print(
            f"{name:<22}{one[0] * 1e6:>8.0f}{three[0] * 1e6:>9.0f}{three[0] / one[0]:>8.2f}{spread:>14}"
            f"{one[1] * 1e6:>10.0f}{three[1] * 1e6:>10.0f}{three[1] / one[1]:>8.2f}"
        )


def main() -> None:
    child = os.environ.get("CACHEOPS_BENCH_CLUSTER_CHILD")
    if child:
        conf = json.loads(child)
        print(json.dumps(measure(conf["redis"], conf["cluster"])))
        return
    from shared_testing.servers import get_redis_cluster, get_redis_server

    started = time.perf_counter()
    single_url = get_redis_server().url_for_db(13)
    node = get_redis_cluster().nodes[0]
    cluster_url = f"redis://{node.host}:{node.port}/0"
    singles: list[dict[str, Any]] = []
    clusters: list[dict[str, Any]] = []
    for _ in range(ROUNDS):
        single = _child(single_url, cluster=False)
        cluster = _child(cluster_url, cluster=True)
        if single and cluster:
            singles.append(single)
            clusters.append(cluster)
    if not singles:
        sys.exit("every round failed")
    report(singles, clusters)
    print(f"({time.perf_counter() - started:.0f} s wall)")


if __name__ == "__main__":
    main()
