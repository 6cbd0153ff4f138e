"""Shared by the test modules: puts packaging/python on sys.path, and a scripted fake daemon
on a real Unix socket for the client-only tests."""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class FakeDaemon:
    """Answers ``hello``, then hands every other request to ``on_request(req, conn)``."""

    def __init__(self, on_request):
        self.on_request = on_request
        self.dir = tempfile.TemporaryDirectory(prefix="pvault-py-unit-")
        self.path = os.path.join(self.dir.name, "s.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen()
        self.requests: list[dict] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn):
        buf = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    req = json.loads(line)
                    if req["method"] == "hello":
                        send(conn, {"id": req["id"], "result": {"protocol": {"major": 1, "minor": 0}, "daemon_version": "fake", "pid": 1}})
                        continue
                    self.requests.append(req)
                    try:
                        self.on_request(req, conn)
                    except OSError:
                        return

    def close(self):
        self.sock.close()
        self.dir.cleanup()


def send(conn, obj) -> None:
    conn.sendall(json.dumps(obj).encode() + b"\n")
