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

Then the spread (issue 22): a mixed workload over 12 tables (about 1,900 distinct cached queries:
gets by primary key, filters, counts, joins) runs on the cluster, its misses store, then every
query is read again (all hits). Per primary: its share of cacheops' keys (DBSIZE), of their bytes
(MEMORY USAGE of each key) and of the commands of the hit phase (INFO commandstats deltas, the
commands run inside scripts included). Target: no primary above 45 % of any of the three. The same
run with ``CACHEOPS_CLUSTER_SHARDS=1`` (one hash tag: the layout before issue 22) is the baseline.
Hit throughput with several client processes on 1 vs 3 primaries is not measured: the machine
the benchmarks run on has two cores, shared by the client processes and the servers.
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


SPREAD_TARGET = 0.45
ROWS = 100  # rows per table of the spread workload


def spread_queries() -> list[Callable[[], object]]:
    """Rows in 12 tables (written without invalidation) and the distinct cached reads over them."""
    from tests.testapp import models as m

    from cacheops import no_invalidation

    with no_invalidation:
        cats = [m.Category.objects.create(title=f"c{i}") for i in range(ROWS)]
        for i in range(ROWS):
            m.Post.objects.create(title=f"p{i}", category=cats[i % 10], rating=i % 20)
            m.Label.objects.create(text=f"l{i % 20}")
            m.LabelT.objects.create(text=f"t{i % 20}")
            m.Video.objects.create(title=f"v{i % 20}")
            m.Media.objects.create(name=f"m{i % 20}")
            m.Movie.objects.create(name=f"mv{i % 20}", year=1900 + i % 20)
            m.Article.objects.create(title=f"a{i % 20}", published=bool(i % 2))
            m.Weird.objects.create(custom=f"w{i % 20}")
            m.Gauge.objects.create(ratio=i % 20)
            m.Switch.objects.create(on=bool(i % 2))
            brand = m.Brand.objects.create(name=f"b{i % 20}")
            brand.labels.add(m.Label.objects.nocache().order_by("pk")[i % 20])
    by_field = [
        (m.Category, "title", lambda i: f"c{i}"),
        (m.Post, "rating", lambda i: i),
        (m.Label, "text", lambda i: f"l{i}"),
        (m.LabelT, "text", lambda i: f"t{i}"),
        (m.Video, "title", lambda i: f"v{i}"),
        (m.Media, "name", lambda i: f"m{i}"),
        (m.Movie, "year", lambda i: 1900 + i),
        (m.Article, "title", lambda i: f"a{i}"),
        (m.Weird, "custom", lambda i: f"w{i}"),
        (m.Gauge, "ratio", lambda i: float(i)),
        (m.Switch, "on", lambda i: bool(i % 2)),
        (m.Brand, "name", lambda i: f"b{i}"),
    ]
    queries: list[Callable[[], object]] = []
    for model, field, value in by_field:
        pks = list(model.objects.nocache().values_list("pk", flat=True))
        queries += [lambda model=model, pk=pk: model.objects.get(pk=pk) for pk in pks]
        lookups = [{field: value(i)} for i in range(20)]
        queries += [
            lambda model=model, lookup=lookup: list(model.objects.filter(**lookup)) for lookup in lookups
        ]
        queries += [lambda model=model, pk=pk: model.objects.filter(pk__gte=pk).count() for pk in pks[::5]]
    queries += [lambda c=c: list(m.Post.objects.filter(category=c, rating__lt=10)) for c in cats[:10]]
    queries += [lambda i=i: list(m.Post.objects.filter(category__title=f"c{i}")) for i in range(10)]
    queries += [lambda i=i: list(m.Brand.objects.filter(labels__text=f"l{i}")) for i in range(20)]
    return queries


def _commands(node: Any) -> int:
    stats = node.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_cluster"))


