"""``manage.py runshop`` serves the shop with its worker, for a person to click through."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

SHOP = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_runshop_serves_the_shop_and_the_synchro_page(tmp_path):
    port = _free_port()
    env = {**os.environ, "SHOP_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runshop", f"127.0.0.1:{port}"],
        cwd=SHOP, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # waiting for start-up, not a measurement
        while True:
            try:
                status, page = _get(f"{base}/")
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "runshop did not start serving"
                time.sleep(0.5)
        assert status == 200
        assert "Apple" in page and "Cheese" in page  # the sample catalog was stocked
        assert _get(f"{base}/products/MLK/")[0] == 200
        status, _ = _get(f"{base}/admin/synchro/")
        assert status == 302  # staff only: anonymous visitors are sent to the login page
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert "created the superuser admin" in output
    assert (tmp_path / "worker.log").exists()  # a worker ran beside the server
