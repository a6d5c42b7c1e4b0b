"""Verify many files: across all cores, and never the same inputs twice.

A verification result depends only on the provenance bytes, the file's name and sha256,
where the digest came from, the trust root (certificates are checked at the log's
integrated time, not "now") and the code that checks them, so results are cached on
disk keyed by exactly those.

Results live in the evidence store (:mod:`bomguard.store`). Because a stored ``verified``
is trusted without re-checking the signature, every row carries an HMAC under the store
key. A row planted or edited without that key, or one that does not parse, is dropped
(with a ``cache-tampered`` event) and the file verified again.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bomguard.models import AttestationResult, DigestSource, Identity, Status
from bomguard.verify._intern import Interner
from bomguard.verify.trust import TrustRoot
from bomguard.verify.verifier import FileVerdict, ProvenanceVerifier

__all__ = ["VerifyJob", "VerifyStream", "verify_batch"]

#: Below this many files, starting worker processes costs more than it saves.
POOL_THRESHOLD = 48
#: Files sent to a worker in one task while streaming (one submission costs ~150 us,
#: a batched one ~15 us per file).
SUBMIT_BATCH = 8
_CACHE_FORMAT = 3
"""Version of a stored result's JSON (part of its key: another format is never read).
3: the JSON is the row's body (checked against the MAC'd sha256 in one pass, not
re-serialised to check the MAC), the file's identity an index into its attestations."""
_READ_CHUNK = 500
"""Stored results read in one query (and decoded before the next)."""
_KIND = "verify"
CLAIM_WAIT = 120.0
"""How long a run waits for a file another run sharing the store claimed to verify."""


@dataclass(frozen=True, slots=True)
class VerifyJob:
    """One file to verify."""

    provenance: bytes
    filename: str
    sha256: str | None
    digest_source: DigestSource | None
    publisher: str | None = None
    """The Trusted Publisher to hold every attestation to, as canonical JSON (``None``:
    the one each bundle names)."""

    def key(self, trust_root: TrustRoot) -> str:
        h = hashlib.sha256()
        for part in (
            hashlib.sha256(self.provenance).hexdigest(),
            self.filename,
            self.sha256 or "",
            self.digest_source.value if self.digest_source else "",
            self.publisher or "",
            trust_root.sha256,
            str(_CACHE_FORMAT),
            code_versions(),
        ):
            h.update(part.encode("utf-8") + b"\0")
        return h.hexdigest()


#: Raised whenever the verifier's checks change (e.g. the log key's validity window), so
#: that results stored by a build with other checks are never reused, whatever its version.
CHECKS_REVISION = 2


@functools.cache
def code_versions() -> str:
    """The versions whose code decides a result: an upgrade never reuses old results."""
    from bomguard._version import __version__

    parts = [f"bomguard={__version__}", f"checks={CHECKS_REVISION}"]
    for dist in ("sigstore", "sigstore-models", "pypi-attestations", "cryptography"):
        parts.append(f"{dist}={_installed_version(dist) or '?'}")
    return ",".join(parts)


def _installed_version(dist: str) -> str | None:
    """The installed version of ``dist``: from the name of the first ``.dist-info``
    directory for it on ``sys.path`` (where Python's import finds the package; a wheel
    install names it ``{name}-{version}.dist-info``), else ``importlib.metadata``'s
    answer (which parses every candidate's metadata; importing it alone costs more than
    the rest of this)."""
    from bomguard._installed import metadata_dirs

    prefix = dist.replace("-", "_") + "-"
    for names in metadata_dirs():
        lowered = [n.lower() for n in names]
        found = [n for n in lowered if n.startswith(prefix) and n.endswith(".dist-info")]
        if len(found) == 1 and "-" not in found[0][len(prefix) : -len(".dist-info")]:
            return found[0][len(prefix) : -len(".dist-info")]
        if found or any(n.startswith(prefix) and n.endswith(".egg-info") for n in lowered):
            break  # not one plain wheel install here: ask importlib.metadata
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


# -- (de)serialising results ---------------------------------------------------------


_IDENTITY_FIELDS = tuple(f.name for f in fields(Identity))


def _identity_fields(identity: Identity | None) -> dict[str, Any] | None:
    """``dataclasses.asdict(identity)`` without its deep copies (~150 us a result)."""
    if identity is None:
        return None
    data = {name: getattr(identity, name) for name in _IDENTITY_FIELDS}
    data["claims"] = dict(identity.claims)
    data["trusted_publisher"] = dict(identity.trusted_publisher)
    return data


