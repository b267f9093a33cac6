from __future__ import annotations

import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from tests.testapp.models import CacheOnSaveModel, Category, DbAgnostic, Local, NotCached, Post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mode")]


def runs_sql(queries, func):
    with queries() as q:
        func()
    return q.count


def test_manual_cache_ops_timeout_and_nocache(queries, settings):
    settings.CACHEOPS = {"testapp.*": {"ops": (), "timeout": 60}}
    Category.objects.create(title="a")
    assert runs_sql(queries, lambda: list(Category.objects.all())) == 1
    assert runs_sql(queries, lambda: list(Category.objects.all())) == 1  # no automatic caching
    qs = Category.objects.cache(ops=["fetch"], timeout=30)
    list(qs)
    assert runs_sql(queries, lambda: list(Category.objects.cache(ops=["fetch"], timeout=30))) == 0
    assert runs_sql(queries, lambda: Category.objects.cache(ops=["fetch"]).count()) == 1
    assert runs_sql(queries, lambda: list(Category.objects.cache().nocache())) == 1
    with pytest.raises(ValueError, match="unknown cacheops ops"):
        Category.objects.cache(ops=["fetc"])


def test_cache_needs_a_profile():
    with pytest.raises(ImproperlyConfigured, match="notcached"):
        NotCached.objects.cache()
    from django.contrib.contenttypes.models import ContentType

    with pytest.raises(ImproperlyConfigured, match="contenttypes"):
        ContentType.objects.all().cache()


def test_none_profile_never_cached(queries):
    NotCached.objects.create(title="x")
    list(NotCached.objects.all())
    assert runs_sql(queries, lambda: list(NotCached.objects.all())) == 1


def test_inplace_and_cloning():
    qs = Category.objects.all().inplace()
    same = qs.filter(title="a").order_by("pk")
    assert same is qs
    qs.cloning()
    assert qs.filter(title="b") is not qs


def test_never_cached_cases(queries):
    Category.objects.create(title="a")
    list(Category.objects.all())
    assert runs_sql(queries, lambda: list(Category.objects.all().iterator())) == 1
    with transaction.atomic():
        list(Category.objects.select_for_update())
        assert runs_sql(queries, lambda: list(Category.objects.select_for_update())) == 1


def test_admin_querysets_not_cached(queries, admin_client):
    Category.objects.create(title="admin-visible")
    admin_client.get("/admin/testapp/category/")
    Category.objects.filter(title="admin-visible").update(title="changed")  # no invalidation
    assert b"changed" in admin_client.get("/admin/testapp/category/").content


def test_migration_models_not_cached():
    from django.apps import apps as global_apps
    from django.db.migrations.state import ProjectState

    from cacheops.conf import model_profile

    state = ProjectState.from_apps(global_apps)
    fake = state.apps.get_model("testapp", "Category")
    assert model_profile(fake) is None
    assert model_profile(Category) is not None


def test_local_get(queries):
    obj = Local.objects.create(tag=1)
    Local.objects.get(pk=obj.pk)
    assert runs_sql(queries, lambda: Local.objects.get(pk=obj.pk)) == 0
    obj.tag = 2
    obj.save()
    assert Local.objects.get(pk=obj.pk).tag == 2


def test_cache_on_save(queries):
    obj = CacheOnSaveModel.objects.create(title="a")
    assert runs_sql(queries, lambda: CacheOnSaveModel.objects.get(pk=obj.pk)) == 0
    obj.title = "b"
    obj.save()
    with queries() as q:
        assert CacheOnSaveModel.objects.get(id=obj.pk).title == "b"
    assert q.count == 0


def test_multi_db_and_db_agnostic(queries, mode):
    # DbAgnostic has db_agnostic=False: each database has its own entries
    DbAgnostic.objects.create()
    DbAgnostic.objects.using("slave").create()
    DbAgnostic.objects.using("slave").create()
    assert DbAgnostic.objects.count() == 1
    assert DbAgnostic.objects.using("slave").count() == 2
    assert DbAgnostic.objects.using("slave").all()[0]._state.db == "slave"
    DbAgnostic.objects.using("slave").create()
    assert DbAgnostic.objects.using("slave").count() == 3
    # Category keeps the default (db_agnostic=True, meant for replicas): one entry for both,
    # unless the prefix separates databases
    Category.objects.create(title="default")
    Category.objects.using("slave").create(title="slave")
    assert [c.title for c in Category.objects.all()] == ["default"]
    expected = ["slave"] if mode == "prefix" else ["default"]
    assert [c.title for c in Category.objects.using("slave").all()] == expected
    assert Category.objects.using("slave").all()[0]._state.db == "slave"


pytestmark_multi = pytest.mark.django_db(transaction=True, databases=["default", "slave"])
test_multi_db_and_db_agnostic = pytestmark_multi(test_multi_db_and_db_agnostic)


def test_keys_stable_across_processes():
    from cacheops.keys import query_key

    code = (
        "import django;django.setup();"
        "from tests.testapp.models import Post;from cacheops.keys import query_key;"
        "print(query_key(Post.objects.filter(title='x', rating__in=[1, 2]).order_by('pk'), 'fetch'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env()
    ).stdout.strip()
    assert out == query_key(Post.objects.filter(title="x", rating__in=[1, 2]).order_by("pk"), "fetch")
    assert out != query_key(Post.objects.filter(title="y", rating__in=[1, 2]).order_by("pk"), "fetch")


def _env():
    import os

    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=".")
    from shared_testing.servers import get_redis_server

    env["REDIS_URL"] = get_redis_server().url
    return env


def test_profile_ops_subset(queries):
    # auth.* caches fetch and get only; auth.permission everything
    User.objects.create(username="u")
    User.objects.count()
    assert runs_sql(queries, lambda: User.objects.count()) == 1
    list(User.objects.all())
    assert runs_sql(queries, lambda: list(User.objects.all())) == 0


def test_cached_results_are_copies(queries):
    cat = Category.objects.create(title="a")
    first = Category.objects.get(pk=cat.pk)
    first.title = "mutated"
    assert Category.objects.get(pk=cat.pk).title == "a"
    post = Post.objects.create(title="p", category=cat)
    assert list(Category.objects.prefetch_related("posts").get(pk=cat.pk).posts.all()) == [post]


@pytest.mark.django_db(transaction=True, databases=["default", "slave"])
def test_routers_are_respected(settings, queries):
    settings.DATABASE_ROUTERS = ["tests.routers.CategoryToSlave"]
    cat = Category.objects.create(title="routed")
    assert cat._state.db == "slave"
    assert [c.title for c in Category.objects.all()] == ["routed"]
    with queries("slave") as q:
        assert [c.title for c in Category.objects.all()] == ["routed"]
    assert q.count == 0
    cat.title = "changed"
    cat.save()  # routed to 'slave': invalidation follows
    assert [c.title for c in Category.objects.all()] == ["changed"]
