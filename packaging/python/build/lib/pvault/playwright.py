"""Playwright helpers: run code in a pvault browser session with a profile loaded.

::

    with pvault.playwright.session("github", save=True) as (browser, context):
        context.pages[0].goto("https://github.com")

    async with pvault.playwright.async_session("github", save=True) as (browser, context):
        ...

The session starts with the profile loaded, Playwright connects with ``connect_over_cdp``, and
the session ends when the block exits, normally or by an exception. With ``save=True`` the
final state is saved into the profile (``save_on_error=False`` discards it when the block
raises). Other keyword arguments are ``session.start`` options (``headful``, ``start_url``,
``viewport``, ``locale``, …). The ``playwright`` package is imported only when used; it needs
no browser download for ``connect_over_cdp``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, AsyncIterator, Iterator

from ._protocol import PvaultError
from .aio import AsyncClient
from .client import Client

_log = logging.getLogger("pvault")


def _note_created(started: dict) -> None:
    # `save=True` into a profile that did not exist created it: worth telling, never an error.
    if started.get("profile_created"):
        _log.info("created profile %s (it did not exist; the session saves into it)", started["session"].get("profile"))


def _discard(save: bool, failed: bool, save_on_error: bool) -> bool:
    return not save or (failed and not save_on_error)


@contextlib.contextmanager
def session(
    profile: str | None,
    *,
    save: bool = False,
    save_on_error: bool = True,
    client: Client | None = None,
    socket_path: str | None = None,
    **start_options: Any,
) -> Iterator[tuple[Any, Any]]:
    """Sync Playwright: yields ``(browser, context)``, the browser's default context holding
    the profile's cookies and storage."""
    from playwright.sync_api import sync_playwright

    own = client is None
    c = client if client is not None else Client(socket_path, timeout=None)
    try:
        started = c.session_start(profile=profile, save=save, **start_options)
        _note_created(started)
        sid = started["session"]["session_id"]
        pw = None
        browser = None
        failed = False
        try:
            pw = sync_playwright().start()
            browser = pw.chromium.connect_over_cdp(started["session"]["cdp_ws_url"])
            context = browser.contexts[0] if browser.contexts else browser.new_context()
            yield browser, context
        except BaseException:
            failed = True
            raise
        finally:
            # Stop first, while the browser still holds the state to save; then drop
            # Playwright's connection (for a CDP-connected browser, close() only disconnects).
            stop_error: BaseException | None = None
            try:
                c.session_stop(sid, discard=_discard(save, failed, save_on_error))
            except PvaultError as e:
                stop_error = e
            if browser is not None:
                with contextlib.suppress(Exception):
                    browser.close()
            if pw is not None:
                with contextlib.suppress(Exception):
                    pw.stop()
            if stop_error is not None and not failed:
                raise stop_error
    finally:
        if own:
            c.close()


@contextlib.asynccontextmanager
async def async_session(
    profile: str | None,
    *,
    save: bool = False,
    save_on_error: bool = True,
    client: AsyncClient | None = None,
    socket_path: str | None = None,
    **start_options: Any,
) -> AsyncIterator[tuple[Any, Any]]:
    """Async Playwright: ``async with async_session(...) as (browser, context)``."""
    from playwright.async_api import async_playwright

    own = client is None
    c = client if client is not None else await AsyncClient.connect(socket_path, timeout=None)
    try:
        started = await c.session_start(profile=profile, save=save, **start_options)
        _note_created(started)
        sid = started["session"]["session_id"]
        pw = None
        browser = None
        failed = False
        try:
            pw = await async_playwright().start()
            browser = await pw.chromium.connect_over_cdp(started["session"]["cdp_ws_url"])
            context = browser.contexts[0] if browser.contexts else await browser.new_context()
            yield browser, context
        except BaseException:
            failed = True
            raise
        finally:
            stop_error: BaseException | None = None
            try:
                await c.session_stop(sid, discard=_discard(save, failed, save_on_error))
            except PvaultError as e:
                stop_error = e
            if browser is not None:
                with contextlib.suppress(Exception):
                    await browser.close()
            if pw is not None:
                with contextlib.suppress(Exception):
                    await pw.stop()
            if stop_error is not None and not failed:
                raise stop_error
    finally:
        if own:
            await c.close()
