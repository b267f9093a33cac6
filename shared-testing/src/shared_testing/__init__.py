"""Test harness shared by the monorepo's packages (never published).

The always-on part (:mod:`shared_testing.plugin`) only adds options and markers.
The harnesses are opt-in pytest plugins, enabled per package with
``addopts = ["-p", "shared_testing.redis"]`` and friends:

* :mod:`shared_testing.redis` -- a real ``redis-server`` and a real Redis Cluster;
* :mod:`shared_testing.django` -- database settings builders and Django helpers;
* :mod:`shared_testing.celery` -- a Celery app and a real worker on a real broker.
"""
