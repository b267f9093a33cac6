"""django-cacheops' public API as a project uses it; the checkers must see real types."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from typing_extensions import assert_type

from cacheops import (
    CacheMiss,
    CacheopsLibrary,
    CacheopsQuerySet,
    FileCache,
    cache,
    cached,
    cached_as,
    cached_view,
    cached_view_as,
    file_cache,
    invalidate_all,
    invalidate_dict,
    invalidate_fragment,
    invalidate_model,
    invalidate_obj,
    no_invalidation,
    reap_conjs,
    stats,
)
from cacheops.simple import CachedAsDecorator, CacheDecorator
from newsroom.models import Article

# ------------------------------------------------------------------ querysets


def querysets() -> None:
    article = Article.objects.cache().get(pk=1)
    assert_type(article, Article)
    assert_type(Article.objects.filter(tag=2).cache(ops=["count"], timeout=60).count(), int)
    assert_type(list(Article.objects.filter(tag=2).cache(lock=True)), list[Article])
    assert_type(Article.objects.all().nocache().first(), Article | None)
    assert_type(Article.objects.filter(tag=2).invalidated_update(published=True), int)
    assert_type(Article.objects.invalidated_update(published=False), int)
    assert_type(Article.objects.cache(), CacheopsQuerySet[Article])
    assert_type(Article.objects.order_by("title").cache(ops="get").nocache(), CacheopsQuerySet[Article])
    assert_type(Article.objects.values("title").cache(ops=["fetch"]).count(), int)
    qs = Article.objects.filter(published=True).inplace()
    assert_type(qs.exclude(tag=3).cloning().clone(), CacheopsQuerySet[Article])


# ------------------------------------------------------------------ functions


@cached_as(Article.objects.filter(published=True), timeout=600, extra="v2")
def top_titles(limit: int) -> list[str]:
    return [article.title for article in Article.objects.filter(published=True)[:limit]]


@cached_as(Article, lock=True)
def tag_cloud(size: int) -> dict[int, int]:
    return {}


@cached(timeout=60)
def exchange_rate(currency: str) -> float:
    return 1.0


@cached
def settings_blob() -> dict[str, str]:
    return {}


def functions() -> None:
    assert_type(top_titles(3), list[str])
    assert_type(tag_cloud(10), dict[int, int])
    assert_type(exchange_rate("EUR"), float)
    assert_type(settings_blob(), dict[str, str])
    top_titles.invalidate(3)
    assert_type(tag_cloud.key(10), str)
    top_titles("three")  # type: ignore[arg-type]  # the decorator keeps the parameters
    exchange_rate.invalidate(currency="EUR")
    # the entry of a @cached call: get() (raising CacheMiss), set(value) and delete()
    exchange_rate.key("EUR").set(1.08)
    assert_type(exchange_rate.key("EUR").get(), float)
    exchange_rate.key("EUR").delete()
    exchange_rate.key("EUR").set("1.08")  # type: ignore[arg-type]  # the function's result type


class Newsdesk:
    @cached(timeout=60)
    def headline(self, tag: int) -> str:
        return ""

    @cached_as(Article)
    def count(self, tag: int) -> int:
        return Article.objects.filter(tag=tag).count()


def methods(desk: Newsdesk) -> None:
    assert_type(desk.headline(2), str)
    assert_type(desk.count(2), int)
    # invalidate() and key() are the function's: the instance comes first
    desk.headline.invalidate(desk, 2)
    assert_type(desk.headline.key(desk, 2).get(), str)
    assert_type(Newsdesk.count.key(desk, 2), str)
    desk.count("two")  # type: ignore[arg-type]


def plain_cache() -> object:
    cache.set("key", {"any": "picklable"}, timeout=60)
    try:
        value: object = cache.get("key")
    except CacheMiss:
        value = None
    cache.delete("key")
    return value


# ------------------------------------------------------------------ invalidation


def invalidation(article: Article) -> None:
    invalidate_obj(article)
    invalidate_dict(Article, {"tag": 2})
    invalidate_model(Article)
    invalidate_all()
    with no_invalidation:
        article.save()
    invalidate_fragment("sidebar", 42)


def maintenance() -> None:
    assert_type(stats(Article), dict[str, dict[str, int]])
    result = reap_conjs(chunk_size=1000, min_conj_set_size=1000, dry_run=True)
    print(result)


register = CacheopsLibrary()


@register.decorator_tag
def cached_menu(name: str, timeout: int = 300) -> CachedAsDecorator:
    return cached_as(Article, timeout=timeout, extra=("menu", name))


@register.decorator_tag(takes_context=True)
def cached_per_path(context: dict[str, str], name: str) -> CacheDecorator:
    return cached(timeout=60, extra=(name, context["path"]))


assert_type(cached_menu("top"), CachedAsDecorator)


@no_invalidation
def bulk_import(rows: list[dict[str, str]]) -> int:
    return len(rows)


assert_type(bulk_import([]), int)

# ------------------------------------------------------------------ views and the file cache


@cached_view_as(Article.objects.filter(published=True), timeout=600)
def article_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse(", ".join(a.title for a in Article.objects.filter(published=True)))


@cached_view(timeout=60)
def weather(request: HttpRequest, city: str) -> HttpResponse:
    return HttpResponse(city)


@file_cache.cached(timeout=3600)
def report(year: int) -> bytes:
    return b""


thumbnails = FileCache("/var/cache/newsroom/thumbs", timeout=86400)


def views_and_files(request: HttpRequest) -> None:
    assert_type(article_list(request), HttpResponse)
    assert_type(weather(request, "Oslo"), HttpResponse)
    article_list.invalidate(request)
    assert_type(weather.key("https://example.com/weather/Oslo", "Oslo"), str)
    assert_type(report(2024), bytes)
    file_cache.set("key", [1, 2], timeout=60)
    thumbnails.delete("key")
