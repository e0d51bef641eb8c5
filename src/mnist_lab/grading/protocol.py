"""Messages between the grader and its checker process: JSON lines, signed with a secret key.

The grader makes a fresh key for each submission and hands it to the checker on its first
line of input, before any student code runs. Every later message carries an HMAC of its
body, so a process that writes into the checker's pipes (they are reachable through
``/proc``) cannot forge a request or a result: unsigned or mis-signed lines are ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets


def new_key() -> bytes:
    return secrets.token_bytes(32)


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def seal(key: bytes, message: dict) -> bytes:
    """One line: the message and its signature."""
    body = json.dumps(message, separators=(",", ":"))
    return (json.dumps({"body": body, "mac": _mac(key, body)}) + "\n").encode("utf-8")


def unseal(key: bytes, line: bytes) -> dict | None:
    """The message on ``line``, or None when it is not a message signed with ``key``."""
    try:
        frame = json.loads(line)
        body, mac = frame["body"], frame["mac"]
        if not (isinstance(body, str) and isinstance(mac, str)):
            return None
        if not hmac.compare_digest(_mac(key, body), mac):
            return None
        message = json.loads(body)
    except (ValueError, TypeError, KeyError):
        return None
    return message if isinstance(message, dict) else None
