"""Log changes of Django objects and synchronize them from one database to another."""

__version__ = "1.0.0.dev0"
