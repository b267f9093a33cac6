"""Redis persistence for schematics models: several storage layouts, indexes, matching and filtering."""

from .base import BaseRedisMixin
from .exceptions import (
    ConfigurationError,
    InvalidFilter,
    MultipleFound,
    NotFound,
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
    "MultipleFound",
    "NotFound",
    "Pipeline",
    "Reference",
    "ReferenceType",
    "SimpleRedisMixin",
    "SimpleRedisModel",
    "StrictPerformanceException",
]
