"""The shop's log handler: messages go to whatever ``sys.stderr`` is when they are written.

A plain ``StreamHandler`` keeps the stream it was given when logging was configured; under
pytest that is a capture file which is closed before the atexit handlers (which stop the
redis-server and log it) run.
"""

from __future__ import annotations

import logging
import sys
from typing import Any


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stderr
