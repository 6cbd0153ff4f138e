"""pvault.playwright with the real ``playwright`` package (connect_over_cdp) against a real
pvaultd and the e2e suite's local login server: log in inside one session with save, then
find the login (httpOnly cookie and localStorage) in the next, with the sync and the async
helper. The e2e suite sets PVAULT_SOCKET and PVAULT_TEST_LOGIN_ORIGIN/_SID/_TOKEN."""

from __future__ import annotations

import asyncio
import os
import unittest

import _support  # noqa: F401  (sys.path)

import pvault
import pvault.playwright

ORIGIN = os.environ.get("PVAULT_TEST_LOGIN_ORIGIN")
SID = os.environ.get("PVAULT_TEST_LOGIN_SID")
TOKEN = os.environ.get("PVAULT_TEST_LOGIN_TOKEN")


def wait_title(page, expected: str) -> str:
    try:
        page.wait_for_function("t => document.title === t", arg=expected, timeout=15000)
    except Exception:
        pass
    return page.title()


@unittest.skipUnless(ORIGIN, "needs the e2e login server and a pvaultd with an unlocked vault (PVAULT_TEST_LOGIN_ORIGIN)")
class Playwright(unittest.TestCase):
    def test_1_sync_login_with_save(self):
        # The profile does not exist yet: save=True creates it (and logs so).
        with self.assertLogs("pvault", level="INFO") as logs, pvault.playwright.session("py", save=True) as (browser, context):
            self.assertIs(browser.contexts[0], context)
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(f"{ORIGIN}/login")
            self.assertEqual(wait_title(page, "logged-in"), "logged-in")
        self.assertIn("created profile py", "\n".join(logs.output))
        with pvault.Client() as c:
            self.assertEqual(c.session_list()["sessions"], [])
            snap = c.profile_history("py")["snapshots"][0]
            self.assertEqual(snap["kind"], "session_save")
            self.assertGreaterEqual(snap["cookie_count"], 2)

    def test_2_async_finds_itself_logged_in(self):
        async def run():
            async with pvault.playwright.async_session("py") as (browser, context):
                page = context.pages[0] if context.pages else await context.new_page()
                await page.goto(f"{ORIGIN}/whoami")
                await page.wait_for_function("t => document.title === t", arg=f"user:{SID}", timeout=15000)
                await page.goto(f"{ORIGIN}/app")
                await page.wait_for_function("t => document.title === t", arg=f"token:{TOKEN}", timeout=15000)
                return await page.title()

        self.assertEqual(asyncio.run(run()), f"token:{TOKEN}")

    def test_3_session_ends_when_the_block_raises(self):
        with pvault.Client() as c:
            before = len(c.profile_history("py")["snapshots"])
            with self.assertRaises(ZeroDivisionError):
                with pvault.playwright.session("py", save=True, save_on_error=False, client=c) as (browser, context):
                    1 / 0
            self.assertEqual(c.session_list()["sessions"], [])
            self.assertEqual(len(c.profile_history("py")["snapshots"]), before)
            self.assertFalse(c.closed)

    def test_4_health_definition_check_and_event(self):
        with pvault.Client() as c, pvault.Client() as listener:
            listener.subscribe()
            with self.assertRaises(pvault.PvaultError) as bad:
                c.profile_health_set("py", url=f"{ORIGIN}/whoami", expect=[{"type": "url_not", "regex": "("}])
            self.assertEqual(bad.exception.code, "invalid_argument")
            self.assertIn("--expect-url-not", str(bad.exception))
            c.profile_health_set(
                "py",
                url=f"{ORIGIN}/whoami",
                expect=[{"type": "cookie", "name": "sid"}, {"type": "url_not", "regex": "/login"}],
            )
            result = c.profile_check("py")["result"]
            self.assertEqual(result["status"], "healthy", result)
            self.assertEqual(result["final_url"], f"{ORIGIN}/whoami")
            while True:
                ev = listener.next_event(timeout=60)
                if ev["event"] == "profile.health" and ev["data"]["profile"] == "py":
                    break
            self.assertEqual(ev["data"]["result"]["status"], "healthy")
            self.assertIsNone(ev["data"]["previous"])
            c.profile_health_clear("py")


if __name__ == "__main__":
    unittest.main()
