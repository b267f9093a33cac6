def test_worker_round_trip_through_real_broker(celery_app, celery_worker):
    from tests.tasks import add

    result = add.delay(2, 3)
    assert result.get(timeout=20) == 5
    assert celery_app.conf.broker_url.split("://")[0] in {"redis", "amqp", "pyamqp"}
    # the message went through a broker: the worker reports the task as received by name
    assert result.status == "SUCCESS"
