"""Direct access to a store's rows, as someone with write access to the database (but not
the store key) has it: read, edit, copy and plant rows behind bomguard's back.

Works on a SQLite file (a path, or a cache directory holding ``bomguard.sqlite3``) and on a
PostgreSQL DSN alike.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STORE_FILE = "bomguard.sqlite3"


class Rows:
    def __init__(self, location: str | Path) -> None:
        text = str(location)
        self.pg = text.startswith(("postgresql://", "postgres://"))
        if self.pg:
            import psycopg

            self.db: Any = psycopg.connect(text, autocommit=True)
            self.mark = "%s"
        else:
            path = Path(text)
            if path.is_dir() or not path.suffix:
                path = path / STORE_FILE
            self.db = sqlite3.connect(path, isolation_level=None)
            self.mark = "?"

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Rows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self.db.execute(statement.replace("?", self.mark), params)
        return list(cursor.fetchall()) if cursor.description is not None else []

    def entries(self, kind: str) -> list[tuple[str, dict[str, Any], bytes | None]]:
        """Every row of ``kind`` as ``(key, meta, body)``."""
        found = self.sql("SELECT key, meta, body FROM entries WHERE kind=? ORDER BY key", (kind,))
        return [(k, json.loads(m), bytes(b) if b is not None else None) for k, m, b in found]

    def entry(self, kind: str) -> tuple[str, dict[str, Any]]:
        """The only row of ``kind``, its body base64-encoded under ``body``."""
        ((key, meta, body),) = self.entries(kind)
        if body is not None:
            meta = {**meta, "body": base64.b64encode(body).decode()}
        return key, meta

    def put(self, kind: str, key: str, entry: dict[str, Any]) -> None:
        """Write ``entry`` (a meta dict, optionally with a base64 ``body``) at ``key``."""
        meta = dict(entry)
        encoded = meta.pop("body", None)
        body = base64.b64decode(encoded) if encoded is not None else None
        self.sql("DELETE FROM entries WHERE kind=? AND key=?", (kind, key))
        self.sql(
            "INSERT INTO entries VALUES (?, ?, ?, ?)",
            (kind, key, json.dumps(meta, sort_keys=True), body),
        )

    def count(self, kind: str) -> int:
        return int(self.sql("SELECT count(*) FROM entries WHERE kind=?", (kind,))[0][0])

    def history(self) -> list[tuple[Any, ...]]:
        return self.sql(
            "SELECT project, version, filename, record, sbom, first_seen, last_seen, mac"
            " FROM history ORDER BY project, version, filename, sbom"
        )


PG_ENV = "BOMGUARD_TEST_PG"


def pg_database() -> Iterator[str]:
    """A fresh database on the test PostgreSQL server (``BOMGUARD_TEST_PG``), dropped after.

    Skipped with the reason when the variable is unset, except in CI (``CI=true``), where
    the PostgreSQL tests are required: ``.ci/run`` starts the server.
    """
    import os
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import pytest

    dsn = os.environ.get(PG_ENV)
    if not dsn:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} is not set: CI must run the PostgreSQL tests (.ci/run)")
        pytest.skip(f"no PostgreSQL server: set {PG_ENV} to a DSN (.ci/postgres.sh starts one)")
    import psycopg

    name = f"bomguard_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(dsn)
    yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
