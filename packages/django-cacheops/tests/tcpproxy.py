"""A real TCP proxy on a loopback port, to put a network between cacheops and its Redis.

``forward()``: bytes go both ways. ``silence()``: a network partition that drops packets without
resetting anything: connections stay open, new ones are accepted, and every byte is dropped.
``refuse()``: the server is down: every connection is closed and new ones are closed at once.
"""

from __future__ import annotations

import socket
import threading

_MODES = ("forward", "silence", "refuse")


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode = "forward"
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="tcpproxy", daemon=True)
        self._thread.start()

    # -- switching
    def forward(self) -> None:
        self._switch("forward")

    def silence(self) -> None:
        self._switch("silence")

    def refuse(self) -> None:
        self._switch("refuse")

    def _switch(self, mode: str) -> None:
        assert mode in _MODES
        with self._lock:
            was, self.mode = self.mode, mode
            # bytes dropped while silent leave the connections out of step: start afresh
            if mode == "refuse" or (was == "silence" and mode == "forward"):
                self._close_all()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._close_all()
        self._listener.close()
        self._thread.join(timeout=5)

    # -- the threads
    def _close_all(self) -> None:
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._sockets.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._closed or self.mode == "refuse":
                    client.close()
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if self.mode != "forward":
                continue  # dropped on the way
            try:
                dst.sendall(data)
            except OSError:
                return
