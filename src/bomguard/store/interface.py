"""The evidence store: one interface, a backend per database (SQLite, PostgreSQL).

The store keeps everything a run can reuse or a security team can ask about later:

- **entries**: project pages (with their validators), page freshness, provenance objects,
  downloaded files' digests and verification results. Every entry is a row
  ``(kind, key, meta, body)``; ``meta`` is canonical JSON carrying an HMAC-SHA256 under
  the store key over every meta field and the sha256 of ``body``. A row that does not
  authenticate is dropped, reported through the ``tampered`` callback and fetched or
  verified again, never trusted.
- **identity history**: every verified release identity, with project, version, file,
  the identity record (:func:`bomguard.identity_record.identity_record`), the SBOM that
  showed it, first and last seen. Each row is MAC'd too: it becomes an expectation of
  the ``store`` drift source.
- **SBOM registrations**: which SBOM named which project and version, with its status,
  and the drift events each run saw; what ``bomguard inventory`` reports.

Writes never happen on the caller's thread: they are queued to one writer thread that
commits them in batched transactions (:meth:`Store.flush` waits for them). Reads see
queued writes. A page revalidated with a 304 is not rewritten: only its small freshness
row is.

Backends implement the raw row operations (the ``_`` methods); authentication, the
write queue and the schema version live here, so both backends behave alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bomguard._cachekey import mac
from bomguard.errors import OperationalError

__all__ = [
    "SCHEMA_VERSION",
    "HistoryRow",
    "Row",
    "SbomRow",
    "Store",
    "StoreError",
    "Tampered",
    "history_values",
]

SCHEMA_VERSION = 2
"""The schema this bomguard writes; a store with a higher one is refused (exit 3)."""

Tampered = Callable[[str], None]
"""Called with one sentence naming a dropped row (kind, URL or file) and its problem."""

Row = tuple[str, str, str, bytes | None]
"""``(kind, key, meta, body)`` as a backend stores it."""


def record_sha256(record: str) -> str:
    """What the history's primary key holds instead of the (long) identity record."""
    return hashlib.sha256(record.encode("utf-8")).hexdigest()


def history_values(history: Sequence[tuple[HistoryRow, str]]) -> list[tuple[object, ...]]:
    """The ``history`` table's column values of each row with its MAC, in table order."""
    digests: dict[str, str] = {}  # the files of a release usually share one record
    return [
        (
            r.project,
            r.version,
            r.filename,
            r.record,
            digests.get(r.record) or digests.setdefault(r.record, record_sha256(r.record)),
            r.sbom,
            r.first_seen,
            r.last_seen,
            tag,
        )
        for r, tag in history
    ]


class StoreError(OperationalError):
    """The store cannot be opened or used (exit 3). The message never holds credentials."""


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One release identity the fleet has seen, in one SBOM."""

    project: str
    version: str
    filename: str
    record: str
    """The identity record (:func:`bomguard.identity_record.identity_record`) as
    canonical JSON."""
    sbom: str
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class SbomRow:
    """One component of one SBOM a run enriched, or one drift event it saw."""

    sbom: str
    project: str
    version: str
    status: str
    """The provenance status (``verified``, ``absent``...) or, for a drift event, the
    event as ``source:field``."""
    detail: str
    seen: float


class _Dropped(Exception):
    """A row that exists but must not be trusted; the message says why."""


_SIGNED_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
"""The JSON text an entry's MAC is taken over (``json.dumps(fields, sort_keys=True,
separators=(",", ":"))``, without building an encoder for every row)."""

_GATHER = 0.05
"""Seconds the writer thread lets a trickle of queued writes gather before it commits them."""
_BATCH = 500
"""Most writes the writer thread commits in one transaction (about: a chunk counts whole)."""
_CHUNK = 100
"""History and SBOM rows are queued this many at a time (one queue item each)."""
_STOP = object()
_META_JSON = json.JSONEncoder(sort_keys=True)
"""How an entry's meta (its fields and MAC) is stored: ``json.dumps(meta, sort_keys=True)``."""


