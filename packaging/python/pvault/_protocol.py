"""What both clients share: protocol constants, the method table, errors, socket discovery,
credentials, and turning a call's arguments into ``params``. No I/O here."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any, Mapping, TypedDict

#: Protocol major version this client speaks; the daemon refuses another at ``hello``.
PROTOCOL_MAJOR = 1
#: Protocol minor version this client knows.
PROTOCOL_MINOR = 5
#: Largest message (one line, without its newline) either side accepts: 64 MiB.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: Largest document reassembled from a chunked ``profile.export``: 512 MiB, room for the JSON
#: of any snapshot the vault holds (its cap is 256 MiB).
MAX_CHUNKED_BYTES = 512 * 1024 * 1024
#: Largest request id (ids must survive JavaScript numbers, so the daemon caps them).
MAX_ID = 2**53 - 1

#: The protocol's stable error codes.
ERROR_CODES = (
    "invalid_argument",
    "not_found",
    "conflict",
    "busy",
    "locked",
    "auth_failed",
    "too_large",
    "unsupported",
    "browser_error",
    "logged_out",
    "internal",
    "remote_unavailable",
    "remote_tampered",
)

#: What ``vault_verify()`` can report in a finding's ``kind`` (protocol 1.5, protocol.md §5.2
#: "Verify findings"). A newer daemon may add kinds: treat any ``kind`` as a problem and show
#: its ``message``.
FINDING_KINDS = (
    "unreadable",
    "not_checkable",
    "edited",
    "missing",
    "reordered",
    "rolled_back",
    "unexpected",
    "content_mismatch",
    "anchor_mismatch",
    "count_mismatch",
    "current_mismatch",
    "went_back",
)

#: The records a finding names in ``record`` (a newer daemon may add some).
FINDING_RECORDS = ("wrapped_dk", "meta", "name_hash", "snapshot_info", "snapshot_body", "history")


class VerifyFinding(TypedDict, total=False):
    """One problem ``vault_verify()`` found, in its result's ``findings`` (protocol 1.5).
    ``profile``, ``record``, ``kind`` and ``message`` are always there."""

    #: Profile id (32 hex digits).
    profile: str
    #: Snapshot id, when the finding is about one snapshot row.
    snapshot: str
    #: The snapshot's seq, or the seq of a missing one.
    seq: int
    #: One of :data:`FINDING_RECORDS`.
    record: str
    #: One of :data:`FINDING_KINDS`.
    kind: str
    #: For ``edited``: the plaintext column that disagrees with its sealed copy.
    column: str
    #: For ``unreadable``: the read error's stable code.
    code: str
    #: The finding in one line for people (its line in ``failures``).
    message: str


#: Every method of protocol 1 → the parameter a positional argument stands for (or None), so
#: ``profile_show("github")`` means ``profile_show(name="github")``.
METHODS: dict[str, str | None] = {
    "hello": None,
    "status": None,
    "subscribe": None,
    "daemon.shutdown": None,
    "vault.init": "credential",
    "vault.unlock": "credential",
    "vault.lock": None,
    "vault.passwd": None,
    "vault.verify": None,
    "vault.backup": "path",
    "profile.create": "name",
    "profile.list": None,
    "profile.show": "name",
    "profile.rename": "name",
    "profile.update": "name",
    "profile.delete": "name",
    "profile.import": "name",
    "profile.export": "name",
    "profile.history": "name",
    "profile.diff": "name",
    "profile.restore": "name",
    # Login health (protocol 1.8).
    "profile.health.set": "name",
    "profile.health.show": "name",
    "profile.health.clear": "name",
    "profile.check": "name",
    "profile.accept": "name",
    "session.start": "profile",
    "session.list": None,
    "session.show": "session_id",
    "session.stop": "session_id",
    "session.capture": "session_id",
    "session.load": "session_id",
    "session.attach": "cdp_url",
}


class PvaultError(Exception):
    """An error from pvaultd, with its stable ``code`` (one of :data:`ERROR_CODES`), or from
    this client: ``unavailable`` when no daemon answers or the connection closed first."""

    def __init__(
        self, code: str, message: str, method: str | None = None, hint: str | None = None
    ):
        text = f"{method}: {message}" if method else message
        super().__init__(f"{text} (hint: {hint})" if hint else text)
        #: Stable error code: test this, never the message.
        self.code = code
        #: Human-readable explanation from the daemon.
        self.message = message
        #: The method of the failed request, if any.
        self.method = method
        #: What the user can do about it, when the daemon said (protocol 1.4), else ``None``.
        self.hint = hint

    @classmethod
    def from_body(cls, body: Mapping[str, Any], method: str | None = None) -> "PvaultError":
        """The error of a response's ``error`` body, attributed to ``method``."""
        return cls(
            body.get("code", "internal"), body.get("message", ""), method, body.get("hint") or None
        )

    def for_method(self, method: str) -> "PvaultError":
        """The same error, attributed to ``method``."""
        return PvaultError(self.code, self.message, method, self.hint)


