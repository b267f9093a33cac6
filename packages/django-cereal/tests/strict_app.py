"""A Celery app that accepts JSON only, run as a separate worker process by test_worker.py."""

from __future__ import annotations

import os

from celery import Celery

app = Celery("strict", broker=os.environ["CEREAL_STRICT_BROKER"], backend=os.environ["CEREAL_STRICT_BACKEND"])
app.conf.update(
    accept_content=["json", "django-cereal-json"],
    task_default_queue=os.environ["CEREAL_STRICT_QUEUE"],
    broker_connection_retry_on_startup=True,
)


@app.task(name="cereal.strict_echo")
def echo(value):
    return value
