"""Template fragment caching for Django templates: ``{% load cacheops %}``.

``{% cached timeout name [extra ...] %} ... {% endcached %}`` keeps the rendered fragment for
``timeout`` seconds; ``{% cached_as queryset timeout name [extra ...] %} ... {% endcached_as %}``
keeps it until a row that could change ``queryset`` is saved or deleted.  ``name`` and ``extra``
make the key, so the same fragment may be used in several templates, and
:func:`invalidate_fragment` drops a ``{% cached %}`` fragment from Python code.

``register.decorator_tag`` turns a function returning a function-cache decorator into a block
tag of the same name; it parses its arguments itself (Django 6.1 changed the signature of
``django.template.library.parse_bits``, so it is not used).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar, overload

from django.template import Library, Node, NodeList, TemplateSyntaxError
from django.template.base import FilterExpression, Parser, Token, token_kwargs
from django.template.context import Context
from django.utils.safestring import SafeString, mark_safe

import cacheops.simple

__all__ = ["CacheopsLibrary", "cached", "cached_as", "invalidate_fragment", "register"]

_F = TypeVar("_F", bound=Callable[..., Any])

# What renders the fragment being cached (the cached function itself is one fixed function,
# so that a fragment's key depends only on the tag's arguments, not on the template it is in).
_renderer: ContextVar[Callable[[], str]] = ContextVar("cacheops_fragment_renderer")


def _fragment() -> str:
    # whitespace around a fragment is not kept: it would only cost memory
    return _renderer.get()().strip()


class DecoratorNode(Node):
    """A block whose rendering goes through the decorator returned by the tag's function."""

    def __init__(
        self,
        func: Callable,
        takes_context: bool,
        args: list[FilterExpression],
        kwargs: dict[str, FilterExpression],
        nodelist: NodeList,
    ) -> None:
        self.func = func
        self.takes_context = takes_context
        self.args = args
        self.kwargs = kwargs
        self.nodelist = nodelist

    def render(self, context: Context) -> SafeString:
        args = [arg.resolve(context) for arg in self.args]
        if self.takes_context:
            args.insert(0, context)
        kwargs = {name: value.resolve(context) for name, value in self.kwargs.items()}
        decorator = self.func(*args, **kwargs)
        token = _renderer.set(lambda: self.nodelist.render(context))
        try:
            return mark_safe(decorator(_fragment)())
        finally:
            _renderer.reset(token)


class CacheopsLibrary(Library):
    """A template library with :meth:`decorator_tag`."""

    @overload
    def decorator_tag(self, func: _F, takes_context: bool = False) -> _F: ...

    @overload
    def decorator_tag(self, func: None = None, takes_context: bool = False) -> Callable[[_F], _F]: ...

    def decorator_tag(self, func: Callable[..., Any] | None = None, takes_context: bool = False) -> Any:
        """Register ``func`` as a block tag ``{% <name> args %}...{% end<name> %}``.

        ``func`` receives the tag's resolved arguments (after the context when ``takes_context``)
        and returns a decorator such as ``cached(...)`` or ``cached_as(...)``; the block's rendered
        content is computed through it.  Usable bare or as ``@register.decorator_tag(takes_context=True)``.
        """
        if func is None:
            return lambda f: self.decorator_tag(f, takes_context=takes_context)
        name = func.__name__
        signature = inspect.signature(func)
        if takes_context and not signature.parameters:
            raise TypeError(f"{name}() takes the context, so its first parameter must be 'context'")

        def compile_tag(parser: Parser, token: Token) -> DecoratorNode:
            bits = token.split_contents()[1:]
            args: list[FilterExpression] = []
            kwargs: dict[str, FilterExpression] = {}
            for bit in bits:
                kwarg = token_kwargs([bit], parser)
                if kwarg:
                    if set(kwarg) & set(kwargs):
                        raise TemplateSyntaxError(f"'{name}' received {next(iter(kwarg))!r} twice")
                    kwargs.update(kwarg)
                elif kwargs:
                    raise TemplateSyntaxError(f"'{name}' received a positional argument after keyword ones")
                else:
                    args.append(parser.compile_filter(bit))
            # check the arguments fit the function now, at template compile time
            placeholders = [None] * (len(args) + takes_context)
            try:
                signature.bind(*placeholders, **dict.fromkeys(kwargs))
            except TypeError as e:
                raise TemplateSyntaxError(f"'{name}' tag: {e}") from None
            nodelist = parser.parse((f"end{name}",))
            parser.delete_first_token()
            return DecoratorNode(func, takes_context, args, kwargs, nodelist)

        self.tag(name, compile_tag)
        return func


register = CacheopsLibrary()


@register.decorator_tag
def cached(timeout: int | None, fragment_name: str, *extra: Any) -> Callable:
    """``{% cached timeout name extra... %}``: keep the fragment for ``timeout`` seconds."""
    return cacheops.simple.cached(timeout=timeout, extra=(fragment_name, *extra))


@register.decorator_tag
def cached_as(queryset: Any, timeout: int | None, fragment_name: str, *extra: Any) -> Callable:
    """``{% cached_as queryset timeout name extra... %}``: keep the fragment until ``queryset``
    (a queryset, model or instance) could have changed."""
    return cacheops.simple.cached_as(queryset, timeout=timeout, extra=(fragment_name, *extra))


def invalidate_fragment(fragment_name: str, *extra: Any) -> None:
    """Drop the ``{% cached %}`` fragment cached under this name and extra values."""
    cached(None, fragment_name, *extra)(_fragment).invalidate()