def socket_path(env: Mapping[str, str] | None = None, uid: int | None = None) -> str:
    """The socket, by the CLI's rules: ``$PVAULT_SOCKET``, else
    ``$XDG_RUNTIME_DIR/pvault/pvaultd.sock``, else ``/tmp/pvault-<uid>/pvaultd.sock``."""
    env = os.environ if env is None else env
    if env.get("PVAULT_SOCKET"):
        return env["PVAULT_SOCKET"]
    if env.get("XDG_RUNTIME_DIR"):
        return os.path.join(env["XDG_RUNTIME_DIR"], "pvault", "pvaultd.sock")
    return f"/tmp/pvault-{os.geteuid() if uid is None else uid}/pvaultd.sock"


def passphrase(text: str) -> dict:
    """A passphrase credential for ``vault_init`` / ``vault_unlock`` / ``vault_passwd``."""
    return {"passphrase": str(text)}


def key_file(source: bytes | str | os.PathLike) -> dict:
    """A key-file credential from the file's bytes, or from a path to read them from."""
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    return {"key_file": base64.b64encode(data).decode("ascii")}


def python_name(method: str) -> str:
    """``profile.create`` → ``profile_create``."""
    return method.replace(".", "_")


def build_params(method: str, args: tuple, kwargs: dict) -> dict:
    """``params`` from a call's arguments. A trailing underscore is dropped from keyword names
    so Python keywords can be passed (``profile_diff("gh", from_="1")``)."""
    params = {k[:-1] if k.endswith("_") else k: v for k, v in kwargs.items() if v is not None}
    if args:
        primary = METHODS.get(method)
        if primary is None or len(args) > 1:
            raise TypeError(f"{python_name(method)}() takes keyword arguments only")
        params[primary] = args[0]
    if method == "profile.export":
        # Exports come in chunks, reassembled into ``state``, so a snapshot larger than one
        # message exports too.
        params.setdefault("chunked", True)
    return params


def chunk_bytes(msg: dict, have: int, method: str) -> bytes:
    """The decoded bytes of a ``chunk`` frame, refusing to grow past MAX_CHUNKED_BYTES."""
    try:
        piece = base64.b64decode(msg["chunk"], validate=True)
    except (ValueError, TypeError):
        raise PvaultError("internal", "pvaultd sent a chunk that is not base64", method) from None
    if have + len(piece) > MAX_CHUNKED_BYTES:
        raise PvaultError("too_large", f"pvaultd sent more than {MAX_CHUNKED_BYTES} bytes of chunks", method)
    return piece


def assemble(result: dict, pieces: list[bytes], method: str) -> dict:
    """A chunked result with its document put back as ``state``; a ``vault.verify`` result
    from a daemon older than 1.5 with ``findings`` empty (its ``failures`` say it all); other
    results unchanged."""
    if method == "vault.verify":
        result.setdefault("findings", [])
    if "state_chunks" not in result:
        return result
    doc = b"".join(pieces)
    if len(doc) != result.get("state_bytes"):
        raise PvaultError("internal", f"pvaultd announced {result.get('state_bytes')} bytes but sent {len(doc)}", method)
    try:
        result["state"] = json.loads(doc.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PvaultError("internal", "pvaultd sent chunks that are not JSON", method) from None
    return result


def encode_request(req_id: int, method: str, params: dict) -> bytes:
    """One compact request line with its newline."""
    body = {"id": req_id, "method": method, "params": params}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def too_large_request(size: int, limit: int, method: str) -> PvaultError:
    return PvaultError(
        "too_large",
        f"the request is {size} bytes, over the protocol's limit of {limit} bytes",
        method,
    )


def too_large_incoming(limit: int) -> PvaultError:
    return PvaultError(
        "too_large", f"pvaultd sent a message over {limit} bytes; the connection is closed"
    )


#: Pauses (seconds) between tries when the daemon refuses the connection or drops it before
#: the hello reply: that is a daemon going away (killed, or stopping), and one restarted
#: meanwhile (systemd, a ``pvault`` command) gets a moment to answer. Only the connection and
#: its hello are retried, never a request.
DYING_DAEMON_BACKOFF = (0.025, 0.05, 0.1, 0.2, 0.4)


def unavailable(path: str, err: BaseException) -> PvaultError:
    return PvaultError(
        "unavailable",
        f"cannot connect to pvaultd at {path} ({err}): start it with `pvault daemon start` or "
        "`systemctl --user start pvaultd.socket`, or set PVAULT_SOCKET",
    )


def decode_line(line: bytes) -> dict[str, Any]:
    """Parses one line the daemon sent (a response or an event)."""
    if line.endswith(b"\r"):
        line = line[:-1]
    try:
        msg = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PvaultError("internal", "pvaultd sent a line that is not JSON") from None
    if not isinstance(msg, dict):
        raise PvaultError("internal", "pvaultd sent a line that is not a JSON object")
    return msg


def hello_params(client_name: str | None) -> dict:
    from . import __version__

    return {
        "protocol": PROTOCOL_MAJOR,
        "minor": PROTOCOL_MINOR,
        "client": client_name or f"pvault-python {__version__}",
    }
