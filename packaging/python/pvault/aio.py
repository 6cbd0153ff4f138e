"""The asyncio client: requests are pipelined on one connection (each awaits the response
with its id, in whatever order the daemon answers) and events go to a queue.

asyncio's stream reader refuses lines over 64 KiB by default; the connection is opened with
``limit`` set to the protocol's maximum so large storageStates (``profile_export``) pass."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

from ._protocol import (
    DYING_DAEMON_BACKOFF,
    MAX_ID,
    MAX_MESSAGE_BYTES,
    METHODS,
    PvaultError,
    assemble,
    build_params,
    chunk_bytes,
    decode_line,
    encode_request,
    hello_params,
    python_name,
    socket_path,
    too_large_incoming,
    too_large_request,
    unavailable,
)


class _DyingDaemon(Exception):
    """A connection attempt that met a daemon going away; ``error`` is what to raise if no
    retry is left."""

    def __init__(self, error: PvaultError):
        self.error = error


class AsyncClient:
    """A connection to pvaultd. Create it with ``await AsyncClient.connect()`` (or ``async with
    AsyncClient.connect() as c``); every protocol method is a coroutine method with its
    snake_case name, the same names as :class:`pvault.Client`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_out: int, max_in: int):
        self._reader = reader
        self._writer = writer
        self._max_out = max_out
        self._max_in = max_in
        self._next_id = 1
        self._pending: dict[int, tuple[str, asyncio.Future]] = {}
        # Decoded `chunk` frames of pending calls, by id.
        self._chunks: dict[int, list[bytes]] = {}
        self._events: asyncio.Queue[dict] = asyncio.Queue()
        self._closed: PvaultError | None = None
        self._done = asyncio.get_running_loop().create_future()
        #: The daemon's answer to ``hello``.
        self.server: dict = {}
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    def connect(
        cls,
        path: str | None = None,
        *,
        timeout: float | None = 30.0,
        client_name: str | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_request_bytes: int = MAX_MESSAGE_BYTES,
    ) -> "_Connecting":
        """Connects and does the handshake (``timeout`` bounds both). Await it, or use it with
        ``async with``."""
        return _Connecting(cls._connect(path, timeout, client_name, max_message_bytes, max_request_bytes))

    @classmethod
    async def _connect(cls, path, timeout, client_name, max_in, max_out) -> "AsyncClient":
        where = path or socket_path()
        # A refusal, or a close/reset before the hello reply, is a daemon going away: retried.
        for pause in (*DYING_DAEMON_BACKOFF, None):
            try:
                return await cls._connect_once(where, timeout, client_name, max_in, max_out)
            except _DyingDaemon as e:
                if pause is None:
                    raise e.error from None
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    @classmethod
    async def _connect_once(cls, where, timeout, client_name, max_in, max_out) -> "AsyncClient":
        try:
            # limit: a line may be max_in bytes plus an optional "\r" before the "\n".
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(where, limit=max_in + 1), timeout
            )
        except ConnectionRefusedError as e:
            raise _DyingDaemon(unavailable(where, e)) from None
        except (OSError, asyncio.TimeoutError) as e:
            raise unavailable(where, e) from None
        client = cls(reader, writer, max_out, max_in)
        try:
            client.server = await asyncio.wait_for(client.call("hello", hello_params(client_name)), timeout)
        except asyncio.TimeoutError:
            await client.close()
            raise PvaultError("unavailable", f"pvaultd at {where} did not answer hello in time") from None
        except PvaultError as e:
            await client.close()
            # `unavailable` from the read loop: closed or reset before the reply.
            if e.code == "unavailable":
                raise _DyingDaemon(e) from None
            raise
        except BaseException:
            await client.close()
            raise
        return client

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        """Whether the connection is closed."""
        return self._closed is not None

    def _fail(self, err: PvaultError) -> None:
        # The first real reason stays: a too_large answer is not replaced by the EOF after it.
        if self._closed is None or (self._closed.code == "unavailable" and err.code != "unavailable"):
            self._closed = err
        for method, fut in self._pending.values():
            if not fut.done():
                fut.set_exception(self._closed.for_method(method))
        self._pending.clear()

    async def _read_loop(self) -> None:
        try:
            while True:
                try:
                    line = await self._reader.readuntil(b"\n")
                except asyncio.LimitOverrunError:
                    self._fail(too_large_incoming(self._max_in))
                    return
                except asyncio.IncompleteReadError:
                    self._fail(PvaultError("unavailable", "the connection to pvaultd closed"))
                    return
                except (OSError, ValueError) as e:
                    self._fail(PvaultError("unavailable", f"connection to pvaultd failed: {e}"))
                    return
                try:
                    msg = decode_line(line[:-1])
                except PvaultError as e:
                    self._fail(e)
                    return
                if isinstance(msg.get("chunk"), str):
                    entry = self._pending.get(msg.get("id"))
                    if entry is not None and not entry[1].done():
                        pieces = self._chunks.setdefault(msg["id"], [])
                        try:
                            pieces.append(chunk_bytes(msg, sum(map(len, pieces)), entry[0]))
                        except PvaultError as e:
                            entry[1].set_exception(e)
                    continue
                if isinstance(msg.get("event"), str):
                    self._events.put_nowait({"event": msg["event"], "data": msg.get("data") or {}})
                    continue
                if msg.get("id") is None:
                    err = msg.get("error")
                    if err:
                        self._fail(PvaultError.from_body(err))
                    continue
                entry = self._pending.pop(msg["id"], None)
                if entry is None:
                    continue
                method, fut = entry
                if fut.done():
                    continue
                err = msg.get("error")
                pieces = self._chunks.pop(msg["id"], [])
                if err:
                    fut.set_exception(PvaultError.from_body(err, method))
                else:
                    try:
                        fut.set_result(assemble(msg.get("result") or {}, pieces, method))
                    except PvaultError as e:
                        fut.set_exception(e)
        finally:
            self._fail(PvaultError("unavailable", "the connection to pvaultd is closed"))
            self._writer.close()
            if not self._done.done():
                self._done.set_result(None)

    async def call(self, method: str, params: dict | None = None) -> Any:
        """Sends one request and returns its ``result``; raises :class:`PvaultError`. Many
        calls may be in flight at once (``asyncio.gather``)."""
        if self._closed is not None:
            raise self._closed.for_method(method)
        req_id = self._next_id
        self._next_id = 1 if req_id >= MAX_ID else req_id + 1
        line = encode_request(req_id, method, params or {})
        if len(line) - 1 > self._max_out:
            raise too_large_request(len(line) - 1, self._max_out, method)
        fut = asyncio.get_running_loop().create_future()
        self._pending[req_id] = (method, fut)
        try:
            self._writer.write(line)
            await self._writer.drain()
        except OSError:
            # The daemon closed while we were sending (e.g. after answering too_large): the
            # read loop settles the future with what it said, or with `unavailable`.
            pass
        try:
            return await fut
        finally:
            self._pending.pop(req_id, None)
            self._chunks.pop(req_id, None)

    async def subscribe(self) -> dict:
        """From now on, events arrive on this connection: read them with :meth:`next_event`."""
        return await self.call("subscribe", {})

    async def next_event(self, timeout: float | None = None) -> dict:
        """The next event ``{"event": name, "data": {...}}``; ``PvaultError("unavailable")`` on
        timeout or when the connection closes with none left."""
        if not self._events.empty():
            return self._events.get_nowait()
        if self._closed is not None:
            raise self._closed
        getter = asyncio.ensure_future(self._events.get())
        try:
            done, _ = await asyncio.wait({getter, self._done}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        if getter in done:
            return getter.result()
        if self._closed is not None:
            raise self._closed
        raise PvaultError("unavailable", "no event within the timeout")

    async def events(self) -> AsyncIterator[dict]:
        """Iterates over events as they arrive, until the connection closes."""
        while True:
            try:
                yield await self.next_event()
            except PvaultError as e:
                if e.code == "unavailable":
                    return
                raise

    async def close(self) -> None:
        """Closes the connection; pending calls raise ``unavailable``."""
        self._fail(PvaultError("unavailable", "the connection to pvaultd is closed"))
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


class _Connecting:
    """``AsyncClient.connect(...)``: awaitable, and an async context manager that closes."""

    def __init__(self, coro: Any):
        self._coro = coro
        self._client: AsyncClient | None = None

    def __await__(self):
        return self._coro.__await__()

    async def __aenter__(self) -> AsyncClient:
        self._client = await self._coro
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()


def _add_methods() -> None:
    for method in METHODS:
        if method == "subscribe":
            continue

        async def f(self: AsyncClient, *args: Any, _m: str = method, **kwargs: Any) -> Any:
            return await self.call(_m, build_params(_m, args, kwargs))

        f.__name__ = f.__qualname__ = python_name(method)
        f.__doc__ = f"Sends ``{method}`` (see protocol.md) and returns its result."
        setattr(AsyncClient, f.__name__, f)


_add_methods()
