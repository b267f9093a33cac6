"""Redis persistence for schematics models: several storage layouts, indexes, matching and filtering."""

from __future__ import annotations

from typing import Any

from .base import BaseRedisMixin
from .encoders import ModelJSONEncoder, model_json_default
from .exceptions import (
    ConfigurationError,
    InvalidFilter,
    KeyPrefixWarning,
    MultipleFound,
    NotFound,
    RedisMixinException,
    StrictPerformanceException,
)
from .hashed import HashRedisMixin, HashRedisModel
from .indexed import IndexedRedisMixin, IndexedRedisModel
from .pipeline import AsyncPipeline, Pipeline
from .references import Reference, ReferenceType
from .simple import SimpleRedisMixin, SimpleRedisModel

__version__ = "1.0.0.dev0"
VERSION = (1, 0, 0, "dev0")

__all__ = [
    "AsyncPipeline",
    "BaseRedisMixin",
    "ConfigurationError",
    "HashRedisMixin",
    "HashRedisModel",
    "IndexedRedisMixin",
    "IndexedRedisModel",
    "InvalidFilter",
    "KeyPrefixWarning",
    "ModelJSONEncoder",
    "MultipleFound",
    "NotFound",
    "Pipeline",
    "RedisMixinException",
    "Reference",
    "ReferenceType",
    "SimpleRedisMixin",
    "SimpleRedisModel",
    "StrictPerformanceException",
    "model_json_default",
]

# 0.3.1 imported its filter helpers into the package namespace; they live on (deprecated) in utils.
_FROM_UTILS = {"group_filters_by_suffix", "match_filters"}


def __getattr__(name: str) -> Any:
    if name in _FROM_UTILS:
        from . import utils

        return getattr(utils, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
