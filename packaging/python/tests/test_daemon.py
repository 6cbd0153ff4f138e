"""Every protocol method once per client (sync and asyncio) against a real pvaultd, error
mapping (not_found, conflict, locked, auth_failed, too_large), events and pipelining.

Needs a fresh daemon with no vault: the e2e suite (tests/e2e/clients.rs) sets PVAULT_SOCKET
and PVAULT_TEST_DAEMON=1. The tests run in name order and build on each other; the last one
shuts the daemon down."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import _support  # noqa: F401  (sys.path)

import pvault

ENABLED = os.environ.get("PVAULT_TEST_DAEMON") == "1"
PASS = "python client passphrase"
TMP = tempfile.TemporaryDirectory(prefix="pvault-py-", ignore_cleanup_errors=True)


def state(token: str, **extra: str) -> dict:
    return {
        "cookies": [{"name": "sid", "value": token, "domain": "example.test", "path": "/", "expires": -1, "httpOnly": True, "secure": False, "sameSite": "Lax"}],
        "origins": [{"origin": "https://example.test", "localStorage": [{"name": "token", "value": token}] + [{"name": k, "value": v} for k, v in extra.items()]}],
    }


def kill_chrome(proc: subprocess.Popen) -> None:
    """Kills Chromium's whole process group (its helpers outlive a killed main process)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def start_chrome() -> tuple[subprocess.Popen, str]:
    """Chromium with a DevTools port of its own, for session.attach."""
    profile = tempfile.mkdtemp(dir=TMP.name)
    chrome = os.environ.get("PVAULT_CHROME") or "/usr/lib/chromium/chromium"
    proc = subprocess.Popen([chrome, "--headless=new", "--no-sandbox", "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    port_file = Path(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 20
    while not (port_file.exists() and "\n" in port_file.read_text()):
        if time.monotonic() > deadline:
            kill_chrome(proc)
            raise AssertionError("Chromium did not write DevToolsActivePort within 20 s")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text().splitlines()[0]}"


def wait_event(c: pvault.Client, name: str) -> dict:
    """The next event called `name` (others, e.g. `vault.unlocked` from `vault.init`, are skipped)."""
    while True:
        ev = c.next_event(timeout=10)
        if ev["event"] == name:
            return ev


async def wait_event_async(c: pvault.AsyncClient, name: str) -> dict:
    while True:
        ev = await c.next_event(timeout=10)
        if ev["event"] == name:
            return ev


@unittest.skipUnless(ENABLED, "needs a fresh pvaultd: run through the e2e suite (PVAULT_TEST_DAEMON=1)")
class Daemon(unittest.TestCase):
    def code(self, code: str):
        """Context manager asserting a PvaultError with `code`."""
        test = self

        class Expect:
            def __enter__(self):
                return self

            def __exit__(self, typ, exc, tb):
                test.assertIsNotNone(exc, f"expected {code}, got success")
                test.assertIsInstance(exc, pvault.PvaultError)
                test.assertEqual(exc.code, code, str(exc))
                return True

        return Expect()

    def test_1_sync_client_every_method(self):
        with pvault.Client() as c:
            self.assertEqual(c.server["protocol"]["major"], 1)
            with self.code("invalid_argument"):
                c.hello(protocol=1)
            c.subscribe()
            s = c.status()
            self.assertEqual((s["vault_exists"], s["locked"]), (False, True))
            with self.code("not_found"):
                c.vault_unlock(pvault.passphrase(PASS))

            init = c.vault_init(pvault.passphrase(PASS))
            with self.code("conflict"):
                c.vault_init(credential=pvault.passphrase(PASS))
            c.vault_lock()
            self.assertEqual(wait_event(c, "vault.locked"), {"event": "vault.locked", "data": {"reason": "request"}})
            with self.code("locked"):
                c.profile_list()
            with self.code("auth_failed"):
                c.vault_unlock(pvault.passphrase("wrong"))
            self.assertEqual(c.vault_unlock(pvault.passphrase(PASS))["vault_id"], init["vault_id"])
            self.assertEqual(wait_event(c, "vault.unlocked")["data"]["vault_id"], init["vault_id"])

            self.assertEqual(c.profile_create("github", description="work")["profile"]["description"], "work")
            with self.code("conflict"):
                c.profile_create(name="github")
            with self.code("not_found"):
                c.profile_show("nope")
            first = c.profile_import("github", state=state("one"))
            self.assertEqual(wait_event(c, "snapshot.saved")["data"]["snapshot"]["id"], first["snapshot"]["id"])
            second = c.profile_import("github", state=state("two", extra="x"))
            self.assertEqual(c.profile_export("github")["state"]["cookies"][0]["value"], "two")
            self.assertEqual(c.profile_export("github", snapshot=str(first["snapshot"]["seq"]))["state"]["cookies"][0]["value"], "one")
            # Formats: Playwright's names what it cannot hold (names only), pvault's keeps it.
            full = {"pvault": 1, "cookies": [], "origins": [{"origin": "https://spa.test", "localStorage": [],
                    "sessionStorage": [{"name": "msal.token", "value": "SECRETSESSION"}]}]}
            c.profile_import("spa", state=full)
            pw = c.profile_export("spa")
            self.assertNotIn("sessionStorage", pw["state"]["origins"][0])
            self.assertEqual(len(pw["left_out"]), 1)
            self.assertIn("sessionStorage", pw["left_out"][0])
            self.assertNotIn("SECRET", pw["left_out"][0])
            own = c.profile_export("spa", format="pvault")
            self.assertEqual((own["state"]["pvault"], own["left_out"]), (1, []))
            self.assertEqual(own["state"]["origins"][0]["sessionStorage"], full["origins"][0]["sessionStorage"])
            self.assertEqual(c.profile_export("spa", format="pvault", chunked=False)["state"], own["state"])
            c.profile_delete("spa")
            self.assertEqual([s["id"] for s in c.profile_history("github")["snapshots"]], [second["snapshot"]["id"], first["snapshot"]["id"]])
            diff = c.profile_diff("github", from_=first["snapshot"]["id"], to=second["snapshot"]["id"])
            self.assertEqual(diff["from"]["id"], first["snapshot"]["id"])
            self.assertEqual(c.profile_restore("github", snapshot=first["snapshot"]["id"])["restored_from"]["id"], first["snapshot"]["id"])
            self.assertEqual(c.profile_update("github", description="personal")["profile"]["description"], "personal")
            self.assertEqual(c.profile_rename("github", new_name="gh")["profile"]["name"], "gh")
            c.profile_create("spare")
            self.assertEqual(c.profile_list(limit=1)["total"], 2)
            c.profile_delete("spare")
            with self.code("not_found"):
                c.profile_show("spare")

            self.assertTrue(c.vault_verify()["ok"])
            backup = os.path.join(TMP.name, "sync.pvault")
            self.assertEqual(c.vault_backup(backup)["size_bytes"], os.path.getsize(backup))
            with self.code("conflict"):
                c.vault_backup(backup)
            key = Path(TMP.name, "key")
            key.write_bytes(secrets.token_bytes(32))
            with self.code("auth_failed"):
                c.vault_passwd(old=pvault.passphrase("wrong"), new=pvault.key_file(key))
            c.vault_passwd(old=pvault.passphrase(PASS), new=pvault.key_file(key))
            c.vault_lock()
            c.vault_unlock(pvault.key_file(key))

            try:
                sessions = c.session_list()
            except pvault.PvaultError as e:
                if e.code != "unsupported":
                    raise
                # No sessions in this pvaultd yet: each method must still reach it (a wrong
                # name would be invalid_argument) and be answered unsupported.
                for call in (lambda: c.session_start("gh"), lambda: c.session_show("s"), lambda: c.session_stop("s", discard=True),
                             lambda: c.session_capture("s", into="gh"), lambda: c.session_load("s", profile="gh"),
                             lambda: c.session_attach("http://127.0.0.1:9")):
                    with self.code("unsupported"):
                        call()
                self.skipTest("this pvaultd answers session.* with unsupported (sessions not built in yet)")
            self.assertEqual(sessions["sessions"], [])
            started = c.session_start()
            sid = started["session"]["session_id"]
            self.assertEqual(c.session_show(sid)["session"]["session_id"], sid)
            self.assertEqual(c.session_load(sid, profile="gh")["load"]["cookies_loaded"], 1)
            self.assertGreaterEqual(c.session_capture(sid, into="captured")["capture"]["cookies"], 1)
            self.assertEqual(c.session_stop(sid, discard=True)["session_id"], sid)
            self.assertEqual(c.session_show(sid)["session"]["state"], "ended")
            with self.code("not_found"):
                c.session_stop(sid)
            proc, url = start_chrome()
            try:
                attached = c.session_attach(url)
                self.assertTrue(attached["session"]["attached"])
                c.session_stop(attached["session"]["session_id"])
            finally:
                kill_chrome(proc)

    def test_2_async_client_every_method(self):
        asyncio.run(self._async_every_method())

    async def _async_every_method(self):
        key_path = Path(TMP.name, "key-async")
        key_path.write_bytes(secrets.token_bytes(32))
        key = pvault.key_file(key_path)
        async with pvault.AsyncClient.connect() as c:
            self.assertEqual(c.server["protocol"]["major"], 1)
            with self.code("invalid_argument"):
                await c.hello(protocol=1)
            await c.subscribe()
            self.assertFalse((await c.status())["locked"])
            with self.code("conflict"):
                await c.vault_init(pvault.passphrase(PASS))
            await c.vault_lock()
            self.assertEqual((await wait_event_async(c, "vault.locked"))["data"], {"reason": "request"})
            with self.code("locked"):
                await c.profile_show("gh")
            with self.code("auth_failed"):
                await c.vault_unlock(pvault.passphrase("wrong"))
            await c.vault_unlock(pvault.passphrase(PASS))
            await c.vault_passwd(old=pvault.passphrase(PASS), new=key)
            await c.vault_lock()
            await c.vault_unlock(key)
            await c.vault_passwd(old=key, new=pvault.passphrase(PASS + "2"))
            self.assertTrue((await c.vault_verify())["ok"])
            backup = os.path.join(TMP.name, "async.pvault")
            self.assertGreater((await c.vault_backup(path=backup))["size_bytes"], 0)

            # Pipelined: 8 creates, then 64 shows in flight at once.
            total = (await c.profile_list())["total"]
            names = [f"a{i}" for i in range(8)]
            await asyncio.gather(*(c.profile_create(n, description=f"d-{n}") for n in names))
            shows = await asyncio.gather(*(c.profile_show(names[i % 8]) for i in range(64)))
            self.assertEqual([s["profile"]["description"] for s in shows], [f"d-{names[i % 8]}" for i in range(64)])
            with self.code("conflict"):
                await c.profile_create("a0")
            first = await c.profile_import("a0", state=state("one"))
            second = await c.profile_import("a0", state=state("two"))
            self.assertEqual((await c.profile_export("a0"))["state"]["origins"][0]["localStorage"][0]["value"], "two")
            self.assertEqual((await c.profile_export("a0", format="pvault"))["state"]["pvault"], 1)
            self.assertEqual(len((await c.profile_history("a0"))["snapshots"]), 2)
            self.assertEqual((await c.profile_diff("a0"))["to"]["id"], second["snapshot"]["id"])
            await c.profile_restore("a0", snapshot=first["snapshot"]["id"])
            await c.profile_update("a0", clear_description=True)
            self.assertNotIn("description", (await c.profile_show("a0"))["profile"])
            await c.profile_rename("a0", new_name="b0")
            self.assertEqual((await c.profile_list())["total"], total + 8)
            await asyncio.gather(*(c.profile_delete(n) for n in ["b0"] + names[1:]))
            with self.code("not_found"):
                await c.profile_delete("b0")

            try:
                await c.session_list()
            except pvault.PvaultError as e:
                if e.code != "unsupported":
                    raise
                for coro in (c.session_start("gh"), c.session_show("s"), c.session_stop("s"), c.session_capture("s", into="gh"),
                             c.session_load("s", profile="gh"), c.session_attach("http://127.0.0.1:9")):
                    with self.code("unsupported"):
                        await coro
                self.skipTest("this pvaultd answers session.* with unsupported (sessions not built in yet)")
            started = await c.session_start("gh")
            sid = started["session"]["session_id"]
            self.assertEqual(started["load"]["cookies_loaded"], 1)
            self.assertEqual([s["session_id"] for s in (await c.session_list())["sessions"]], [sid])
            self.assertEqual((await c.session_show(sid))["session"]["profile"], "gh")
            with self.code("conflict"):
                await c.session_load(sid, profile="gh")
            await c.session_capture(sid, into="captured2")
            await c.session_stop(sid, discard=True)
            proc, url = start_chrome()
            try:
                attached = await c.session_attach(url)
                await c.session_stop(attached["session"]["session_id"])
            finally:
                kill_chrome(proc)

    def test_3_too_large(self):
        huge = {"cookies": [], "origins": [{"origin": "https://big.test", "localStorage": [{"name": "k", "value": "x" * pvault.MAX_MESSAGE_BYTES}]}]}
        with pvault.Client() as c:
            # Refused by the client before sending; the connection stays usable.
            with self.code("too_large"):
                c.profile_import("gh", state=huge)
            self.assertIn("locked", c.status())
        # Sent anyway: the daemon answers too_large and closes the connection.
        raw = pvault.Client(max_request_bytes=1 << 62)
        with self.code("too_large"):
            raw.profile_import("gh", state=huge)
        self.assertTrue(raw.closed)

        async def via_async():
            c = await pvault.AsyncClient.connect(max_request_bytes=1 << 62)
            with self.code("too_large"):
                await c.profile_import("gh", state=huge)
            self.assertTrue(c.closed)
            await c.close()

        asyncio.run(via_async())

    def test_3a_verify_reports_an_edited_vault_file_as_typed_findings(self):
        with pvault.Client() as c:
            profile = c.profile_create("tampered")["profile"]
            vault = c.status()["vault_path"]

            def edit(delta: int) -> None:
                # As an attacker with write access to the file would.
                with contextlib.closing(sqlite3.connect(vault)) as db, db:
                    n = db.execute(
                        "UPDATE profiles SET updated_at = updated_at + ? WHERE lower(hex(profile_id)) = ?",
                        (delta, profile["id"]),
                    ).rowcount
                self.assertEqual(n, 1)

            edit(1)
            v = c.vault_verify()
            self.assertFalse(v["ok"])
            self.assertEqual(len(v["findings"]), 1, v)
            f = v["findings"][0]
            self.assertEqual(
                (f["profile"], f["record"], f["kind"], f["column"]),
                (profile["id"], "meta", "edited", "updated_at"),
            )
            self.assertEqual(v["failures"], [f["message"]])
            edit(-1)
            v = c.vault_verify()
            self.assertEqual((v["ok"], v["findings"]), (True, []))
            c.profile_delete("tampered")

    def test_4_daemon_shutdown(self):
        c = pvault.Client()
        c.daemon_shutdown()
        with self.code("unavailable"):
            c.next_event(timeout=20)
        with self.code("unavailable"):
            pvault.Client(timeout=5)


if __name__ == "__main__":
    unittest.main()
