from __future__ import annotations

import os
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from cacheops import CacheMiss, file_cache
from cacheops.file_cache import FileCache


@pytest.fixture
def fcache(settings, tmp_path: Path) -> Path:
    """The default file cache pointed at a fresh directory."""
    settings.FILE_CACHE_DIR = str(tmp_path / "fc")
    return tmp_path / "fc"


def _expire(cache: FileCache, key: str) -> None:
    """Make an entry look as if its time ran out (its file's mtime is its expiry time)."""
    past = time.time() - 10
    os.utime(cache.filename(key), (past, past))


def test_set_get_delete(fcache):
    with pytest.raises(CacheMiss):
        file_cache.get("k")
    file_cache.set("k", {"a": [1, 2]})
    assert file_cache.get("k") == {"a": [1, 2]}
    assert file_cache.default.filename("k").is_relative_to(fcache)
    file_cache.delete("k")
    with pytest.raises(CacheMiss):
        file_cache.get("k")
    file_cache.delete("k")  # deleting twice is fine


def test_expired_entry_is_a_miss(fcache):
    file_cache.set("k", 1, timeout=60)
    _expire(file_cache.default, "k")
    with pytest.raises(CacheMiss):
        file_cache.get("k")


def test_timeout_sets_expiry(fcache):
    before = time.time()
    file_cache.set("k", 1, timeout=100)
    expires = file_cache.default.filename("k").stat().st_mtime
    assert before + 100 - 1 <= expires <= time.time() + 100 + 1


def test_default_timeout_from_setting(fcache, settings):
    settings.FILE_CACHE_TIMEOUT = 5000
    before = time.time()
    file_cache.set("k", 1)
    assert file_cache.default.filename("k").stat().st_mtime >= before + 5000 - 1


@pytest.mark.parametrize("bad", [0, -5, "60"])
def test_bad_timeout(fcache, bad):
    with pytest.raises(ValueError, match="timeout"):
        file_cache.set("k", 1, timeout=bad)


def test_bad_settings_named(settings, tmp_path):
    settings.FILE_CACHE_DIR = str(tmp_path)
    settings.FILE_CACHE_TIMEOUT = -1
    with pytest.raises(ImproperlyConfigured, match="FILE_CACHE_TIMEOUT"):
        file_cache.set("k", 1)
    settings.FILE_CACHE_DIR = 42
    with pytest.raises(ImproperlyConfigured, match="FILE_CACHE_DIR"):
        file_cache.get("k")


def test_settings_changes_are_seen(settings, tmp_path):
    settings.FILE_CACHE_DIR = str(tmp_path / "one")
    file_cache.set("k", "one")
    settings.FILE_CACHE_DIR = str(tmp_path / "two")
    with pytest.raises(CacheMiss):
        file_cache.get("k")
    settings.FILE_CACHE_DIR = str(tmp_path / "one")
    assert file_cache.get("k") == "one"


def test_own_instance(tmp_path):
    cache = FileCache(tmp_path / "own", timeout=30)
    cache.set("x", b"bytes")
    assert cache.get("x") == b"bytes"
    assert (tmp_path / "own").is_dir()
    with pytest.raises(ValueError):
        FileCache(tmp_path, timeout=0)


def test_corrupt_file_is_a_miss(fcache):
    file_cache.set("k", 1)
    path = file_cache.default.filename("k")
    mtime = path.stat().st_mtime
    path.write_bytes(b"not a pickle")
    os.utime(path, (mtime, mtime))
    with pytest.raises(CacheMiss):
        file_cache.get("k")


def test_no_temp_files_left(fcache):
    for i in range(20):
        file_cache.set(f"k{i}", i)
    names = [p.name for p in fcache.rglob("*") if p.is_file()]
    assert len(names) == 20
    assert not [n for n in names if n.startswith(".tmp-")]


def test_concurrent_writers_and_readers_never_see_partial_values(fcache):
    """Writers replace the file atomically: readers get an old or a new value, whole."""
    big = dict.fromkeys(range(50), "x" * 2000)
    values = [dict(big, version=v) for v in range(2)]
    file_cache.set("shared", values[0])
    errors: list[BaseException] = []
    stop = threading.Event()

    def write() -> None:
        try:
            for n in range(150):
                file_cache.set("shared", values[n % 2])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            stop.set()

    def read() -> None:
        try:
            while not stop.is_set():
                assert file_cache.get("shared") in values
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write), threading.Thread(target=read), threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_cached_decorator(fcache):
    calls = []

    @file_cache.cached(timeout=60)
    def square(x):
        calls.append(x)
        return x * x

    assert square(3) == 9
    assert square(3) == 9
    assert square(4) == 16
    assert calls == [3, 4]
    square.invalidate(3)
    assert square(3) == 9
    assert calls == [3, 4, 3]
    assert square.key(3) != square.key(4)


def test_cached_bare_and_extra(fcache):
    calls = []

    @file_cache.cached
    def f():
        calls.append(1)
        return len(calls)

    @file_cache.cached(extra="v2")
    def g():
        calls.append(1)
        return "g"

    assert f() == f() == 1
    assert g() == g() == "g"
    assert len(calls) == 2


def test_cached_result_expires(fcache):
    calls = []

    @file_cache.cached(timeout=60)
    def f():
        calls.append(1)
        return len(calls)

    assert f() == 1
    _expire(file_cache.default, f.key())
    assert f() == 2


def test_clean_removes_only_expired(fcache):
    cache = file_cache.default
    for key in ("old1", "old2", "fresh"):
        cache.set(key, key)
    _expire(cache, "old1")
    _expire(cache, "old2")
    # a temporary file abandoned by a writer that died long ago
    stale = cache.filename("fresh").parent / ".tmp-dead"
    stale.write_bytes(b"partial")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert file_cache.clean() == 3
    assert cache.get("fresh") == "fresh"
    assert not stale.exists()
    assert file_cache.clean() == 0


def test_clean_missing_directory(settings, tmp_path):
    settings.FILE_CACHE_DIR = str(tmp_path / "never-created")
    assert file_cache.clean() == 0


def test_cleanfilecache_command(fcache, tmp_path):
    file_cache.set("old", 1)
    file_cache.set("fresh", 2)
    _expire(file_cache.default, "old")
    other = FileCache(tmp_path / "other")
    other.set("gone", 3)
    _expire(other, "gone")

    out = StringIO()
    call_command("cleanfilecache", stdout=out)
    assert "Removed 1 expired file(s)" in out.getvalue()
    assert file_cache.get("fresh") == 2
    assert other.filename("gone").exists()

    out = StringIO()
    call_command("cleanfilecache", str(tmp_path / "other"), stdout=out)
    assert "Removed 1 expired file(s)" in out.getvalue()
    assert not other.filename("gone").exists()


def test_cleanfilecache_shows_progress(fcache):
    cache = file_cache.default
    for i in range(1001):
        cache.set(f"k{i}", i)
    out = StringIO()
    call_command("cleanfilecache", stdout=out)
    assert "1000 files checked, 0 removed so far" in out.getvalue()


def test_works_without_django_settings(tmp_path):
    """Scripts that never configure Django can still use the file cache (defaults apply)."""
    import subprocess
    import sys

    code = (
        "from cacheops import file_cache\n"
        "from cacheops.file_cache import FileCache\n"
        f"c = FileCache({str(tmp_path)!r})\n"
        "c.set('k', 41)\n"
        "print(c.get('k') + 1, file_cache.default.timeout)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    src = str(Path(file_cache.__file__).parents[1])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["42", str(60 * 60 * 24 * 30)]
