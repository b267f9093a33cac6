from __future__ import annotations

import pytest
from django.template import Context, Engine, TemplateSyntaxError, engines

from cacheops import cached
from cacheops.templatetags.cacheops import invalidate_fragment, register
from tests.testapp.models import Category, Post

pytestmark = pytest.mark.django_db(transaction=True)

calls: list[str] = []


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


def counted(label: str = "x") -> str:
    calls.append(label)
    return f"{label}{len(calls)}"


def render(source: str, **context) -> str:
    return engines["django"].from_string("{% load cacheops %}" + source).render(context)


@pytest.fixture
def cat():
    return Category.objects.create(title="c")


def test_cached_fragment(cat):
    source = '{% cached 600 "frag" %} {{ f }} {% endcached %}'
    assert render(source, f=counted) == "x1"
    assert render(source, f=counted) == "x1"
    assert calls == ["x"]


def test_cached_extra_and_name_make_the_key():
    source = '{% cached 600 "frag" a b %}{{ f }}{% endcached %}'
    assert render(source, f=counted, a=1, b=2) == "x1"
    assert render(source, f=counted, a=1, b=2) == "x1"
    assert render(source, f=counted, a=1, b=3) == "x2"
    assert render('{% cached 600 "other" a b %}{{ f }}{% endcached %}', f=counted, a=1, b=2) == "x3"
    # the same name and extra in another template share the fragment
    assert render('<{% cached 600 "frag" 1 2 %}{{ f }}{% endcached %}>', f=counted) == "<x1>"


@pytest.mark.usefixtures("mode")
def test_invalidate_fragment():
    source = '{% cached 600 "menu" user %}{{ f }}{% endcached %}'
    assert render(source, f=counted, user="ann") == "x1"
    assert render(source, f=counted, user="bob") == "x2"
    invalidate_fragment("menu", "ann")
    assert render(source, f=counted, user="ann") == "x3"
    assert render(source, f=counted, user="bob") == "x2"


@pytest.mark.usefixtures("mode")
def test_cached_as_fragment_invalidated_by_save(cat):
    source = (
        '{% cached_as posts 600 "posts" %}'
        "{% for p in posts %}{{ p.title }};{% endfor %}{{ f }}"
        "{% endcached_as %}"
    )
    posts = Post.objects.filter(category=cat)
    Post.objects.create(title="a", category=cat)
    assert render(source, posts=posts, f=counted) == "a;x1"
    assert render(source, posts=posts, f=counted) == "a;x1"
    Post.objects.create(title="b", category=cat)
    assert render(source, posts=posts.order_by("title"), f=counted) == "a;b;x2"
    other = Category.objects.create(title="other")
    Post.objects.create(title="z", category=other)  # can't change the cached queryset
    assert render(source, posts=posts.order_by("title"), f=counted) == "a;b;x2"


def test_content_is_escaped_once(cat):
    source = '{% cached 600 "esc" %}{{ v }}{% endcached %}'
    assert render(source, v="<b>") == "&lt;b&gt;"
    assert render(source, v="<b>") == "&lt;b&gt;"


def test_timeout_of_a_fragment_reaches_redis(redis_client):
    render('{% cached 321 "ttl" %}x{% endcached %}')
    ttls = [redis_client.ttl(k) for k in redis_client.scan_iter("c:*")]
    assert ttls and all(0 < t <= 321 for t in ttls)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% cached %}x{% endcached %}", "did not receive|missing"),
        ('{% cached_as 600 "x" %}x{% endcached_as %}', "missing"),
        ('{% cached 1 "a" nope=2 %}x{% endcached %}', "unexpected keyword"),
        ('{% cached timeout=1 "a" %}x{% endcached %}', "positional argument after keyword"),
        ('{% cached 1 "a" %}x', "endcached"),
    ],
)
def test_syntax_errors(source, message):
    with pytest.raises(TemplateSyntaxError, match=message):
        render(source)


def test_keyword_arguments_are_accepted():
    source = '{% cached timeout=600 fragment_name="kw" %}{{ f }}{% endcached %}'
    assert render(source, f=counted) == render(source, f=counted) == "x1"


def test_decorator_tag_builds_own_tags():
    seen = []

    @register.decorator_tag
    def cached_for_user(user, timeout=600):
        return cached(timeout=timeout, extra=("user-block", user))

    @register.decorator_tag(takes_context=True)
    def cached_for_path(context, name):
        seen.append(context["path"])
        return cached(timeout=600, extra=(name, context["path"]))

    try:
        src = "{% cached_for_user u %}{{ f }}{% endcached_for_user %}"
        assert render(src, u="ann", f=counted) == "x1"
        assert render(src, u="ann", f=counted) == "x1"
        assert render(src, u="bob", f=counted) == "x2"
        src = '{% cached_for_path "nav" %}{{ f }}{% endcached_for_path %}'
        assert render(src, path="/a", f=counted) == "x3"
        assert render(src, path="/a", f=counted) == "x3"
        assert render(src, path="/b", f=counted) == "x4"
        assert seen == ["/a", "/a", "/b"]
    finally:
        del register.tags["cached_for_user"], register.tags["cached_for_path"]


def test_loads_in_a_standalone_engine():
    engine = Engine(libraries={"cacheops": "cacheops.templatetags.cacheops"})
    template = engine.from_string('{% load cacheops %}{% cached 60 "standalone" %}{{ f }}{% endcached %}')
    assert template.render(Context({"f": counted})) == "x1"
    assert template.render(Context({"f": counted})) == "x1"
