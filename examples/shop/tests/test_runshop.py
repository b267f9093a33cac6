"""``manage.py runshop`` serves the shop with its worker, for a person to click through."""

import re
import signal
import time

from tests.shopserver import RunningShop, alive, children_of, get


def test_runshop_serves_the_shop_and_stops_its_worker_and_redis_on_sigterm(tmp_path):
    shop = RunningShop(tmp_path)
    children = children_of(shop.process.pid)
    try:
        status, page = get(f"{shop.url}/")
        assert status == 200
        assert "Apple" in page and "Cheese" in page  # the sample catalog was stocked
        # stock levels from the Redis ledger: milk has 2 units north (low, in red) and 30 south
        row = re.search(r'<tr data-sku="MLK">(.*?)</tr>', page, re.S)[1]
        assert re.findall(r'<td class="num( low)?">(\d+)</td>', row) == [(" low", "2"), ("", "30")]
        assert get(f"{shop.url}/products/MLK/")[0] == 200
        status, orders = get(f"{shop.url}/orders/")
        assert status == 200 and "No orders yet" in orders
        status, _ = get(f"{shop.url}/admin/synchro/")
        assert status == 302  # staff only: anonymous visitors are sent to the login page
    finally:
        code = shop.stop(signal.SIGTERM)
    assert code == 0, shop.output
    assert "created the superuser admin" in shop.output
    assert f"data: {tmp_path}" in shop.output
    assert "redis: Redis " in shop.output
    assert (tmp_path / "worker.log").exists()  # a worker ran beside the server
    # the Celery worker and the redis-server were its children; SIGTERM stopped them too
    assert len(children) >= 2, children
    deadline = time.monotonic() + 30  # waiting for exits, not a measurement
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if alive(pid)], shop.output
