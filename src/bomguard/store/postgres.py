"""The fleet store: PostgreSQL (psycopg 3), shared by any number of machines.

Every statement is one upsert, so concurrent runs never lose a row nor see half of one;
claims (:meth:`Store.claim`) keep two runs from verifying the same file at once. Schema
changes take a transaction-scoped advisory lock. A connection that breaks (the server
restarted) is opened again on the next statement; while the server is away, reads miss and
writes are dropped: the run fetches and verifies for itself, slower but never wrong.

Messages name the store by :func:`redact_dsn` only: the DSN's password never appears.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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

__all__ = ["PostgresStore", "redact_dsn"]

_LOCK_ID = 740_014


def redact_dsn(dsn: str) -> str:
    """``dsn`` without its password (and without any query string, which may hold one)."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _secrets(dsn: str) -> list[str]:
    parts = urlsplit(dsn)
    found = [parts.password] if parts.password else []
    found += [
        v
        for k, _, v in (p.partition("=") for p in parts.query.split("&"))
        if v and k in ("password", "sslpassword")
    ]
    return found


class PostgresStore(Store):
    def __init__(self, dsn: str, key: bytes) -> None:
        super().__init__(key)
        self._dsn = dsn
        self.label = redact_dsn(dsn)
        self._lock = threading.Lock()
        self._conn: Any = None
        try:
            self._connect()
            self._migrate()
        except StoreError:
            raise
        except Exception as err:
            raise StoreError(f"store {self.label}: {self._describe(err)}") from None

    def _describe(self, err: BaseException) -> str:
        text = " ".join(str(err).split()) or type(err).__name__
        for secret in _secrets(self._dsn):
            text = text.replace(secret, "***")
        return text

    def _connect(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
        return self._conn

    def _migrate(self) -> None:
        conn = self._connect()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            self.migrated_from = migrate(
                conn.execute, self.label, blob="BYTEA", real="DOUBLE PRECISION", mark="%s"
            )

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                cursor = self._connect().execute(sql, params)
            except Exception:
                # One retry on a fresh connection: the server may have restarted.
                if self._conn is not None and not self._conn.broken:
                    raise
                cursor = self._connect().execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else [(cursor.rowcount,)]

    def _read(self, kind: str, key: str) -> tuple[str, bytes | None] | None:
        try:
            found = self._run(
                "SELECT meta, body FROM entries WHERE kind=%s AND key=%s", (kind, key)
            )
        except Exception:
            return None  # unreachable now: a miss, fetched and verified again
        if not found:
            return None
        meta, body = found[0]
        return meta, bytes(body) if body is not None else None

    def _read_many(self, kind: str, keys: Sequence[str]) -> dict[str, tuple[str, bytes | None]]:
        found = self._run(
            "SELECT key, meta, body FROM entries WHERE kind=%s AND key = ANY(%s)",
            (kind, list(keys)),
        )
        return {k: (m, bytes(b) if b is not None else None) for k, m, b in found}

    def _present(self, kind: str, keys: Sequence[str]) -> set[str]:
        found = self._run(
            "SELECT key FROM entries WHERE kind=%s AND key = ANY(%s)", (kind, list(keys))
        )
        return {row[0] for row in found}

    def _write(
        self,
        rows: Sequence[Row],
        history: Sequence[tuple[HistoryRow, str]],
        sboms: Sequence[SbomRow],
    ) -> None:
        with self._lock:
            conn = self._connect()
            with conn.transaction(), conn.cursor() as cur:
                if rows:
                    cur.executemany(
                        "INSERT INTO entries VALUES (%s, %s, %s, %s) ON CONFLICT (kind, key) "
                        "DO UPDATE SET meta = excluded.meta, body = excluded.body",
                        rows,
                    )
                if history:
                    cur.executemany(
                        "INSERT INTO history VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (project, version, filename, record_sha256, sbom) "
                        "DO UPDATE SET "
                        "last_seen = GREATEST(history.last_seen, excluded.last_seen), "
                        "mac = excluded.mac",
                        history_values(history),
                    )
                if sboms:
                    cur.executemany(
                        "INSERT INTO sboms VALUES (%s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (sbom, project, version, status) DO UPDATE SET "
                        "detail = excluded.detail, seen = excluded.seen",
                        [(r.sbom, r.project, r.version, r.status, r.detail, r.seen) for r in sboms],
                    )

    def _delete(self, kind: str, key: str, meta: str) -> None:
        self._run("DELETE FROM entries WHERE kind=%s AND key=%s AND meta=%s", (kind, key, meta))

    def _history(self, project: str) -> list[tuple[HistoryRow, str]]:
        try:
            found = self._run(
                "SELECT project, version, filename, record, sbom, first_seen, last_seen, mac"
                " FROM history WHERE project=%s",
                (project,),
            )
        except Exception:
            return []
        return [(HistoryRow(*r[:7]), r[7]) for r in found]

    def _history_many(self, projects: Sequence[str]) -> list[tuple[HistoryRow, str]]:
        found = self._run(
            "SELECT project, version, filename, record, sbom, first_seen, last_seen, mac"
            " FROM history WHERE project = ANY(%s)",
            (list(projects),),
        )
        return [(HistoryRow(*r[:7]), r[7]) for r in found]

    def _delete_history(self, row: HistoryRow) -> None:
        self._run(
            "DELETE FROM history WHERE project=%s AND version=%s AND filename=%s"
            " AND record_sha256=%s AND sbom=%s",
            (row.project, row.version, row.filename, record_sha256(row.record), row.sbom),
        )

    def _claim(self, key: str, owner: str, ttl: float) -> bool:
        now = time.time()
        found = self._run(
            "INSERT INTO claims VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
            "owner = excluded.owner, expires = excluded.expires"
            " WHERE claims.expires < %s OR claims.owner = excluded.owner",
            (key, owner, now + ttl, now),
        )
        return bool(found and found[0][0] == 1)

    def _release(self, key: str, owner: str) -> None:
        self._run("DELETE FROM claims WHERE key=%s AND owner=%s", (key, owner))

    def sbom_rows(self) -> list[SbomRow]:
        found = self._run(
            "SELECT sbom, project, version, status, detail, seen FROM sboms"
            " ORDER BY sbom, project, version, status"
        )
        return [SbomRow(*r) for r in found]

    def history_rows(self) -> list[HistoryRow]:
        found = self._run(
            "SELECT project, version, filename, record, sbom, first_seen, last_seen"
            " FROM history ORDER BY project, version, filename, sbom"
        )
        return [HistoryRow(*r) for r in found]

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
