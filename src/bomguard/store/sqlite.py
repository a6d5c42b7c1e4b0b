"""The embedded store: one SQLite file (WAL), the default under the user cache directory.

Safe to share between processes on one machine (WAL readers never block the writer;
writers wait up to :data:`BUSY_SECONDS` for each other). Each process keeps one
connection, used under a lock by the callers' threads and the writer thread.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from bomguard.store.interface import (
    HistoryRow,
    Row,
    SbomRow,
    Store,
    StoreError,
    history_values,
    record_sha256,
)
from bomguard.store.schema import migrate

__all__ = ["BUSY_SECONDS", "SqliteStore"]

BUSY_SECONDS = 30.0
"""How long a write waits for another process's transaction before giving up."""


class SqliteStore(Store):
    def __init__(self, path: Path, key: bytes) -> None:
        super().__init__(key)
        self.path = path
        self.label = str(path)
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.Error as err:
            raise StoreError(
                f"store {path}: {_describe(err)}",
                hint="it is a cache and a history: move it away to start afresh",
            ) from None
        except OSError as err:
            raise StoreError(f"store {path}: {err.strerror or err}") from None

    def _migrate(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            self.migrated_from = migrate(
                db.execute, str(self.path), blob="BLOB", real="REAL", mark="?"
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _read(self, kind: str, key: str) -> tuple[str, bytes | None] | None:
        try:
            with self._lock:
                found = self._db.execute(
                    "SELECT meta, body FROM entries WHERE kind=? AND key=?", (kind, key)
                ).fetchone()
        except sqlite3.Error:
            return None  # unreadable now: a miss, fetched and verified again
        return (found[0], found[1]) if found is not None else None

    def _read_many(self, kind: str, keys: Sequence[str]) -> dict[str, tuple[str, bytes | None]]:
        found: dict[str, tuple[str, bytes | None]] = {}
        try:
            with self._lock:
                for start in range(0, len(keys), 500):
                    chunk = keys[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows = self._db.execute(
                        f"SELECT key, meta, body FROM entries WHERE kind=? AND key IN ({marks})",  # noqa: S608
                        (kind, *chunk),
                    )
                    found.update((key, (meta, body)) for key, meta, body in rows)
        except sqlite3.Error:
            pass  # unreadable now: misses, fetched and verified again
        return found

    def _present(self, kind: str, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(
                    row[0]
                    for row in self._db.execute(
                        f"SELECT key FROM entries WHERE kind=? AND key IN ({marks})",  # noqa: S608
                        (kind, *chunk),
                    )
                )
        return found

    def _write(
        self,
        rows: Sequence[Row],
        history: Sequence[tuple[HistoryRow, str]],
        sboms: Sequence[SbomRow],
    ) -> None:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO entries VALUES (?, ?, ?, ?) ON CONFLICT (kind, key) "
                    "DO UPDATE SET meta = excluded.meta, body = excluded.body",
                    rows,
                )
                db.executemany(
                    "INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (project, version, filename, record_sha256, sbom) DO UPDATE SET "
                    "last_seen = max(last_seen, excluded.last_seen), mac = excluded.mac",
                    history_values(history),
                )
                db.executemany(
                    "INSERT INTO sboms VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (sbom, project, version, status) DO UPDATE SET "
                    "detail = excluded.detail, seen = excluded.seen",
                    [(r.sbom, r.project, r.version, r.status, r.detail, r.seen) for r in sboms],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _delete(self, kind: str, key: str, meta: str) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM entries WHERE kind=? AND key=? AND meta=?", (kind, key, meta)
            )

    def _history(self, project: str) -> list[tuple[HistoryRow, str]]:
        try:
            with self._lock:
                found = self._db.execute(
                    "SELECT project, version, filename, record, sbom, first_seen, last_seen,"
                    " mac FROM history WHERE project=?",
                    (project,),
                ).fetchall()
        except sqlite3.Error:
            return []
        return [(HistoryRow(*r[:7]), r[7]) for r in found]

    def _history_many(self, projects: Sequence[str]) -> list[tuple[HistoryRow, str]]:
        found: list[tuple[HistoryRow, str]] = []
        with self._lock:
            for start in range(0, len(projects), 500):
                chunk = projects[start : start + 500]
                marks = ",".join("?" * len(chunk))
                columns = "project, version, filename, record, sbom, first_seen, last_seen, mac"
                rows = self._db.execute(
                    f"SELECT {columns} FROM history WHERE project IN ({marks})",  # noqa: S608
                    chunk,
                )
                found.extend((HistoryRow(*r[:7]), r[7]) for r in rows)
        return found

    def _delete_history(self, row: HistoryRow) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM history WHERE project=? AND version=? AND filename=?"
                " AND record_sha256=? AND sbom=?",
                (row.project, row.version, row.filename, record_sha256(row.record), row.sbom),
            )

    def _claim(self, key: str, owner: str, ttl: float) -> bool:
        now = time.time()
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO claims VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "owner = excluded.owner, expires = excluded.expires"
                " WHERE claims.expires < ? OR claims.owner = excluded.owner",
                (key, owner, now + ttl, now),
            )
            return cursor.rowcount == 1

    def _release(self, key: str, owner: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM claims WHERE key=? AND owner=?", (key, owner))

    def sbom_rows(self) -> list[SbomRow]:
        with self._lock:
            found = self._db.execute(
                "SELECT sbom, project, version, status, detail, seen FROM sboms"
                " ORDER BY sbom, project, version, status"
            ).fetchall()
        return [SbomRow(*r) for r in found]

    def history_rows(self) -> list[HistoryRow]:
        with self._lock:
            found = self._db.execute(
                "SELECT project, version, filename, record, sbom, first_seen, last_seen"
                " FROM history ORDER BY project, version, filename, sbom"
            ).fetchall()
        return [HistoryRow(*r) for r in found]

    def _close(self) -> None:
        with self._lock:
            self._db.close()


def _describe(err: sqlite3.Error) -> str:
    text = str(err)
    if "not a database" in text or "malformed" in text:
        return f"is not a bomguard store or is corrupt ({text})"
    if "locked" in text:
        return f"is locked by another process for more than {BUSY_SECONDS:.0f} s"
    return text
