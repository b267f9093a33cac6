"""Redis persistence for schematics models: several storage layouts, indexes, matching and filtering."""

__version__ = "1.0.0.dev0"