def _dump(verdict: FileVerdict) -> dict[str, Any]:
    status, reason, results, identity = verdict
    data: dict[str, Any] = {
        "format": _CACHE_FORMAT,
        "status": status.value,
        "reason": reason,
        "attestations": [
            {
                "predicate_type": r.predicate_type,
                "status": r.status.value,
                "reason": r.reason,
                "identity": _identity_fields(r.identity),
            }
            for r in results
        ],
    }
    # The file's identity is one of its attestations' (the first verified one): named by
    # its place, not written twice.
    at = next(
        (i for i, r in enumerate(results) if identity is not None and r.identity == identity), None
    )
    if at is not None:
        data["identity_at"] = at
    else:
        data["identity"] = _identity_fields(identity)
    return data


def _payload(verdict: FileVerdict) -> bytes:
    """The stored JSON text of a result (orjson: the pure-Python encoder took ~250 us)."""
    import orjson

    return orjson.dumps(_dump(verdict), option=orjson.OPT_SORT_KEYS)


def _identity(data: Any) -> Identity | None:
    if data is None:
        return None
    return Identity(**{**data, "claims": dict(data.get("claims", {}))})


def _load(data: Any, shared: Interner | None = None) -> FileVerdict | None:
    """A stored result; with ``shared``, its identities built from shared parts."""
    make = shared.identity_from if shared is not None else _identity
    try:
        if data.get("format") != _CACHE_FORMAT:
            return None
        stored = data["attestations"]
        results = tuple(
            AttestationResult(
                a["predicate_type"], Status(a["status"]), a["reason"], make(a["identity"])
            )
            for a in stored
        )
        at = data.get("identity_at")
        if at is None:
            return Status(data["status"]), data["reason"], results, make(data["identity"])
        if type(at) is not int or not 0 <= at < len(results) or results[at].identity is None:
            return None
        return Status(data["status"]), data["reason"], results, results[at].identity
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _loaded(body: bytes | None, shared: Interner | None = None) -> FileVerdict | None:
    """The result a row's (authenticated) body holds, or ``None``."""
    if body is None:
        return None
    try:
        return _load(json.loads(body), shared)
    except ValueError:
        return None


Tampered = Callable[[str], None]
"""Called with one sentence naming a dropped cache entry and its problem."""


class _ResultCache:
    """Verification results in the store, as ``verify`` rows keyed by :meth:`VerifyJob.key`.

    Claims keep concurrent runs sharing a store from verifying one file twice: a run that
    finds a file claimed waits (up to :data:`CLAIM_WAIT`) for the other's result, then
    verifies it itself.
    """

    def __init__(self, location: str | None, on_tampered: Tampered | None = None) -> None:
        from bomguard.store import shared_store

        self.store = shared_store(location) if location is not None else None
        self.on_tampered = on_tampered
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    def get(self, key: str, filename: str) -> FileVerdict | None:
        if self.store is None:
            return None
        what = f"the cached verification result for {filename}"
        found = self.store.get(_KIND, key, what, self.on_tampered, again="verified")
        return _loaded(found[1]) if found is not None else None

    def get_many(self, names: dict[str, str], shared: Interner) -> dict[str, FileVerdict]:
        """:meth:`get` for every key of ``names`` (key to file name), a few hundred keys a
        query (each chunk decoded before the next is read); identities built from
        ``shared``'s parts."""
        if self.store is None or not names:
            return {}
        keys = list(names)
        hits: dict[str, FileVerdict] = {}
        for start in range(0, len(keys), _READ_CHUNK):
            found = self.store.get_many(
                _KIND,
                keys[start : start + _READ_CHUNK],
                lambda key: f"the cached verification result for {names[key]}",
                self.on_tampered,
                again="verified",
            )
            for key, (_, body) in found.items():
                loaded = _loaded(body, shared)
                if loaded is not None:
                    hits[key] = loaded
        return hits

    def claim(self, key: str) -> bool:
        """Whether this run should verify ``key`` now (no one else is at it)."""
        return self.store is None or self.store.claim(f"verify:{key}", self.owner)

    def wait(self, key: str, filename: str) -> FileVerdict | None:
        """The result another run is producing for ``key``, if it arrives in time."""
        deadline = time.monotonic() + CLAIM_WAIT
        while time.monotonic() < deadline:
            hit = self.get(key, filename)
            if hit is not None:
                return hit
            time.sleep(0.05)
        return None

    def put(self, key: str, verdict: FileVerdict) -> None:
        if self.store is None:
            return
        self.store.put(_KIND, key, {}, _payload(verdict))

    def flush(self) -> None:
        if self.store is not None:
            self.store.flush()


# -- the worker side -----------------------------------------------------------------

_worker_verifier: ProvenanceVerifier | None = None


