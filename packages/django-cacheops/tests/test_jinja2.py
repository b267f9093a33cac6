from __future__ import annotations

import jinja2
import pytest
from django.template import engines

from tests.testapp.models import Category, Post

pytestmark = pytest.mark.django_db(transaction=True)

calls: list[str] = []


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


def counted() -> str:
    calls.append("x")
    return f"x{len(calls)}"


def env(**templates: str) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.DictLoader(templates), extensions=["cacheops.jinja2.cache"])


@pytest.fixture
def cat():
    return Category.objects.create(title="c")


@pytest.mark.usefixtures("mode")
def test_cached_as_through_django_backend(cat):
    template = engines["jinja2"].from_string(
        "{% cached_as posts, timeout=600 %} "
        "{% for p in posts %}{{ p.title }};{% endfor %}{{ f() }} "
        "{% endcached_as %}"
    )

    def posts():  # a fresh queryset per render, as a view would pass
        return Post.objects.filter(category=cat).order_by("title")

    Post.objects.create(title="a", category=cat)
    assert template.render({"posts": posts(), "f": counted}) == "a;x1"
    assert template.render({"posts": posts(), "f": counted}) == "a;x1"
    Post.objects.create(title="b", category=cat)
    assert template.render({"posts": posts(), "f": counted}) == "a;b;x2"


def test_cached_with_extra():
    e = env(page="{% cached timeout=600, extra=user %}{{ f() }}{% endcached %}")
    page = e.get_template("page")
    assert page.render(f=counted, user="ann") == "x1"
    assert page.render(f=counted, user="ann") == "x1"
    assert page.render(f=counted, user="bob") == "x2"
    assert calls == ["x", "x"]


def test_cached_bare_tag():
    page = env(page="{% cached %}{{ f() }}{% endcached %}").get_template("page")
    assert page.render(f=counted) == page.render(f=counted) == "x1"


def test_fragments_are_keyed_by_place_and_source():
    e = env(
        one="{% cached %}{{ f() }}{% endcached %}",
        two="{% cached %}{{ f() }}{% endcached %}",
        three="\n{% cached %}{{ f() }}{% endcached %}",
    )
    assert e.get_template("one").render(f=counted) == "x1"
    assert e.get_template("two").render(f=counted) == "x2"
    assert e.get_template("three").render(f=counted) == "\nx3"
    # two string templates at the same line with different bodies don't share
    assert e.from_string("{% cached %}A{{ f() }}{% endcached %}").render(f=counted) == "Ax4"
    assert e.from_string("{% cached %}B{{ f() }}{% endcached %}").render(f=counted) == "Bx5"
    assert e.from_string("{% cached %}A{{ f() }}{% endcached %}").render(f=counted) == "Ax4"


def test_autoescape_kept():
    e = jinja2.Environment(extensions=["cacheops.jinja2.cache"], autoescape=True)
    template = e.from_string("{% cached %}{{ v }}{% endcached %}")
    assert template.render(v="<b>") == "&lt;b&gt;"
    assert template.render(v="<i>") == "&lt;b&gt;"


def test_cached_as_model_and_instance(cat):
    post = Post.objects.create(title="a", category=cat)
    template = env().from_string("{% cached_as model, obj %}{{ obj.title }}{{ f() }}{% endcached_as %}")
    assert template.render(model=Category, obj=post, f=counted) == "ax1"
    assert template.render(model=Category, obj=post, f=counted) == "ax1"
    cat.title = "changed"
    cat.save()
    assert template.render(model=Category, obj=post, f=counted) == "ax2"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% cached posts %}x{% endcached %}", "use 'cached_as'"),
        ("{% cached_as %}x{% endcached_as %}", "at least one"),
        ("{% cached timeout=1, lock=True %}x{% endcached %}", "no option 'lock'"),
        ("{% cached_as timeout=1, posts %}x{% endcached_as %}", "positional argument after keyword"),
        ("{% cached %}x", "endcached"),
    ],
)
def test_syntax_errors(source, message):
    with pytest.raises(jinja2.TemplateSyntaxError, match=message):
        env().from_string(source)
