"""The store's tables, for both backends, and the migrations between schema versions.

``MIGRATIONS[n]`` brings a store from version ``n - 1`` to ``n``; a fresh store runs them
all. ``{blob}`` and ``{real}`` are the backend's types for bytes and floating point.
The version lives in ``meta(name='schema_version')``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bomguard.store.interface import SCHEMA_VERSION, StoreError

__all__ = ["MIGRATIONS", "migrate"]

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS entries ("
        " kind TEXT NOT NULL, key TEXT NOT NULL, meta TEXT NOT NULL, body {blob},"
        " PRIMARY KEY (kind, key))",
        "CREATE TABLE IF NOT EXISTS history ("
        " project TEXT NOT NULL, version TEXT NOT NULL, filename TEXT NOT NULL,"
        " record TEXT NOT NULL, record_sha256 TEXT NOT NULL, sbom TEXT NOT NULL,"
        " first_seen {real} NOT NULL, last_seen {real} NOT NULL, mac TEXT NOT NULL,"
        " PRIMARY KEY (project, version, filename, record_sha256, sbom))",
        "CREATE TABLE IF NOT EXISTS sboms ("
        " sbom TEXT NOT NULL, project TEXT NOT NULL, version TEXT NOT NULL,"
        " status TEXT NOT NULL, detail TEXT NOT NULL, seen {real} NOT NULL,"
        " PRIMARY KEY (sbom, project, version, status))",
        "CREATE TABLE IF NOT EXISTS claims ("
        " key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires {real} NOT NULL)",
    ),
    # 2: no new table: each project's identity history gets a MAC'd head and the store a
    # MAC'd manifest of the projects that have one (``entries`` rows, written with the
    # key, so :func:`bomguard.store.open_store` builds them for a store migrated from 1).
    2: (),
}


def migrate(execute: Callable[..., Any], label: str, *, blob: str, real: str, mark: str) -> int:
    """Bring a store to :data:`SCHEMA_VERSION` inside the caller's transaction (and lock).

    ``execute(sql, params)`` is the backend's, returning a cursor; ``mark`` is its
    parameter placeholder (``?`` or ``%s``). A store newer than this bomguard is refused.
    Returns the version the store had (0 for a new one).
    """
    execute(MIGRATIONS[1][0])
    found = execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
    version = int(found[0]) if found else 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"store {label} has schema version {version}, newer than this "
            f"bomguard's {SCHEMA_VERSION}: upgrade bomguard or use another --store"
        )
    for step in range(version + 1, SCHEMA_VERSION + 1):
        for ddl in MIGRATIONS[step]:
            execute(ddl.format(blob=blob, real=real))
    execute(
        f"INSERT INTO meta VALUES ('schema_version', {mark}) "  # noqa: S608 - a placeholder
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (str(SCHEMA_VERSION),),
    )
    return version
