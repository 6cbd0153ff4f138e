"""The clients' own rules without a daemon: socket discovery, the method table, parameters,
and framing against a scripted Unix-socket peer (out-of-order answers, events, the incoming
cap, connection-level errors, the outgoing cap), for the sync and the asyncio client."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

from _support import FakeDaemon, send

import pvault
from pvault._protocol import build_params


class Rules(unittest.TestCase):
    def test_socket_discovery_follows_the_cli_rules(self):
        env = {"PVAULT_SOCKET": "/x/s.sock", "XDG_RUNTIME_DIR": "/run/user/7"}
        self.assertEqual(pvault.socket_path(env, 7), "/x/s.sock")
        self.assertEqual(pvault.socket_path({"PVAULT_SOCKET": "", "XDG_RUNTIME_DIR": "/run/user/7"}, 7), "/run/user/7/pvault/pvaultd.sock")
        self.assertEqual(pvault.socket_path({"XDG_RUNTIME_DIR": ""}, 7), "/tmp/pvault-7/pvaultd.sock")

    def test_the_daemons_hint_travels_with_the_error_and_stays_through_for_method(self):
        e = pvault.PvaultError.from_body(
            {"code": "locked", "message": "the vault is locked", "hint": "run `pvault unlock` first"},
            "session.stop",
        )
        self.assertEqual((e.code, e.message, e.hint), ("locked", "the vault is locked", "run `pvault unlock` first"))
        self.assertEqual(str(e), "session.stop: the vault is locked (hint: run `pvault unlock` first)")
        self.assertEqual(e.for_method("vault.lock").hint, "run `pvault unlock` first")
        plain = pvault.PvaultError.from_body({"code": "busy", "message": "m"})
        self.assertIsNone(plain.hint)
        self.assertEqual(str(plain), "m")

    def test_every_method_exists_in_both_clients(self):
        self.assertEqual(len(pvault.METHODS), 33)
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


class Distribution(unittest.TestCase):
    @unittest.skipUnless(importlib.util.find_spec("tomllib"), "tomllib needs Python 3.11")
    def test_distribution_name_is_free_and_the_import_name_is_pvault(self):
        # "pvault" on PyPI is an unrelated password manager: publishing under it is impossible.
        import tomllib

        meta = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
        self.assertEqual(meta["project"]["name"], "pvault-client")
        self.assertEqual(meta["tool"]["setuptools"]["packages"], ["pvault"])


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


def chunked_export_daemon(seen):
    """A fake daemon answering profile.export in three chunk frames (an event between them)."""
    doc = json.dumps({"cookies": [], "origins": [{"origin": "https://a.test", "localStorage": [{"name": "k", "value": "é" * 1000}]}]}).encode()

    def on(req, conn):
        seen.append(req)
        for i, piece in enumerate([doc[:7], doc[7:1500], doc[1500:]]):
            send(conn, {"id": req["id"], "chunk": base64.b64encode(piece).decode()})
            if i == 0:
                send(conn, {"event": "vault.locked", "data": {"reason": "idle"}})
        send(conn, {"id": req["id"], "result": {"snapshot": {"seq": 1}, "left_out": ["x"], "state_bytes": len(doc), "state_chunks": 3}})

    return doc, on


class ChunkedExport(unittest.TestCase):
    def test_chunked_export_is_reassembled(self):
        seen = []
        doc, on = chunked_export_daemon(seen)
        fake = FakeDaemon(on)
        self.addCleanup(fake.close)
        with pvault.Client(fake.path) as c:
            res = c.profile_export("p", format="pvault")
        self.assertEqual(seen[0]["params"], {"format": "pvault", "name": "p", "chunked": True})
        self.assertEqual(res["state"], json.loads(doc))
        self.assertEqual(res["left_out"], ["x"])

    def test_async_chunked_export_is_reassembled(self):
        seen = []
        doc, on = chunked_export_daemon(seen)
        fake = FakeDaemon(on)
        self.addCleanup(fake.close)

        async def go():
            async with pvault.AsyncClient.connect(fake.path) as c:
                return await c.profile_export("p")

        res = asyncio.run(go())
        self.assertEqual(seen[0]["params"], {"name": "p", "chunked": True})
        self.assertEqual(res["state"], json.loads(doc))


class VerifyFindings(unittest.TestCase):
    """``vault_verify()`` passes the typed findings on, and gives none (``[]``) for a daemon
    older than protocol 1.5, in both clients."""

    FINDING = {"profile": "ab" * 16, "seq": 2, "record": "history", "kind": "missing", "message": "m"}

    def daemon(self, with_findings: bool) -> FakeDaemon:
        def on(req, conn):
            result = {"ok": False, "records": 3, "failures": ["m"]}
            if with_findings:
                result["findings"] = [self.FINDING]
            send(conn, {"id": req["id"], "result": result})

        fake = FakeDaemon(on)
        self.addCleanup(fake.close)
        return fake

    def test_verify_findings_sync_client(self):
        with pvault.Client(self.daemon(True).path) as c:
            v = c.vault_verify()
        self.assertEqual(v["findings"], [self.FINDING])
        self.assertIn(v["findings"][0]["kind"], pvault.FINDING_KINDS)
        self.assertIn(v["findings"][0]["record"], pvault.FINDING_RECORDS)
        with pvault.Client(self.daemon(False).path) as c:
            self.assertEqual(c.vault_verify()["findings"], [])

    def test_verify_findings_async_client(self):
        async def go(path):
            async with pvault.AsyncClient.connect(path) as c:
                return await c.vault_verify()

        self.assertEqual(asyncio.run(go(self.daemon(True).path))["findings"], [self.FINDING])
        old = asyncio.run(go(self.daemon(False).path))
        self.assertEqual((old["findings"], old["failures"]), ([], ["m"]))


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


HAVE_PLAYWRIGHT = importlib.util.find_spec("playwright") is not None


class DyingFake(FakeDaemon):
    """Closes its first ``drops`` connections before any answer, as a daemon being killed
    does; later ones answer hello, then close on the first request (recorded)."""

    def __init__(self, drops: int):
        self.drops = drops
        self.connections = 0
        super().__init__(lambda req, conn: conn.shutdown(socket.SHUT_RDWR))

    def _conn(self, conn):
        self.connections += 1
        if self.connections <= self.drops:
            conn.close()
            return
        super()._conn(conn)


def stale_socket() -> str:
    """A socket file nobody listens on (what a killed daemon leaves): connecting is refused."""
    d = tempfile.mkdtemp(prefix="pvault-py-unit-")
    path = os.path.join(d, "s.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    return path


class DyingDaemon(unittest.TestCase):
    def test_sync_retries_a_drop_before_hello_and_never_resends_a_request(self):
        fake = DyingFake(drops=2)
        self.addCleanup(fake.close)
        with pvault.Client(fake.path, timeout=5) as c:
            self.assertEqual(fake.connections, 3)
            with self.assertRaises(pvault.PvaultError) as cm:
                c.profile_delete("x")
            self.assertEqual(cm.exception.code, "unavailable")
        self.assertEqual([r["method"] for r in fake.requests], ["profile.delete"])
        self.assertEqual(fake.connections, 3)

    def test_sync_refused_is_retried_then_reported(self):
        t0 = time.monotonic()
        with self.assertRaises(pvault.PvaultError) as cm:
            pvault.Client(stale_socket(), timeout=5)
        self.assertEqual(cm.exception.code, "unavailable")
        self.assertGreaterEqual(time.monotonic() - t0, 0.025)


class AsyncDyingDaemon(unittest.IsolatedAsyncioTestCase):
    async def test_async_retries_a_drop_before_hello_and_never_resends_a_request(self):
        fake = DyingFake(drops=2)
        self.addCleanup(fake.close)
        async with pvault.AsyncClient.connect(fake.path, timeout=5) as c:
            self.assertEqual(fake.connections, 3)
            with self.assertRaises(pvault.PvaultError) as cm:
                await c.profile_delete("x")
            self.assertEqual(cm.exception.code, "unavailable")
        self.assertEqual([r["method"] for r in fake.requests], ["profile.delete"])
        self.assertEqual(fake.connections, 3)

    async def test_async_refused_is_retried_then_reported(self):
        t0 = time.monotonic()
        with self.assertRaises(pvault.PvaultError) as cm:
            await pvault.AsyncClient.connect(stale_socket(), timeout=5)
        self.assertEqual(cm.exception.code, "unavailable")
        self.assertGreaterEqual(time.monotonic() - t0, 0.025)


class ChromeWithPort:
    """Chromium with its own DevTools port, standing in for a browser pvaultd started."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pvault-py-chrome-")
        chrome = os.environ.get("PVAULT_CHROME") or "/usr/lib/chromium/chromium"
        self.proc = subprocess.Popen([chrome, "--headless=new", "--no-sandbox", "--remote-debugging-port=0", f"--user-data-dir={self.dir}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = Path(self.dir, "DevToolsActivePort")
        deadline = time.monotonic() + 20
        while True:
            lines = port_file.read_text().splitlines() if port_file.exists() else []
            if len(lines) >= 2 and lines[1]:
                break
            if time.monotonic() > deadline:
                self.close()
                raise AssertionError("Chromium did not write DevToolsActivePort within 20 s")
            time.sleep(0.05)
        self.ws = f"ws://127.0.0.1:{lines[0]}{lines[1]}"

    def close(self):
        # The whole process group: Chromium's helpers outlive a killed main process.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def session_daemon(ws: str, stops: list) -> FakeDaemon:
    """A fake pvaultd whose session.start hands out `ws` and whose session.stop is recorded."""

    def on(req, conn):
        result: dict = {}
        if req["method"] == "session.start":
            p = req["params"]
            result = {"session": {"session_id": f"s{req['id']}", "cdp_ws_url": ws, "pid": None, "profile": p.get("profile"), "save": p.get("save", False), "attached": False, "started_at": 0}, "load": None}
        elif req["method"] == "session.stop":
            stops.append(req["params"])
            result = {"session_id": req["params"]["session_id"], "snapshot": None, "capture": None}
        send(conn, {"id": req["id"], "result": result})

    return FakeDaemon(on)


@unittest.skipUnless(HAVE_PLAYWRIGHT, "the playwright package is not installed (pip install playwright)")
class PlaywrightHelpers(unittest.TestCase):
    """The helpers against a scripted daemon and a real browser: the block runs in the
    browser, and the session is stopped (saving or discarding as asked) also on an exception."""

    def setUp(self):
        self.chrome = ChromeWithPort()
        self.addCleanup(self.chrome.close)
        self.stops: list = []
        self.fake = session_daemon(self.chrome.ws, self.stops)
        self.addCleanup(self.fake.close)

    def test_sync_session(self):
        import pvault.playwright

        with pvault.playwright.session("github", save=True, socket_path=self.fake.path) as (browser, context):
            self.assertIs(browser.contexts[0], context)
            page = context.pages[0] if context.pages else context.new_page()
            page.set_content("<title>hello</title>")
            self.assertEqual(page.title(), "hello")
        self.assertEqual(self.stops[-1]["discard"], False)
        with self.assertRaises(ZeroDivisionError):
            with pvault.playwright.session("github", save=True, save_on_error=False, socket_path=self.fake.path):
                1 / 0
        self.assertEqual(self.stops[-1]["discard"], True)
        start = [r for r in self.fake.requests if r["method"] == "session.start"][-1]
        self.assertEqual(start["params"], {"profile": "github", "save": True})

    def test_async_session(self):
        import pvault.playwright

        async def run():
            async with pvault.playwright.async_session("github", socket_path=self.fake.path, headful=False) as (browser, context):
                page = context.pages[0] if context.pages else await context.new_page()
                await page.set_content("<title>async</title>")
                return await page.title()

        self.assertEqual(asyncio.run(run()), "async")
        self.assertEqual(self.stops, [{"session_id": self.stops[0]["session_id"], "discard": True}])


if __name__ == "__main__":
    unittest.main()