class Store(ABC):
    """An open store. Thread-safe; one per process and location is enough."""

    #: Printed in messages instead of the location (a DSN without its password).
    label: str = "store"
    #: The schema version the store had when this process opened it (0: created now).
    migrated_from: int = SCHEMA_VERSION

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._pending: dict[tuple[str, str], Row] = {}
        self._pending_lock = threading.Lock()
        self._queue: queue.Queue[object] = queue.Queue()
        self._writer: threading.Thread | None = None
        # Set by flush() and close(): someone waits, so the writer stops gathering.
        self._hurry = threading.Event()
        self._write_error: BaseException | None = None
        # What reads asked to remember (until forget()): the exact meta and fields of
        # authentic body-less entries, and the MAC of authentic history rows. Only ever
        # what this store computed or checked under its own key, so using them again
        # gives the answer checking again would.
        self._remembered: dict[tuple[str, str], tuple[str, dict[str, object]]] = {}
        self._history_tags: dict[tuple[str, str, str, str, str], str] = {}

    # -- what a backend implements -----------------------------------------------

    @abstractmethod
    def _read(self, kind: str, key: str) -> tuple[str, bytes | None] | None:
        """The row's ``(meta, body)``, or ``None``."""

    def _read_many(self, kind: str, keys: Sequence[str]) -> dict[str, tuple[str, bytes | None]]:
        """:meth:`_read` for many keys (backends answer it in a few queries)."""
        found = {}
        for key in keys:
            raw = self._read(kind, key)
            if raw is not None:
                found[key] = raw
        return found

    def _present(self, kind: str, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` have a row of ``kind`` (backends answer it in one query)."""
        return {key for key in keys if self._read(kind, key) is not None}

    @abstractmethod
    def _write(
        self,
        rows: Sequence[Row],
        history: Sequence[tuple[HistoryRow, str]],
        sboms: Sequence[SbomRow],
    ) -> None:
        """Upsert ``rows``, history rows (with their MAC) and SBOM rows in one transaction.

        A history row already present keeps its ``first_seen`` and takes the later
        ``last_seen``.
        """

    @abstractmethod
    def _delete(self, kind: str, key: str, meta: str) -> None:
        """Delete the row if its meta is still ``meta`` (a concurrent rewrite stays)."""

    @abstractmethod
    def _history(self, project: str) -> list[tuple[HistoryRow, str]]:
        """Every history row of ``project`` with its MAC."""

    def _history_many(self, projects: Sequence[str]) -> list[tuple[HistoryRow, str]]:
        """:meth:`_history` for many projects (backends answer it in a few queries)."""
        return [found for project in projects for found in self._history(project)]

    @abstractmethod
    def _delete_history(self, row: HistoryRow) -> None:
        """Delete one history row."""

    @abstractmethod
    def _claim(self, key: str, owner: str, ttl: float) -> bool:
        """Take the claim on ``key`` (or an expired one); ``False`` if someone holds it."""

    @abstractmethod
    def _release(self, key: str, owner: str) -> None:
        """Give up ``owner``'s claim on ``key``."""

    @abstractmethod
    def sbom_rows(self) -> list[SbomRow]:
        """Every SBOM registration and drift event, for ``bomguard inventory``."""

    @abstractmethod
    def history_rows(self) -> list[HistoryRow]:
        """Every identity history row (unauthenticated: for reporting only)."""

    @abstractmethod
    def _close(self) -> None:
        """Close the backend's connections."""

    # -- authenticated entries ---------------------------------------------------

    def _mac(self, kind: str, key: str, fields: dict[str, object]) -> str:
        signed = _SIGNED_JSON.encode(fields)
        return mac(self.key, "bomguard-store", kind, key, signed)

    def get(
        self, kind: str, key: str, what: str, tampered: Tampered | None, again: str = "fetched"
    ) -> tuple[dict[str, object], bytes | None] | None:
        """The entry's meta fields and body, if present and authentic.

        A row that does not authenticate is deleted and reported through ``tampered``
        with ``what`` naming it (``the cached provenance for x.whl``).
        """
        with self._pending_lock:
            pending = self._pending.get((kind, key))
        raw = (pending[2], pending[3]) if pending is not None else self._read(kind, key)
        if raw is None:
            return None
        return self._authentic(kind, key, raw, what, tampered, again)

    def _authentic(
        self,
        kind: str,
        key: str,
        raw: tuple[str, bytes | None],
        what: str,
        tampered: Tampered | None,
        again: str,
        remember: bool = False,
    ) -> tuple[dict[str, object], bytes | None] | None:
        """The row's fields and body if it authenticates; else dropped and reported."""
        meta, body = raw
        if remember and body is None:
            known = self._remembered.get((kind, key))
            if known is not None and known[0] == meta:
                return dict(known[1]), None  # these very bytes authenticated before
        try:
            fields, body = self._check(kind, key, meta, body)
            if remember and body is None:
                self._remembered[(kind, key)] = (meta, dict(fields))
            return fields, body
        except _Dropped as problem:
            with contextlib.suppress(Exception):
                self._delete(kind, key, meta)
            if tampered is not None:
                tampered(f"{what} {problem}; dropped and {again} again")
            return None

    def get_many(
        self,
        kind: str,
        keys: Sequence[str],
        what: Callable[[str], str],
        tampered: Tampered | None,
        again: str = "fetched",
        remember: bool = False,
    ) -> dict[str, tuple[dict[str, object], bytes | None]]:
        """:meth:`get` for many keys at once: the authentic entries found, by key.

        ``what(key)`` names an entry in the ``tampered`` report. With ``remember``, each
        authentic entry without a body is remembered until :meth:`forget`, and one read
        again byte for byte (by another ``remember`` read) is not checked again.
        """
        with self._pending_lock:
            pending = {
                key: (row[2], row[3])
                for key in keys
                if (row := self._pending.get((kind, key))) is not None
            }
        try:
            raws = self._read_many(kind, [key for key in keys if key not in pending])
        except Exception:
            raws = {}  # unreadable now: misses, fetched and verified again
        raws.update(pending)
        good = {}
        for key, raw in raws.items():
            found = self._authentic(kind, key, raw, what(key), tampered, again, remember)
            if found is not None:
                good[key] = found
        return good

    def forget(self) -> None:
        """Drop what reads asked to remember (see :meth:`get_many`, :meth:`history_many`)."""
        self._remembered.clear()
        self._history_tags.clear()

    def _check(
        self, kind: str, key: str, meta: str, body: bytes | None
    ) -> tuple[dict[str, object], bytes | None]:
        try:
            data = json.loads(meta)
        except ValueError:
            raise _Dropped("is not JSON") from None
        if not isinstance(data, dict):
            raise _Dropped("is not a JSON object")
        tag = data.pop("mac", None)
        if not isinstance(tag, str):
            raise _Dropped("has no MAC")
        if not hmac.compare_digest(tag, self._mac(kind, key, data)):
            raise _Dropped("has a MAC that does not match its contents")
        digest = data.get("body_sha256")
        if body is None:
            if digest is not None:
                raise _Dropped("has lost its body")
        elif not isinstance(digest, str) or hashlib.sha256(body).hexdigest() != digest:
            raise _Dropped("has a body that does not match its recorded sha256")
        return data, body

    def present(self, kind: str, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` have a row of ``kind``, authentic or not: for planning a run
        (is it warm?), never for a result. An unreadable store has none."""
        with self._pending_lock:
            pending = {key for key in keys if (kind, key) in self._pending}
        try:
            return pending | self._present(kind, [k for k in keys if k not in pending])
        except Exception:
            return pending

    def put(self, kind: str, key: str, fields: dict[str, object], body: bytes | None) -> None:
        """Queue an entry for writing (the writer thread commits it)."""
        signed = dict(fields)
        if body is not None:
            signed["body_sha256"] = hashlib.sha256(body).hexdigest()
        signed["mac"] = self._mac(kind, key, signed)
        row: Row = (kind, key, _META_JSON.encode(signed), body)
        with self._pending_lock:
            self._pending[(kind, key)] = row
        self._enqueue(("row", row))

    # -- identity history --------------------------------------------------------

    def _history_mac(self, row: HistoryRow) -> str:
        return mac(self.key, "bomguard-history", *_history_content(row))

    def record_history(self, rows: Iterable[HistoryRow]) -> None:
        """Queue identity history rows for writing."""
        known = self._history_tags
        signed = [(row, known.get(_history_content(row)) or self._history_mac(row)) for row in rows]
        for start in range(0, len(signed), _CHUNK):
            self._enqueue(("history", signed[start : start + _CHUNK]))

    def history(self, project: str, tampered: Tampered | None = None) -> list[HistoryRow]:
        """The authentic history rows of ``project`` (others are dropped and reported)."""
        return self._authentic_history(self._history(project), tampered)

    def history_many(
        self, projects: Iterable[str], tampered: Tampered | None = None, remember: bool = False
    ) -> dict[str, list[HistoryRow]]:
        """:meth:`history` of many projects at once: the authentic rows of each project
        that has any (others are dropped and reported). Unreadable now: none.

        With ``remember``, each authentic row's MAC is kept until :meth:`forget`, and
        :meth:`record_history` of the same row does not compute it again.
        """
        wanted = sorted(set(projects))
        try:
            raw = self._history_many(wanted) if wanted else []
        except Exception:
            raw = []
        good: dict[str, list[HistoryRow]] = {}
        for row in self._authentic_history(raw, tampered, remember):
            good.setdefault(row.project, []).append(row)
        return good

    def _authentic_history(
        self,
        found: Iterable[tuple[HistoryRow, str]],
        tampered: Tampered | None,
        remember: bool = False,
    ) -> list[HistoryRow]:
        good: list[HistoryRow] = []
        for row, tag in found:
            if hmac.compare_digest(tag, self._history_mac(row)):
                good.append(row)
                if remember:
                    self._history_tags[_history_content(row)] = tag
                continue
            with contextlib.suppress(Exception):
                self._delete_history(row)
            if tampered is not None:
                tampered(
                    f"the stored identity history of {row.project} {row.version} "
                    f"({row.filename}) has a MAC that does not match its contents; dropped"
                )
        return good

    def register(self, rows: Iterable[SbomRow]) -> None:
        """Queue SBOM registrations and drift events for writing."""
        listed = list(rows)
        for start in range(0, len(listed), _CHUNK):
            self._enqueue(("sbom", listed[start : start + _CHUNK]))

    # -- claims ------------------------------------------------------------------

    def claim(self, key: str, owner: str, ttl: float = 300.0) -> bool:
        """Claim the work named ``key`` (e.g. verifying one file) for ``ttl`` seconds.

        ``False`` when another live process holds it: wait for its result rather than
        doing the work twice. A claim never changes a result; it only avoids duplicates.
        """
        try:
            return self._claim(key, owner, ttl)
        except Exception:
            return True  # cannot tell: do the work (a duplicate, never a wrong result)

    def release(self, key: str, owner: str) -> None:
        """Give a claim up (the work failed): whoever waits for it takes it over."""
        with contextlib.suppress(Exception):
            self._release(key, owner)

    # -- the writer thread -------------------------------------------------------

    def _enqueue(self, item: tuple[str, object]) -> None:
        if self._writer is None or not self._writer.is_alive():
            self._writer = threading.Thread(
                target=self._write_loop, name="bomguard-store-writer", daemon=True
            )
            self._writer.start()
        self._queue.put(item)

    def _write_loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            self._take_queued(batch)
            if (
                _weight(batch) < _BATCH
                and all(isinstance(item, tuple) for item in batch)
                and not self._hurry.is_set()
            ):
                # Let a trickle of writes gather: one commit (and one wake-up of this
                # thread, which takes the GIL from the event loop) for many rows instead
                # of a few. Never while a flush() or close() waits, nor with a full batch.
                self._hurry.wait(_GATHER)
                self._take_queued(batch)
            rows: list[Row] = []
            history: list[tuple[HistoryRow, str]] = []
            sboms: list[SbomRow] = []
            waiters: list[threading.Event] = []
            stop = False
            for item in batch:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                else:
                    assert isinstance(item, tuple)
                    what, value = item
                    if what == "row":
                        rows.append(value)
                    elif what == "history":
                        history.extend(value)
                    else:
                        sboms.extend(value)
            if rows or history or sboms:
                try:
                    self._write(rows, history, sboms)
                except Exception as err:  # a store that cannot be written is only slower
                    self._write_error = err
                with self._pending_lock:
                    for row in rows:
                        if self._pending.get((row[0], row[1])) is row:
                            del self._pending[(row[0], row[1])]
            if waiters:
                self._hurry.clear()
            for waiter in waiters:
                waiter.set()
            if stop:
                return

    def _take_queued(self, batch: list[object]) -> None:
        """Move what is queued into ``batch``, up to about ``_BATCH`` writes."""
        weight = _weight(batch)
        with contextlib.suppress(queue.Empty):
            while weight < _BATCH:
                item = self._queue.get_nowait()
                batch.append(item)
                weight += _weight((item,))

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until every queued write is committed (or has failed)."""
        if self._writer is None or not self._writer.is_alive():
            return
        done = threading.Event()
        self._queue.put(done)
        self._hurry.set()
        done.wait(timeout)

    def write_problem(self) -> str | None:
        """Why a queued write failed since the last call (``None``: every one committed)."""
        err, self._write_error = self._write_error, None
        return None if err is None else (" ".join(str(err).split()) or type(err).__name__)

    def close(self) -> None:
        """Commit what is queued and close the store."""
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(_STOP)
            self._hurry.set()
            self._writer.join(60.0)
        self._close()

    # -- freshness helper --------------------------------------------------------

    @staticmethod
    def now() -> float:
        return time.time()


def _weight(batch: Iterable[object]) -> int:
    """How many writes the queue items of ``batch`` hold (a chunk of rows is one item)."""
    return sum(
        len(item[1]) if isinstance(item, tuple) and isinstance(item[1], list) else 1
        for item in batch
    )


def _history_content(row: HistoryRow) -> tuple[str, str, str, str, str]:
    """What a history row's MAC covers (not when it was seen)."""
    return row.project, row.version, row.filename, row.record, row.sbom