def _init_worker(trust_root: TrustRoot, parent: int) -> None:
    """Set a worker up: it dies with its parent and leaves signals to the parent.

    SIGINT (a terminal's Ctrl-C reaches the whole process group) is ignored: the parent
    stops the pool. SIGTERM gets its default action back (a forked worker inherits the
    parent's Python handler), so terminating a worker ends it at once. A thread watches
    for the parent's death (SIGKILL leaves no chance to clean up) and exits the worker.
    """
    global _worker_verifier
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    _worker_verifier = ProvenanceVerifier(trust_root)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _verify_in_worker(job: VerifyJob) -> FileVerdict:
    assert _worker_verifier is not None
    return _run(_worker_verifier, job)


def _verify_many_in_worker(jobs: Sequence[VerifyJob]) -> list[FileVerdict]:
    """Several jobs in one pool task: one round trip (and pickle) for the lot.

    Verdicts travel back as they are (pickled dataclasses and enums), not as the cache's
    JSON form: ``dataclasses.asdict`` costs ~150 us per result at each end.
    """
    assert _worker_verifier is not None
    return [_run(_worker_verifier, job) for job in jobs]


def _run(verifier: ProvenanceVerifier, job: VerifyJob) -> FileVerdict:
    held_to = None
    if job.publisher is not None:
        try:
            held_to = json.loads(job.publisher)
        except ValueError:
            held_to = None
        if not isinstance(held_to, dict):
            return Status.INVALID, "the Trusted Publisher to hold it to does not parse", (), None
    return verifier.verify(job.provenance, job.filename, job.sha256, job.digest_source, held_to)


def _pool_size(jobs: int, workers: int | None) -> int:
    """How many worker processes ``jobs`` files are worth (0: verify in this process)."""
    count = workers if workers is not None else (os.cpu_count() or 1)
    return min(count, 8) if jobs >= POOL_THRESHOLD and count > 1 else 0


