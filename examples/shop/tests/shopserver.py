"""``manage.py runshop`` as a child process for the tests, and what they look at in /proc."""

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


def get(url: str) -> tuple[int, str]:
    """Status and body of a GET, redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def children_of(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class RunningShop:
    """``manage.py runshop`` in a child process, on a free port, with its own data folder and Redis."""

    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SHOP_DATA_DIR": str(data_dir)}
        env.pop("REDIS_URL", None)  # runshop starts its own redis-server, as on a fresh machine
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runshop", f"127.0.0.1:{self.port}"],
            cwd=SHOP, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.output = ""
        deadline = time.monotonic() + 120  # waiting for start-up, not a measurement
        while True:
            try:
                get(f"{self.url}/")
                return
            except OSError:
                if self.process.poll() is not None:
                    raise AssertionError(f"runshop exited: {self.process.stdout.read()}") from None
                if time.monotonic() > deadline:
                    self.stop(signal.SIGKILL)
                    raise AssertionError("runshop did not start serving") from None
                time.sleep(0.5)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        self.output, _ = self.process.communicate(timeout=60)
        return self.process.returncode
