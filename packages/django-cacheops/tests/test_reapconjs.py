from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from cacheops.management.commands.reapconjs import reap_conjs
from tests.testapp.models import Category, Post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["no prefix", "prefix"])
def classic(request, settings):
    """Classic storage mode, with and without a key prefix."""
    settings.CACHEOPS_INSIDEOUT = False
    if request.param == "prefix":
        settings.CACHEOPS_PREFIX = "tests.prefix.prefix"
    return request.param


@pytest.fixture
def cat():
    return Category.objects.create(title="c")


def _cache_slices(cat, n: int) -> None:
    for i in range(n):
        list(Post.objects.filter(category=cat).order_by("pk")[i : i + 1])


def _conj_key(redis_client, cat) -> bytes:
    keys = [k for k in redis_client.scan_iter(match="*conj:*") if f"category_id={cat.pk}".encode() in k]
    assert len(keys) == 1, keys
    return keys[0]


def test_dead_references_removed(classic, cat, redis_client, queries):
    Post.objects.create(title="a", category=cat)
    _cache_slices(cat, 6)
    conj = _conj_key(redis_client, cat)
    assert conj.startswith(b"p-default:") == (classic == "prefix")
    members = sorted(redis_client.smembers(conj))
    assert len(members) == 6
    # three entries vanish on their own (as when their timeout runs out)
    redis_client.delete(*members[:3])

    out = StringIO()
    call_command("reapconjs", "--min-conj-set-size", "1", "--chunk-size", "2", stdout=out)
    assert "Removed 3 dead reference(s)" in out.getvalue()
    assert sorted(redis_client.smembers(conj)) == members[3:]

    # the entries still cached are still read from the cache and still invalidated
    with queries() as q:
        _cache_slices(cat, 6)
    assert q.count == 3
    Post.objects.create(title="b", category=cat)
    assert not redis_client.exists(conj)
    assert sum(redis_client.exists(m) for m in members) == 0


def test_dry_run_changes_nothing(classic, cat, redis_client):
    _cache_slices(cat, 4)
    conj = _conj_key(redis_client, cat)
    members = list(redis_client.smembers(conj))
    redis_client.delete(*members[:2])
    out = StringIO()
    call_command("reapconjs", "--min-conj-set-size", "1", "--dry-run", stdout=out)
    assert "Would remove 2 dead reference(s)" in out.getvalue()
    assert redis_client.scard(conj) == 4


def test_small_sets_skipped_and_empty_sets_dropped(classic, cat, redis_client):
    _cache_slices(cat, 3)
    conj = _conj_key(redis_client, cat)
    redis_client.delete(*redis_client.smembers(conj))
    result = reap_conjs(min_conj_set_size=4)
    assert result.dead_members == 0
    assert result.conj_sets >= 1
    assert result.checked_sets == 0
    assert redis_client.scard(conj) == 3
    result = reap_conjs(min_conj_set_size=3)
    assert result.dead_members == 3
    assert not redis_client.exists(conj)


def test_insideout_stamps_left_alone(settings, cat, redis_client):
    settings.CACHEOPS_INSIDEOUT = True
    _cache_slices(cat, 2)
    conj = _conj_key(redis_client, cat)
    stamp = redis_client.get(conj)
    result = reap_conjs(min_conj_set_size=0)
    assert result.conj_sets == 0
    assert redis_client.get(conj) == stamp


def test_progress_and_bad_options(classic, cat):
    _cache_slices(cat, 2)
    out = StringIO()
    call_command("reapconjs", "--min-conj-set-size", "0", "--chunk-size", "1", verbosity=2, stdout=out)
    assert "keys scanned" in out.getvalue()
    assert "scanned " in out.getvalue()
    with pytest.raises(CommandError, match="chunk_size"):
        call_command("reapconjs", "--chunk-size", "0")


def test_the_arguments_of_72_and_one_database(classic, cat, redis_client):
    _cache_slices(cat, 2)
    conj = _conj_key(redis_client, cat)
    redis_client.delete(*redis_client.smembers(conj))
    # 7.2's positional order: chunk_size, min_conj_set_size, using, dry_run
    assert reap_conjs(1000, 0, "default", True).dead_members == 2
    assert redis_client.scard(conj) == 2  # a dry run
    other = reap_conjs(1000, 0, "slave", False).dead_members
    assert other == (0 if classic == "prefix" else 2)  # another database's prefix: not its sets
    assert reap_conjs(min_conj_set_size=0, using="default").dead_members == (2 if classic == "prefix" else 0)
