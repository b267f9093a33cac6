from __future__ import annotations

from pathlib import Path

import pytest
from django.http import HttpResponse, StreamingHttpResponse
from django.template import engines
from django.template.response import TemplateResponse
from django.test import Client, RequestFactory
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View

from cacheops import file_cache
from cacheops.views import cached_view, cached_view_as
from tests.testapp.models import Category, Post

pytestmark = pytest.mark.django_db(transaction=True)

calls: list[str] = []


def _titles() -> str:
    return ",".join(p.title for p in Post.objects.order_by("title"))


@cached_view_as(Post)
def post_list(request):
    calls.append(request.method)
    return HttpResponse(_titles() + "|" + request.GET.get("q", ""))


@cached_view_as(Post.objects.filter(visible=True), timeout=600)
def post_page(request, pk):
    calls.append(f"page{pk}")
    template = engines["django"].from_string("{% for p in posts %}<{{ p.title }}>{% endfor %}")
    return TemplateResponse(request, template, {"posts": Post.objects.filter(pk=pk)})


@cached_view(timeout=600)
def timed(request):
    calls.append("timed")
    return HttpResponse(_titles())


@cached_view
def timed_bare(request):
    calls.append("bare")
    return HttpResponse("bare")


@cached_view_as(Post)
def streaming(request):
    calls.append("stream")
    return StreamingHttpResponse(iter(["a", "b"]))


class ClassView(View):
    @method_decorator(cached_view_as(Post))
    def get(self, request):
        calls.append("class")
        return HttpResponse(_titles())


urlpatterns = [
    path("posts/", post_list),
    path("posts/<int:pk>/", post_page),
    path("timed/", timed),
    path("class/", ClassView.as_view()),
]


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


@pytest.fixture
def cat():
    return Category.objects.create(title="c")


@pytest.fixture
def rf():
    return RequestFactory()


@pytest.mark.usefixtures("mode")
def test_get_is_cached_until_a_sample_row_changes(rf, cat):
    Post.objects.create(title="a", category=cat)
    assert post_list(rf.get("/posts/")).content == b"a|"
    assert post_list(rf.get("/posts/")).content == b"a|"
    assert calls == ["GET"]
    Post.objects.create(title="b", category=cat)
    assert post_list(rf.get("/posts/")).content == b"a,b|"
    assert calls == ["GET", "GET"]


def test_key_is_the_absolute_uri(rf, cat, settings):
    settings.ALLOWED_HOSTS = ["testserver", "other.example"]
    assert post_list(rf.get("/posts/", {"q": "x"})).content == b"|x"
    assert post_list(rf.get("/posts/", {"q": "y"})).content == b"|y"
    assert post_list(rf.get("/posts/", {"q": "x"}, HTTP_HOST="other.example")).content == b"|x"
    assert post_list(rf.get("/posts/", {"q": "x"}, secure=True)).content == b"|x"
    assert len(calls) == 4
    post_list(rf.get("/posts/?q=x"))
    assert len(calls) == 4


def test_only_get_and_head_are_cached(rf, cat):
    post_list(rf.get("/posts/"))
    post_list(rf.head("/posts/"))
    assert calls == ["GET"]
    post_list(rf.post("/posts/"))
    post_list(rf.post("/posts/"))
    post_list(rf.put("/posts/"))
    post_list(rf.delete("/posts/"))
    assert calls == ["GET", "POST", "POST", "PUT", "DELETE"]


@pytest.mark.usefixtures("mode")
def test_template_response_rendered_before_caching(rf, cat):
    post = Post.objects.create(title="t1", category=cat)
    first = post_page(rf.get(f"/posts/{post.pk}/"), pk=post.pk)
    assert first.content == b"<t1>"
    second = post_page(rf.get(f"/posts/{post.pk}/"), pk=post.pk)
    assert second.content == b"<t1>"
    assert calls == [f"page{post.pk}"]
    post.title = "t2"
    post.save()
    assert post_page(rf.get(f"/posts/{post.pk}/"), pk=post.pk).content == b"<t2>"
    assert len(calls) == 2


def test_view_arguments_are_part_of_the_key(rf, cat):
    a = Post.objects.create(title="a", category=cat)
    b = Post.objects.create(title="b", category=cat)
    request = rf.get("/same/")
    assert post_page(request, pk=a.pk).content == b"<a>"
    assert post_page(request, pk=b.pk).content == b"<b>"
    assert len(calls) == 2


