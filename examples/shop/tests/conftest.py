import os

from shop.servers import ensure_redis

# Settings read REDIS_URL when they are imported; make sure a Redis is there first.
ensure_redis()
# Playwright's sync API runs an event loop in the test thread; the ORM calls made next to it
# are ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
