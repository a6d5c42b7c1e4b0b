"""The store's tables, for both backends, and the migrations between schema versions.

``MIGRATIONS[n]`` brings a store from version ``n - 1`` to ``n``; a fresh store runs them
all. ``{blob}`` and ``{real}`` are the backend's types for bytes and floating point.
The version lives in ``meta(name='schema_version')``.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

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
}
