"""pvault's Python client (standard library only): talks to pvaultd, pvault's profile vault
daemon, over its Unix socket. See protocol.md at the repository root for every method.

::

    import pvault
    with pvault.Client() as c:                     # blocking
        c.profile_create("github", description="work")
        state = c.profile_export("github")["state"]

    async with pvault.AsyncClient.connect() as c:  # asyncio, pipelined
        await c.status()

Errors are :class:`PvaultError` with a stable ``code``. Playwright helpers are in
:mod:`pvault.playwright` (imported on first use).
"""

from ._protocol import (
    ERROR_CODES,
    FINDING_KINDS,
    FINDING_RECORDS,
    MAX_CHUNKED_BYTES,
    MAX_MESSAGE_BYTES,
    METHODS,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    PvaultError,
    VerifyFinding,
    key_file,
    passphrase,
    socket_path,
)
from .aio import AsyncClient
from .client import Client

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Client",
    "ERROR_CODES",
    "FINDING_KINDS",
    "FINDING_RECORDS",
    "MAX_CHUNKED_BYTES",
    "MAX_MESSAGE_BYTES",
    "METHODS",
    "PROTOCOL_MAJOR",
    "PROTOCOL_MINOR",
    "PvaultError",
    "VerifyFinding",
    "key_file",
    "passphrase",
    "playwright",
    "socket_path",
]


def __getattr__(name: str):
    # `pvault.playwright` without importing Playwright's package until it is used.
    if name == "playwright":
        import importlib

        return importlib.import_module(".playwright", __name__)
    raise AttributeError(f"module 'pvault' has no attribute {name!r}")
