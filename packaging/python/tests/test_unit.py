"""The clients' own rules without a daemon: socket discovery, the method table, parameters,
and framing against a scripted Unix-socket peer (out-of-order answers, events, the incoming
cap, connection-level errors, the outgoing cap), for the sync and the asyncio client."""

from __future__ import annotations

import asyncio
import threading
import unittest

from _support import FakeDaemon, send

import pvault
from pvault._protocol import build_params


class Rules(unittest.TestCase):
    def test_socket_discovery_follows_the_cli_rules(self):
        env = {"PVAULT_SOCKET": "/x/s.sock", "XDG_RUNTIME_DIR": "/run/user/7"}
        self.assertEqual(pvault.socket_path(env, 7), "/x/s.sock")
        self.assertEqual(pvault.socket_path({"PVAULT_SOCKET": "", "XDG_RUNTIME_DIR": "/run/user/7"}, 7), "/run/user/7/pvault/pvaultd.sock")
        self.assertEqual(pvault.socket_path({"XDG_RUNTIME_DIR": ""}, 7), "/tmp/pvault-7/pvaultd.sock")

    def test_every_method_exists_in_both_clients(self):
        self.assertEqual(len(pvault.METHODS), 28)
        for m in pvault.METHODS:
            name = m.replace(".", "_")
            self.assertTrue(callable(getattr(pvault.Client, name)), name)
            self.assertTrue(asyncio.iscoroutinefunction(getattr(pvault.AsyncClient, name)), name)

    def test_params(self):
        self.assertEqual(build_params("profile.diff", ("gh",), {"from_": "1", "to": None}), {"name": "gh", "from": "1"})
        self.assertEqual(build_params("vault.unlock", (pvault.passphrase("p"),), {}), {"credential": {"passphrase": "p"}})
        with self.assertRaises(TypeError):
            build_params("status", ("x",), {})
        self.assertEqual(pvault.key_file(b"\x00\x01\xff"), {"key_file": "AAH/"})


class SyncFraming(unittest.TestCase):
    def test_errors_and_events(self):
        def on(req, conn):
            if req["method"] == "subscribe":
                # A response and half an event in one write, the rest later.
                conn.sendall(b'{"id":%d,"result":{}}\n{"event":"vault.lo' % req["id"])
                conn.sendall(b'cked","data":{"reason":"idle"}}\r\n')
            else:
                send(conn, {"id": req["id"], "error": {"code": "not_found", "message": "no profile"}})

        fake = FakeDaemon(on)
        self.addCleanup(fake.close)
        with pvault.Client(fake.path) as c:
            self.assertEqual(c.server["daemon_version"], "fake")
            c.subscribe()
            self.assertEqual(c.next_event(timeout=5), {"event": "vault.locked", "data": {"reason": "idle"}})
            with self.assertRaises(pvault.PvaultError) as cm:
                c.profile_show("x")
            self.assertEqual((cm.exception.code, cm.exception.method), ("not_found", "profile.show"))
            self.assertEqual(fake.requests[-1], {"id": 3, "method": "profile.show", "params": {"name": "x"}})

    def test_incoming_line_over_the_cap(self):
        fake = FakeDaemon(lambda req, conn: [conn.sendall(b"a" * 40960) for _ in range(3)])
        self.addCleanup(fake.close)
        c = pvault.Client(fake.path, max_message_bytes=65536)
        with self.assertRaises(pvault.PvaultError) as cm:
            c.status()
        self.assertEqual(cm.exception.code, "too_large")
        self.assertTrue(c.closed)
        with self.assertRaises(pvault.PvaultError) as cm:
            c.status()
        self.assertEqual(cm.exception.code, "too_large")

    def test_connection_level_error(self):
        fake = FakeDaemon(lambda req, conn: send(conn, {"id": None, "error": {"code": "too_large", "message": "over"}}))
        self.addCleanup(fake.close)
        c = pvault.Client(fake.path)
        with self.assertRaises(pvault.PvaultError) as cm:
            c.status()
        self.assertEqual(cm.exception.code, "too_large")

    def test_request_over_the_limit_is_refused_locally(self):
        fake = FakeDaemon(lambda req, conn: send(conn, {"id": req["id"], "result": {}}))
        self.addCleanup(fake.close)
        with pvault.Client(fake.path, max_request_bytes=1000) as c:
            with self.assertRaises(pvault.PvaultError) as cm:
                c.profile_import("x", state={"cookies": [], "origins": [{"origin": "x", "localStorage": [{"name": "k", "value": "v" * 2000}]}]})
            self.assertEqual(cm.exception.code, "too_large")
            self.assertEqual(fake.requests, [])
            c.status()
            self.assertEqual(len(fake.requests), 1)

    def test_missing_socket(self):
        with self.assertRaises(pvault.PvaultError) as cm:
            pvault.Client("/nonexistent/pvaultd.sock")
        self.assertEqual(cm.exception.code, "unavailable")
        self.assertIn("PVAULT_SOCKET", str(cm.exception))


class AsyncFraming(unittest.IsolatedAsyncioTestCase):
    async def test_pipelined_answers_in_reverse_order(self):
        held, lock = [], threading.Lock()

        def on(req, conn):
            with lock:
                held.append(req)
                if len(held) == 3:
                    for r in reversed(held):
                        send(conn, {"id": r["id"], "result": {"echo": r["params"]["name"]}})

        fake = FakeDaemon(on)
        self.addCleanup(fake.close)
        async with pvault.AsyncClient.connect(fake.path) as c:
            got = await asyncio.gather(*(c.profile_show(n) for n in "abc"))
            self.assertEqual([g["echo"] for g in got], ["a", "b", "c"])

    async def test_events_and_error_codes(self):
        def on(req, conn):
            if req["method"] == "subscribe":
                conn.sendall(b'{"id":%d,"result":{}}\n{"event":"vault.unlocked","data":{"vault_id":"ab"}}\n' % req["id"])
            else:
                send(conn, {"id": req["id"], "error": {"code": "locked", "message": "unlock first"}})

        fake = FakeDaemon(on)
        self.addCleanup(fake.close)
        async with pvault.AsyncClient.connect(fake.path) as c:
            await c.subscribe()
            self.assertEqual(await c.next_event(timeout=5), {"event": "vault.unlocked", "data": {"vault_id": "ab"}})
            with self.assertRaises(pvault.PvaultError) as cm:
                await c.profile_list()
            self.assertEqual(cm.exception.code, "locked")

    async def test_incoming_line_over_the_cap(self):
        fake = FakeDaemon(lambda req, conn: [conn.sendall(b"a" * 40960) for _ in range(3)])
        self.addCleanup(fake.close)
        c = await pvault.AsyncClient.connect(fake.path, max_message_bytes=65536)
        with self.assertRaises(pvault.PvaultError) as cm:
            await c.status()
        self.assertEqual(cm.exception.code, "too_large")
        await c.close()

    async def test_default_limit_accepts_lines_over_64_kib(self):
        big = "v" * (1 << 20)
        fake = FakeDaemon(lambda req, conn: send(conn, {"id": req["id"], "result": {"big": big}}))
        self.addCleanup(fake.close)
        async with pvault.AsyncClient.connect(fake.path) as c:
            self.assertEqual(len((await c.status())["big"]), 1 << 20)

    async def test_missing_socket(self):
        with self.assertRaises(pvault.PvaultError) as cm:
            await pvault.AsyncClient.connect("/nonexistent/pvaultd.sock")
        self.assertEqual(cm.exception.code, "unavailable")


if __name__ == "__main__":
    unittest.main()
