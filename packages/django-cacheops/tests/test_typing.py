"""What type checkers are told about the public API matches what runs (issues 17 and 18).

``nox -s typecheck-django-cacheops`` checks typing_example/ with mypy and pyright; these tests
keep the declarations that only type checkers read (``if TYPE_CHECKING:`` blocks) true to the
objects found at run time.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest
from django.db.models import Manager, QuerySet

import cacheops
from cacheops import CacheopsManager, CacheopsQuerySet
from cacheops.signals import cache_read
from tests.testapp.models import Category, Post

SRC = Path(cacheops.__file__).parent


def _type_checking_body(path: Path) -> list[ast.stmt]:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            return node.body
    raise AssertionError(f"{path.name} has no 'if TYPE_CHECKING:' block")


def _declared_imports() -> dict[str, str]:
    """``{exported name: 'module.attr'}`` as the TYPE_CHECKING imports of cacheops/__init__.py say."""
    names = {}
    for node in _type_checking_body(SRC / "__init__.py"):
        assert isinstance(node, ast.ImportFrom), ast.unparse(node)
        module = ("cacheops." if node.level else "") + (node.module or "")
        for alias in node.names:
            assert alias.asname in (None, alias.name), f"{alias.name} must be re-exported as itself"
            names[alias.name] = f"{module.rstrip('.')}.{alias.name}"
    return names


def test_every_public_name_is_imported_for_type_checkers():
    declared = _declared_imports()
    assert set(cacheops.__all__) <= set(declared)
    for name, path in declared.items():
        module, _, attr = path.rpartition(".")
        try:
            expected = getattr(importlib.import_module(module), attr)
        except AttributeError:  # `from . import file_cache`: a module
            expected = importlib.import_module(path)
        assert getattr(cacheops, name) is expected, name


def _signature_of(node: ast.FunctionDef) -> list[tuple[str, str, object]]:
    """(name, kind, default) of a declared method's parameters after self."""
    args = node.args
    result: list[tuple[str, str, object]] = []
    positional = [*args.posonlyargs, *args.args][1:]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for arg, default in zip(positional, defaults):
        value = inspect.Parameter.empty if default is None else ast.literal_eval(default)
        result.append((arg.arg, "POSITIONAL_OR_KEYWORD", value))
    if args.vararg:
        result.append((args.vararg.arg, "VAR_POSITIONAL", inspect.Parameter.empty))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        value = inspect.Parameter.empty if default is None else ast.literal_eval(default)
        result.append((arg.arg, "KEYWORD_ONLY", value))
    if args.kwarg:
        result.append((args.kwarg.arg, "VAR_KEYWORD", inspect.Parameter.empty))
    return result


def _runtime_signature(method: object) -> list[tuple[str, str, object]]:
    params = list(inspect.signature(method).parameters.values())[1:]  # type: ignore[arg-type]
    return [(p.name, p.kind.name, p.default) for p in params]


def _declared_methods(class_name: str) -> dict[str, ast.FunctionDef]:
    for node in _type_checking_body(SRC / "managers.py"):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return {f.name: f for f in node.body if isinstance(f, ast.FunctionDef)}
    raise AssertionError(f"managers.py declares no {class_name} for type checkers")


@pytest.mark.parametrize("class_name", ["CacheopsQuerySet", "CacheopsManager"])
def test_declared_queryset_methods_are_the_ones_that_run(class_name):
    declared = _declared_methods(class_name)
    assert {"cache", "nocache", "invalidated_update"} <= set(declared)
    for name, node in declared.items():
        # a manager's queryset methods call the queryset's; get_queryset() is the manager's own
        owner = Manager if name == "get_queryset" else QuerySet
        assert _signature_of(node) == _runtime_signature(getattr(owner, name)), name


@pytest.mark.django_db(transaction=True)
def test_cacheops_manager_hands_out_querysets_that_cache():
    category = Category.objects.create(title="News")
    post = Post.objects.create(title="a", category=category)
    manager = CacheopsManager()
    manager.model = Post  # as a model's class attribute would set it
    assert isinstance(manager, Manager)
    assert isinstance(manager.filter(category=category), CacheopsQuerySet)
    assert isinstance(manager.cache().filter(pk=post.pk).nocache(), CacheopsQuerySet)

    hits = []

    def record(sender, func, hit, **kwargs):
        hits.append(hit)

    cache_read.connect(record)
    try:
        assert manager.cache().get(pk=post.pk) == post
        assert manager.cache().get(pk=post.pk) == post
        assert manager.filter(pk=post.pk).invalidated_update(title="b") == 1
        assert manager.cache().get(pk=post.pk).title == "b"
    finally:
        cache_read.disconnect(record)
    assert hits == [False, True, False]


@pytest.mark.django_db(transaction=True)
def test_decorated_method_binds_and_its_key_takes_the_instance():
    # what CachedFunction.__get__ / BoundCachedFunction tell type checkers
    calls = []

    class Desk:
        def __repr__(self) -> str:
            return "Desk()"  # the key holds the arguments' repr()

        @cacheops.cached(timeout=60)
        def headline(self, tag: int) -> str:
            calls.append(tag)
            return f"tag {tag}"

    desk = Desk()
    assert desk.headline(2) == desk.headline(2) == "tag 2"
    assert calls == [2]
    assert desk.headline.key(desk, 2).get() == "tag 2"
    desk.headline.invalidate(desk, 2)
    assert desk.headline(2) == "tag 2" and calls == [2, 2]
