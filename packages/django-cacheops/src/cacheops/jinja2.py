"""Jinja2 extension caching template fragments: add ``cacheops.jinja2.cache`` to the extensions.

``{% cached_as queryset [, timeout=600] [, extra=...] %}...{% endcached_as %}`` keeps the rendered
fragment until a row that could change ``queryset`` (querysets, models or instances; several may be
given) is saved or deleted; ``{% cached [timeout=600] [, extra=...] %}...{% endcached %}`` keeps it
for a time.  The key is the template name, the tag's line, a digest of the block's own source and
``extra``, so editing a fragment never serves its old rendering.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

import cacheops.simple

__all__ = ["CacheopsExtension", "cache"]

_OPTIONS = {
    "cached": frozenset({"timeout", "extra"}),
    "cached_as": frozenset({"timeout", "extra", "lock", "keep_fresh"}),
}

_renderer: ContextVar[Callable[[], str]] = ContextVar("cacheops_jinja2_renderer")


def _fragment() -> str:
    # one fixed function for every fragment: the key is made of the tag's location and extra
    return _renderer.get()().strip()


class CacheopsExtension(Extension):
    """Adds the ``cached_as`` and ``cached`` block tags."""

    tags = {"cached_as", "cached"}

    def parse(self, parser: Parser) -> nodes.Node:
        token = next(parser.stream)
        tag, lineno = token.value, token.lineno
        args: list[nodes.Expr] = []
        kwargs: list[nodes.Keyword] = []
        while parser.stream.current.type != "block_end":
            if args or kwargs:
                parser.stream.expect("comma")
            if parser.stream.current.type == "name" and parser.stream.look().type == "assign":
                key = parser.stream.current.value
                if key not in _OPTIONS[tag]:
                    parser.fail(f"'{tag}' takes no option {key!r} (only {', '.join(sorted(_OPTIONS[tag]))})")
                parser.stream.skip(2)
                kwargs.append(nodes.Keyword(key, parser.parse_expression(), lineno=lineno))
            elif kwargs:
                parser.fail(f"'{tag}': a positional argument after keyword ones", lineno)
            else:
                args.append(parser.parse_expression())
        if tag == "cached" and args:
            parser.fail("'cached' takes only timeout= and extra=; use 'cached_as' to give querysets", lineno)
        if tag == "cached_as" and not args:
            parser.fail("'cached_as' needs at least one queryset, model or instance", lineno)
        body = parser.parse_statements((f"name:end{tag}",), drop_needle=True)
        source = hashlib.md5(repr(body).encode(), usedforsecurity=False).hexdigest()
        location = f"{parser.name}:{lineno}:{source}"
        call = self.call_method(
            "_render", [nodes.Const(tag), nodes.Const(location), nodes.List(args)], kwargs, lineno=lineno
        )
        return nodes.CallBlock(call, [], [], body, lineno=lineno)

    def _render(
        self, tag: str, location: str, samples: list, caller: Callable[[], str], **options: Any
    ) -> str:
        extra = (location, options.pop("extra", None))
        if tag == "cached":
            decorator = cacheops.simple.cached(extra=extra, **options)
        else:
            decorator = cacheops.simple.cached_as(*samples, extra=extra, **options)
        token = _renderer.set(caller)
        try:
            return decorator(_fragment)()
        finally:
            _renderer.reset(token)


cache = CacheopsExtension