def test_invalidate_and_key(rf, cat):
    request = rf.get("/posts/")
    post_list(request)
    assert post_list.key(request) == post_list.key("http://testserver/posts/")
    assert post_list.key(request) != post_list.key("http://testserver/posts/?q=1")
    post_list.invalidate(request)
    post_list(request)
    post_list.invalidate("http://testserver/posts/")
    post_list(request)
    post_list(request)
    assert calls == ["GET", "GET", "GET"]
    with pytest.raises(TypeError, match="request or an absolute URI"):
        post_list.invalidate(42)


def test_cached_view_is_time_based(rf, cat):
    assert timed(rf.get("/timed/")).content == b""
    Post.objects.create(title="a", category=cat)
    assert timed(rf.get("/timed/")).content == b""  # saves don't drop a time-based entry
    timed.invalidate(rf.get("/timed/"))
    assert timed(rf.get("/timed/")).content == b"a"
    assert timed_bare(rf.get("/b/")).content == timed_bare(rf.get("/b/")).content == b"bare"
    assert calls == ["timed", "timed", "bare"]


def test_streaming_responses_are_not_cached(rf):
    for _ in range(2):
        response = streaming(rf.get("/s/"))
        assert b"".join(response.streaming_content) == b"ab"
    assert calls == ["stream", "stream"]


def test_wrong_use_is_reported(rf):
    with pytest.raises(TypeError, match="method_decorator"):
        post_list("not a request")

    async def async_view(request):
        return HttpResponse()

    with pytest.raises(TypeError, match="async view"):
        cached_view_as(Post)(async_view)


@pytest.mark.urls(__name__)
def test_through_the_test_client(cat):
    client = Client()
    Post.objects.create(title="a", category=cat)
    assert client.get("/posts/").content == b"a|"
    assert client.get("/posts/").content == b"a|"
    assert client.get("/class/").content == b"a"
    assert client.get("/class/").content == b"a"
    assert calls == ["GET", "class"]
    Post.objects.filter(title="a").get().delete()
    assert client.get("/posts/").content == b"|"
    assert client.get("/class/").content == b""
    assert calls == ["GET", "class", "GET", "class"]


def test_file_cache_view(rf, settings, tmp_path: Path):
    settings.FILE_CACHE_DIR = str(tmp_path)
    counter = []

    @file_cache.cached_view(timeout=60)
    def page(request):
        counter.append(1)
        template = engines["django"].from_string("n={{ n }}")
        return TemplateResponse(request, template, {"n": len(counter)})

    assert page(rf.get("/p/")).content == b"n=1"
    assert page(rf.get("/p/")).content == b"n=1"
    assert page(rf.get("/p/?x")).content == b"n=2"
    assert page(rf.post("/p/")).render().content == b"n=3"  # not cached, rendered by Django as usual
    page.invalidate("http://testserver/p/")
    assert page(rf.get("/p/")).content == b"n=4"


def test_public_names():
    import cacheops

    assert cacheops.cached_view_as is cached_view_as
    assert cacheops.cached_view is cached_view
    assert cacheops.FileCache is file_cache.FileCache


def test_callable_extra_receives_the_request_as_in_72(rf, cat):
    # 7.2's README: cached_view_as(News, extra=lambda req: req.user.is_staff); "a function passed
    # as extra receives the same arguments as the cached function" (the request, then the view's)
    seen = []

    def extra(request, *args, **kwargs):
        seen.append((request if isinstance(request, str) else request.get_full_path(), args, kwargs))
        return request.GET.get("staff", "") if not isinstance(request, str) else "uri"

    @cached_view_as(Post, extra=extra)
    def staff_page(request, slug):
        calls.append(f"staff{request.GET.get('staff', '')}")
        return HttpResponse(slug)

    @cached_view(timeout=60, extra=extra)
    def staff_timed(request, slug):
        calls.append("timed-staff")
        return HttpResponse(slug)

    assert staff_page(rf.get("/staff/", {"staff": "1"}), "s").content == b"s"
    assert staff_page(rf.get("/staff/", {"staff": "1"}), "s").content == b"s"
    assert staff_timed(rf.get("/staff/"), slug="t").content == b"t"
    assert calls == ["staff1", "timed-staff"]
    assert seen[0] == ("/staff/?staff=1", ("s",), {})
    assert seen[-1] == ("/staff/", (), {"slug": "t"})
    # invalidate() hands extra what it was given: the request, or the absolute URI
    staff_page.invalidate(rf.get("/staff/", {"staff": "1"}), "s")
    assert staff_page(rf.get("/staff/", {"staff": "1"}), "s").content == b"s"
    assert calls == ["staff1", "timed-staff", "staff1"]
    staff_page.invalidate("http://testserver/staff/?staff=1", "s")
    assert seen[-1] == ("http://testserver/staff/?staff=1", ("s",), {})
