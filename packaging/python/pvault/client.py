"""The blocking client: one request at a time per connection (a lock makes it safe to share
between threads); events that arrive while waiting for a response are queued for
:meth:`Client.next_event`."""

from __future__ import annotations

import collections
import socket
import threading
import time
from typing import Any, Iterator

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


class Client:
    """A connection to pvaultd, handshake done. Every protocol method is a method with its
    snake_case name (``profile_create``, ``session_start``, …); :meth:`call` sends any.

    ``timeout`` (seconds) bounds connecting and each read/write; ``None`` waits forever (a
    ``session_start`` launching a browser can take a while). ``max_message_bytes`` caps incoming
    lines, ``max_request_bytes`` outgoing ones (refused locally with ``too_large``)."""

    def __init__(
        self,
        path: str | None = None,
        *,
        timeout: float | None = 30.0,
        client_name: str | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_request_bytes: int = MAX_MESSAGE_BYTES,
    ):
        self.path = path or socket_path()
        self._max_in = max_message_bytes
        self._max_out = max_request_bytes
        self._lock = threading.RLock()
        self._events: collections.deque[dict] = collections.deque()
        # A refusal, or a close/reset before the hello reply, is a daemon going away: retried.
        for pause in (*DYING_DAEMON_BACKOFF, None):
            try:
                self._open(timeout, client_name)
                return
            except _DyingDaemon as e:
                if pause is None:
                    raise e.error from None
                time.sleep(pause)

    def _open(self, timeout: float | None, client_name: str | None) -> None:
        """One try: connects and says hello; raises :class:`_DyingDaemon` when it may be retried."""
        self._buf = bytearray()
        self._scanned = 0
        self._next_id = 1
        self._closed: PvaultError | None = None
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(self.path)
        except OSError as e:
            self._sock.close()
            err = unavailable(self.path, e)
            if isinstance(e, ConnectionRefusedError):
                raise _DyingDaemon(err) from None
            raise err from None
        try:
            #: The daemon's answer to ``hello``.
            self.server: dict = self.call("hello", hello_params(client_name))
        except PvaultError as e:
            # Closed or reset before the reply (``_closed`` is set only then, not on a timeout).
            dying = e.code == "unavailable" and self._closed is not None
            self.close()
            if dying:
                raise _DyingDaemon(e) from None
            raise
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether the connection is closed."""
        return self._closed is not None

    def close(self) -> None:
        """Closes the connection (idempotent)."""
        with self._lock:
            if self._closed is None:
                self._closed = PvaultError("unavailable", "the connection to pvaultd is closed")
            try:
                self._sock.close()
            except OSError:
                pass

    def _fail(self, err: PvaultError) -> PvaultError:
        # The first reason stays: a too_large answer is not replaced by the EOF after it.
        if self._closed is None or (self._closed.code == "unavailable" and err.code != "unavailable"):
            self._closed = err
        try:
            self._sock.close()
        except OSError:
            pass
        return self._closed

    def _read_line(self) -> bytes:
        while True:
            nl = self._buf.find(b"\n", self._scanned)
            if nl >= 0:
                if nl > self._max_in + 1:
                    raise self._fail(too_large_incoming(self._max_in))
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                self._scanned = 0
                return line
            self._scanned = len(self._buf)
            # Checked before reading more, so a runaway line never grows past the cap.
            if len(self._buf) > self._max_in + 1:
                raise self._fail(too_large_incoming(self._max_in))
            try:
                chunk = self._sock.recv(min(1 << 20, self._max_in + 2 - len(self._buf)))
            except socket.timeout:
                raise PvaultError("unavailable", "timed out waiting for pvaultd") from None
            except OSError as e:
                raise self._fail(PvaultError("unavailable", f"connection to pvaultd failed: {e}"))
            if not chunk:
                raise self._fail(PvaultError("unavailable", "the connection to pvaultd closed"))
            self._buf += chunk

    def _read_message(self) -> dict:
        try:
            return decode_line(self._read_line())
        except PvaultError as e:
            if e.code == "internal":
                raise self._fail(e)
            raise

    def call(self, method: str, params: dict | None = None) -> Any:
        """Sends one request and returns its ``result``; raises :class:`PvaultError`."""
        with self._lock:
            if self._closed is not None:
                raise self._closed.for_method(method)
            req_id = self._next_id
            self._next_id = 1 if req_id >= MAX_ID else req_id + 1
            line = encode_request(req_id, method, params or {})
            if len(line) - 1 > self._max_out:
                raise too_large_request(len(line) - 1, self._max_out, method)
            try:
                self._sock.sendall(line)
            except socket.timeout:
                raise self._fail(PvaultError("unavailable", "timed out sending to pvaultd")).for_method(method)
            except OSError:
                # The daemon closed while we were sending (e.g. after answering too_large):
                # what it said before closing is still there to read.
                pass
            pieces: list[bytes] = []
            have = 0
            while True:
                try:
                    msg = self._read_message()
                except PvaultError as e:
                    raise e.for_method(method) from None
                if isinstance(msg.get("chunk"), str):
                    if msg.get("id") == req_id:
                        piece = chunk_bytes(msg, have, method)
                        have += len(piece)
                        pieces.append(piece)
                    continue
                if isinstance(msg.get("event"), str):
                    self._events.append({"event": msg["event"], "data": msg.get("data") or {}})
                    continue
                if msg.get("id") is None:
                    err = msg.get("error") or {}
                    if err:
                        raise self._fail(PvaultError.from_body(err)).for_method(method)
                    continue
                if msg["id"] != req_id:
                    continue
                if "error" in msg and msg["error"]:
                    err = msg["error"]
                    raise PvaultError.from_body(err, method)
                return assemble(msg.get("result") or {}, pieces, method)

    def subscribe(self) -> dict:
        """From now on, events arrive on this connection: read them with :meth:`next_event`."""
        return self.call("subscribe", {})

    def next_event(self, timeout: float | None = None) -> dict:
        """The next event ``{"event": name, "data": {...}}``, waiting up to ``timeout`` seconds
        (``PvaultError("unavailable")`` on timeout)."""
        with self._lock:
            if self._events:
                return self._events.popleft()
            old = self._sock.gettimeout()
            self._sock.settimeout(timeout)
            try:
                while True:
                    msg = self._read_message()
                    if isinstance(msg.get("event"), str):
                        return {"event": msg["event"], "data": msg.get("data") or {}}
                    if msg.get("id") is None and msg.get("error"):
                        err = msg["error"]
                        raise self._fail(PvaultError.from_body(err))
            finally:
                if self._closed is None:
                    self._sock.settimeout(old)

    def events(self) -> Iterator[dict]:
        """Iterates over events as they arrive (until the connection closes)."""
        while True:
            try:
                yield self.next_event()
            except PvaultError as e:
                if e.code == "unavailable":
                    return
                raise


def _add_methods() -> None:
    for method in METHODS:
        if method == "subscribe":
            continue

        def f(self: Client, *args: Any, _m: str = method, **kwargs: Any) -> Any:
            return self.call(_m, build_params(_m, args, kwargs))

        f.__name__ = f.__qualname__ = python_name(method)
        f.__doc__ = f"Sends ``{method}`` (see protocol.md) and returns its result."
        setattr(Client, f.__name__, f)


_add_methods()
