"""Authors are stored only as keyed hashes: the same person gets the same token, nobody gets a name back.

A keyed hash (HMAC-SHA256) rather than a plain one, because a plain hash of a public user name can be
reversed by hashing the list of user names. The key is a secret (``pseudonym_key``); when none is
configured, a random key is created once in a file beside the database and reused, so counts of distinct
people stay stable across runs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as random_secrets
from pathlib import Path


class Pseudonymiser:
    """Maps (source, author) to a stable opaque token."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("pseudonym key must be at least 16 bytes")
        self._key = key

    def author(self, source: str, author: str | None) -> str | None:
        if author is None:
            return None
        name = str(author).strip().lstrip("@").casefold()
        if not name:
            return None
        digest = hmac.new(self._key, f"{source}\x00{name}".encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:20]


def key_file_for(db: str) -> Path | None:
    """Where the generated key lives for a database path (None for server URLs: configure a secret)."""
    if "://" in db and not db.startswith("sqlite:///"):
        return None
    path = Path(db.removeprefix("sqlite:///")).expanduser()
    return path.with_name(path.name + ".pseudonym-key")


def load_or_create_key(secret: str | None, key_file: Path | None) -> bytes:
    """The configured key, else the key file's, else a new random key written to the key file."""
    if secret:
        return secret.encode("utf-8")
    if key_file is None:
        raise ValueError("set the secret pseudonym_key (env DETECTOR_PSEUDONYM_KEY) for a server database")
    if key_file.exists():
        return bytes.fromhex(key_file.read_text().strip())
    key = random_secrets.token_bytes(32)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex())
    return key