def measure_spread(redis_url: str, shards: int) -> dict[str, Any]:
    """Per primary (by port): keys, bytes and hit-phase commands of the mixed 12-table workload."""
    configure(redis_url, CACHEOPS_CLIENT_CLASS="redis.cluster.RedisCluster", CACHEOPS_CLUSTER_SHARDS=shards)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cacheops import invalidate_all
    from cacheops.redis import get_client

    client = get_client()
    invalidate_all()
    queries = spread_queries()
    for query in queries:  # misses: stored
        query()
    primaries = {node.name: node.redis_connection for node in client.get_primaries()}
    before = {name: _commands(node) for name, node in primaries.items()}
    with CaptureQueriesContext(connection) as db:
        for query in queries:  # hits
            query()
    after = {name: _commands(node) for name, node in primaries.items()}
    out: dict[str, Any] = {"queries": len(queries), "db_queries_in_hit_phase": len(db.captured_queries)}
    for name, node in primaries.items():
        keys = list(node.scan_iter(count=1000))
        out[name] = {
            "keys": len(keys),
            "bytes": sum(node.memory_usage(k) or 0 for k in keys),
            "commands": after[name] - before[name],
        }
    return out


def report_spread(sharded: dict[str, Any], single_tag: dict[str, Any], shards: int) -> bool:
    """Print the shares per primary; True when every share of the sharded run is within target."""
    ok = True
    print(
        f"\nspread over the primaries: {sharded['queries']} distinct cached queries over 12 tables, "
        f"each read twice (database queries in the hit phase: {sharded['db_queries_in_hit_phase']})"
    )
    print(f"target: every share <= {SPREAD_TARGET:.0%}; baseline: the same run with one hash tag\n")
    print(f"{'':<26}{'primary':>8}{'keys':>18}{'bytes':>22}{'hit-phase commands':>24}")
    for title, run in (
        (f"CACHEOPS_CLUSTER_SHARDS={shards}", sharded),
        ("one hash tag (baseline)", single_tag),
    ):
        nodes = sorted(k for k in run if isinstance(run[k], dict))
        totals = {what: sum(run[n][what] for n in nodes) or 1 for what in ("keys", "bytes", "commands")}
        for n in nodes:
            cells = [(run[n][what], run[n][what] / totals[what]) for what in ("keys", "bytes", "commands")]
            port = n.rsplit(":", 1)[-1]
            print(f"{title:<26}{port:>8}" + "".join(f"{v:>14}{share:>8.1%}" for v, share in cells))
        worst = {what: max(run[n][what] for n in nodes) / totals[what] for what in totals}
        print(
            f"{title:<26}{'max':>8}"
            + "".join(f"{'':>14}{worst[what]:>8.1%}" for what in ("keys", "bytes", "commands"))
        )
        if run is sharded:
            ok = all(share <= SPREAD_TARGET for share in worst.values())
            per_hit = totals["commands"] / run["queries"]
            print(f"{'':<34}hit-phase commands per cached read: {per_hit:.2f}")
    return ok


def _child(redis_url: str, cluster: bool, shards: int = 0) -> dict[str, Any] | None:
    conf = {"redis": redis_url, "cluster": cluster, "shards": shards}
    env = dict(os.environ, CACHEOPS_BENCH_CLUSTER_CHILD=json.dumps(conf))
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
        if conf["shards"]:
            print(json.dumps(measure_spread(conf["redis"], conf["shards"])))
        else:
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
    shards = int(os.environ.get("CACHEOPS_BENCH_SHARDS", "16"))
    sharded = _child(cluster_url, cluster=True, shards=shards)
    single_tag = _child(cluster_url, cluster=True, shards=1)
    spread_ok = bool(sharded and single_tag and report_spread(sharded, single_tag, shards))
    print(f"spread: {'met' if spread_ok else 'MISSED'} (every share <= {SPREAD_TARGET:.0%})")
    print(f"({time.perf_counter() - started:.0f} s wall)")


if __name__ == "__main__":
    main()
