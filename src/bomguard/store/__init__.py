"""The evidence store: where pages, provenance, results and identity history are kept.

``--store`` (or ``BOMGUARD_STORE``) names it: a ``postgresql://`` DSN for a fleet, or the
path of a SQLite file; by default ``bomguard.sqlite3`` in the user cache directory
(``--cache-dir DIR`` means ``DIR/bomguard.sqlite3``).

**Keys.** Rows are MAC'd under the store key. A SQLite store uses the fleet key when one
is configured, else the per-user key of :mod:`bomguard._cachekey`. A PostgreSQL store
is written by many machines, so it requires the fleet key: ``BOMGUARD_STORE_KEY_FILE``
(a file of at least 32 bytes) or ``BOMGUARD_STORE_KEY`` (at least 32 characters), handed
to every runner as a secret. Whoever has write access to the database but not the key
cannot make a row that authenticates: planted rows are dropped with a warning.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from pathlib import Path

from bomguard.errors import InputError
from bomguard.store.interface import (
    SCHEMA_VERSION,
    HistoryRow,
    SbomRow,
    Store,
    StoreError,
    Tampered,
)

__all__ = [
    "SCHEMA_VERSION",
    "STORE_FILENAME",
    "HistoryRow",
    "SbomRow",
    "Store",
    "StoreError",
    "Tampered",
    "is_dsn",
    "open_store",
    "redact_location",
    "shared_store",
    "store_key",
]

STORE_FILENAME = "bomguard.sqlite3"
"""The SQLite file's name inside a cache directory."""
KEY_FILE_ENV = "BOMGUARD_STORE_KEY_FILE"
KEY_ENV = "BOMGUARD_STORE_KEY"
_MIN_KEY = 32


def is_dsn(location: str) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a SQLite file."""
    return location.startswith(("postgresql://", "postgres://"))


def redact_location(location: str) -> str:
    """``location`` as it may be printed: a DSN without its password."""
    if is_dsn(location):
        from bomguard.store.postgres import redact_dsn

        return redact_dsn(location)
    return location


def fleet_key() -> bytes | None:
    """The fleet key from the environment, or ``None`` when none is configured."""
    path = os.environ.get(KEY_FILE_ENV)
    if path:
        try:
            secret = Path(path).read_bytes()
        except OSError as err:
            raise InputError(f"{KEY_FILE_ENV}: cannot read {path}: {err.strerror}") from None
        if len(secret.strip()) < _MIN_KEY:
            raise InputError(f"{KEY_FILE_ENV}: {path} holds fewer than {_MIN_KEY} bytes")
        return secret.strip()
    value = os.environ.get(KEY_ENV)
    if value:
        if len(value) < _MIN_KEY:
            raise InputError(f"{KEY_ENV}: the key has fewer than {_MIN_KEY} characters")
        return value.encode("utf-8")
    return None


def store_key(location: str) -> bytes | None:
    """The key rows of ``location`` are MAC'd under (``None``: no usable key)."""
    key = fleet_key()
    if key is not None:
        return key
    if is_dsn(location):
        raise InputError(
            f"--store {redact_location(location)}: a PostgreSQL store needs the fleet key "
            f"({KEY_FILE_ENV} or {KEY_ENV}); see docs/fleet.md"
        )
    from bomguard._cachekey import cache_key

    return cache_key()


def open_store(location: str, key: bytes | None = None) -> Store | None:
    """Open (creating or migrating) the store at ``location``; ``None`` without a key.

    Raises :class:`StoreError` (exit 3) when it cannot be opened.
    """
    key = key if key is not None else store_key(location)
    if key is None:
        return None
    if is_dsn(location):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise InputError(
                f"--store {redact_location(location)}: PostgreSQL needs psycopg: "
                "pip install 'bomguard[pg]'"
            ) from None
        from bomguard.store.postgres import PostgresStore

        store: Store = PostgresStore(location, key)
    else:
        from bomguard.store.sqlite import SqliteStore

        store = SqliteStore(Path(location), key)
    if 0 < store.migrated_from < 2:
        from bomguard.store.history import build_heads

        build_heads(store)
    return store


_shared: dict[tuple[str, int], Store | None] = {}
_shared_lock = threading.Lock()


def shared_store(location: str) -> Store | None:
    """This process's one open store at ``location`` (opened on first use)."""
    index = (location, os.getpid())
    with _shared_lock:
        if index not in _shared:
            _shared[index] = open_store(location)
        return _shared[index]


def flush_all() -> None:
    """Commit every queued write of this process's open stores."""
    with _shared_lock:
        stores = [s for (_, pid), s in _shared.items() if s is not None and pid == os.getpid()]
    for store in stores:
        store.flush()


@atexit.register
def _close_all() -> None:
    with _shared_lock:
        stores = [s for (_, pid), s in _shared.items() if s is not None and pid == os.getpid()]
        _shared.clear()
    for store in stores:
        with contextlib.suppress(Exception):  # closing at exit: nothing left to tell
            store.close()