def _new_pool(trust_root: TrustRoot, size: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=size, initializer=_init_worker, initargs=(trust_root, os.getpid())
    )


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop ``pool`` now: cancel what is queued and terminate the workers (idempotent).

    For the error and interrupt paths: ``shutdown()`` alone would wait for every queued
    file to be verified first.
    """
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=5)


def verify_batch(
    trust_root: TrustRoot,
    jobs: Sequence[VerifyJob],
    *,
    store: str | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    on_done: Callable[[str], None] | None = None,
    on_tampered: Tampered | None = None,
) -> list[FileVerdict]:
    """Verify ``jobs`` (results in the same order), in parallel when it pays off.

    Results are kept in the store at ``store`` (or ``cache_dir/bomguard.sqlite3``).
    ``on_tampered`` hears of every stored row that did not authenticate (and was dropped).
    """
    cache = _ResultCache(_location(store, cache_dir), on_tampered)
    shared = Interner()
    keys = [job.key(trust_root) for job in jobs]
    results: dict[str, FileVerdict] = {}
    todo: dict[str, VerifyJob] = {}
    others: dict[str, VerifyJob] = {}
    names = {key: job.filename for key, job in zip(keys, jobs, strict=True)}
    stored = cache.get_many(names, shared)
    for key, job in zip(keys, jobs, strict=True):
        if key in results or key in todo or key in others:
            continue
        hit = stored.get(key)
        if hit is not None:
            results[key] = hit
        elif cache.claim(key):
            # Ours now; the run that held the claim before may have stored it meanwhile.
            again = cache.get(key, job.filename)
            if again is not None:
                results[key] = shared.verdict(again)
            else:
                todo[key] = job
        else:
            others[key] = job  # another run sharing the store is verifying it
    _verify_todo(trust_root, todo, results, cache, workers, on_done)
    late: dict[str, VerifyJob] = {}
    for key, job in others.items():
        hit = cache.wait(key, job.filename)
        if hit is not None:
            results[key] = hit
        else:
            late[key] = job  # the other run died or is slow: verify it here
    _verify_todo(trust_root, late, results, cache, workers, on_done)
    return [results[key] for key in keys]


def _location(store: str | None, cache_dir: Path | None) -> str | None:
    if store is not None:
        return store
    if cache_dir is not None:
        from bomguard.store import STORE_FILENAME

        return str(cache_dir / STORE_FILENAME)
    return None


def _verify_todo(
    trust_root: TrustRoot,
    todo: dict[str, VerifyJob],
    results: dict[str, FileVerdict],
    cache: _ResultCache,
    workers: int | None,
    on_done: Callable[[str], None] | None,
) -> None:
    shared = Interner()
    size = _pool_size(len(todo), workers)
    if size:
        pool = _new_pool(trust_root, size)
        try:
            chunk = max(1, len(todo) // (size * 8))
            for key, loaded in zip(
                todo, pool.map(_verify_in_worker, todo.values(), chunksize=chunk), strict=True
            ):
                results[key] = shared.verdict(loaded)
                cache.put(key, loaded)
                if on_done is not None:
                    on_done(todo[key].filename)
        except BaseException:
            _stop_pool(pool)
            raise
        pool.shutdown()
    elif todo:
        verifier = ProvenanceVerifier(trust_root)
        for key, job in todo.items():
            verdict = _run(verifier, job)
            results[key] = verdict
            cache.put(key, verdict)
            if on_done is not None:
                on_done(job.filename)
    cache.flush()


def _started() -> bool:
    return True


class VerifyStream:
    """Verify files while they are still being fetched: submit each as it arrives.

    With ``expected`` files at least :data:`POOL_THRESHOLD` (and more than one core), the
    worker pool is forked at once, before the caller starts its event loop and the
    resolver threads that come with it, and every file submitted goes straight to it. With
    fewer, nothing starts early and :meth:`finish` does what :func:`verify_batch` does.
    Results are cached and de-duplicated exactly as :func:`verify_batch` does.
    """

    def __init__(
        self,
        trust_root: TrustRoot,
        *,
        expected: int,
        store: str | None = None,
        cache_dir: Path | None = None,
        workers: int | None = None,
        on_done: Callable[[str], None] | None = None,
        on_tampered: Tampered | None = None,
    ) -> None:
        self.trust_root = trust_root
        self.location = _location(store, cache_dir)
        self.on_tampered = on_tampered
        self.cache = _ResultCache(self.location, on_tampered)
        self.workers = workers
        self.on_done = on_done
        self.results: dict[str, FileVerdict] = {}
        self.shared = Interner()
        self.futures: dict[str, tuple[VerifyJob, Future[list[FileVerdict]], int]] = {}
        self.pending: dict[str, VerifyJob] = {}
        # Batches sent to the pool whose verdicts are not taken in yet, oldest first.
        self.batches: collections.deque[
            tuple[Future[list[FileVerdict]], list[tuple[str, VerifyJob]]]
        ] = collections.deque()
        self.pool: ProcessPoolExecutor | None = None
        size = _pool_size(expected, workers)
        if size:
            self.pool = _new_pool(trust_root, size)
            self.pool.submit(_started)  # forks every worker now, while this is one thread

    def submit(self, job: VerifyJob, key: str | None = None) -> None:
        if self.pool is None:
            return  # verified in finish()
        if key is None:
            key = job.key(self.trust_root)
        if key in self.results or key in self.futures or key in self.pending:
            return
        hit = self.cache.get(key, job.filename)
        if hit is not None:
            self.results[key] = self.shared.verdict(hit)
            return
        self.pending[key] = job
        if len(self.pending) >= SUBMIT_BATCH:
            self._flush()

    def _flush(self) -> None:
        """Send the pending jobs to the pool as one task."""
        if not self.pending or self.pool is None:
            return
        jobs = list(self.pending.values())
        future = self.pool.submit(_verify_many_in_worker, jobs)
        for position, (key, job) in enumerate(self.pending.items()):
            self.futures[key] = (job, future, position)
        self.batches.append((future, list(self.pending.items())))
        self.pending = {}
        self._take_in(wait=False)

    def _take_in(self, *, wait: bool) -> None:
        """Record the verdicts of finished batches (oldest first): interned, queued for
        the store, reported. While files are still being fetched only batches already
        done are taken (``wait=False``), so that this work is spread over the fetch
        instead of all waiting for :meth:`finish`; a batch that failed is left for
        :meth:`finish` to raise."""
        while self.batches:
            future, keyed = self.batches[0]
            if not wait and (not future.done() or future.exception() is not None):
                return
            verdicts = future.result()
            self.batches.popleft()
            for (key, job), loaded in zip(keyed, verdicts, strict=True):
                self.results[key] = self.shared.verdict(loaded)
                self.cache.put(key, loaded)
                if self.on_done is not None:
                    self.on_done(job.filename)

    def close(self) -> None:
        """Stop the worker pool now, queued work and all (idempotent; for ``finally``)."""
        if self.pool is not None:
            _stop_pool(self.pool)

    def finish(self, jobs: Sequence[VerifyJob]) -> list[FileVerdict]:
        """Verdicts for ``jobs`` (submitting any not submitted yet), in their order."""
        if self.pool is None:
            return verify_batch(
                self.trust_root,
                jobs,
                store=self.location,
                workers=self.workers,
                on_done=self.on_done,
                on_tampered=self.on_tampered,
            )
        keys = [job.key(self.trust_root) for job in jobs]
        try:
            for job, key in zip(jobs, keys, strict=True):
                self.submit(job, key)
            self._flush()
            self._take_in(wait=True)
        except BaseException:
            _stop_pool(self.pool)
            raise
        self.pool.shutdown()
        self.cache.flush()
        # The jobs (each holding its provenance bytes) are done with: dropped here, so
        # that the bytes go as soon as the caller lets its fetch results go.
        self.futures.clear()
        self.batches.clear()
        return [self.results[key] for key in keys]
