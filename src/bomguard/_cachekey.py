"""The per-user secret key that authenticates everything bomguard caches on disk.

Cached project pages, provenance objects, downloaded files' digests and verification
results can all change a result, and the cache directory may be shared, restored from
elsewhere (CI caches) or writable by others. So every entry carries an HMAC-SHA256 under
this key, which lives outside the cache directory: ``cache-key`` in the user config
directory (``platformdirs``), or the file ``BOMGUARD_CACHE_KEY_FILE`` names. It is 32
random bytes, created on first use with mode 0600 (its folder 0700).

Whoever can write the key can also rewrite the installed code, so the cache trusts no
one the tool does not. When the key can neither be read nor created, callers use no disk
cache at all.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

__all__ = ["KEY_ENV", "cache_key", "cache_key_path", "mac"]

KEY_ENV = "BOMGUARD_CACHE_KEY_FILE"
_KEY_BYTES = 32


def cache_key_path() -> Path:
    """Where the key is kept (``BOMGUARD_CACHE_KEY_FILE`` overrides the default)."""
    override = os.environ.get(KEY_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("bomguard", "bomguard")) / "cache-key"


def cache_key() -> bytes | None:
    """The key (created on first use), or ``None`` when it can be neither read nor made."""
    path = cache_key_path()
    try:
        secret = path.read_bytes()
        if len(secret) >= _KEY_BYTES:
            return secret
    except OSError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(_KEY_BYTES))
        secret = path.read_bytes()  # another process may have won the race: read theirs
    except OSError:
        return None
    return secret if len(secret) >= _KEY_BYTES else None


def mac(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 (hex) of ``parts``, joined so that no two lists of parts collide.

    Each part is its UTF-8 length (8 bytes, big-endian) then its bytes. The HMAC keyed
    with ``key`` is set up once and copied for each message: the same value as a new HMAC
    updated part by part, for about a microsecond less (a store checks thousands per run).
    """
    keyed = _keyed.get(key)
    if keyed is None:
        if len(_keyed) >= _KEYED_MAX:
            _keyed.clear()
        keyed = _keyed.setdefault(key, hmac.new(key, digestmod=hashlib.sha256))
    message = []
    for part in parts:
        raw = part.encode("utf-8")
        message.append(len(raw).to_bytes(8, "big"))
        message.append(raw)
    h = keyed.copy()
    h.update(b"".join(message))
    return h.hexdigest()


_keyed: dict[bytes, hmac.HMAC] = {}
"""An HMAC set up with each key in use, never updated itself (only its copies are)."""
_KEYED_MAX = 8
