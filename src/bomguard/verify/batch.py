"""Verify many files: across all cores, and never the same inputs twice.

A verification result depends only on the provenance bytes, the file's name and sha256,
where the digest came from, the trust root (certificates are checked at the log's
integrated time, not "now") and the code that checks them, so results are cached on
disk keyed by exactly those.

Because a cached ``verified`` is trusted without re-checking the signature, every entry
carries an HMAC under the per-user cache key (:mod:`bomguard._cachekey`, shared with the
index cache). An entry planted or edited without that key, or one that does not parse, is
ignored and the file verified again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bomguard._cachekey import cache_key
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
_CACHE_FORMAT = 2


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
            _versions(),
        ):
            h.update(part.encode("utf-8") + b"\0")
        return h.hexdigest()


@functools.cache
def _versions() -> str:
    """The versions whose code decides a result: an upgrade never reuses old results."""
    from importlib.metadata import PackageNotFoundError, version

    from bomguard._version import __version__

    parts = [f"bomguard={__version__}"]
    for dist in ("sigstore", "pypi-attestations", "cryptography"):
        try:
            parts.append(f"{dist}={version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist}=?")
    return ",".join(parts)


# -- (de)serialising results ---------------------------------------------------------


def _dump(verdict: FileVerdict) -> dict[str, Any]:
    status, reason, results, identity = verdict
    return {
        "format": _CACHE_FORMAT,
        "status": status.value,
        "reason": reason,
        "attestations": [
            {
                "predicate_type": r.predicate_type,
                "status": r.status.value,
                "reason": r.reason,
                "identity": asdict(r.identity) if r.identity else None,
            }
            for r in results
        ],
        "identity": asdict(identity) if identity else None,
    }


def _identity(data: Any) -> Identity | None:
    if data is None:
        return None
    return Identity(**{**data, "claims": dict(data.get("claims", {}))})


def _load(data: Any) -> FileVerdict | None:
    try:
        if data.get("format") != _CACHE_FORMAT:
            return None
        results = tuple(
            AttestationResult(
                a["predicate_type"], Status(a["status"]), a["reason"], _identity(a["identity"])
            )
            for a in data["attestations"]
        )
        return Status(data["status"]), data["reason"], results, _identity(data["identity"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


Tampered = Callable[[str], None]
"""Called with one sentence naming a dropped cache entry and its problem."""


class _ResultCache:
    def __init__(self, root: Path | None, on_tampered: Tampered | None = None) -> None:
        self.secret = cache_key() if root is not None else None
        self.root = root / "verify" if root is not None and self.secret else None
        self.on_tampered = on_tampered

    def _mac(self, key: str, payload: str) -> str:
        assert self.secret is not None
        return hmac.new(self.secret, f"{key}\0{payload}".encode(), hashlib.sha256).hexdigest()

    def get(self, key: str, filename: str) -> FileVerdict | None:
        if self.root is None:
            return None
        path = self.root / key[:2] / f"{key}.json"
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        try:
            data = json.loads(raw)
            payload, tag = data["payload"], data["mac"]
        except (ValueError, KeyError, TypeError):
            payload = tag = None
        if not isinstance(payload, str) or not isinstance(tag, str):
            self._drop(path, filename, "is not a cache entry")
            return None
        if not hmac.compare_digest(tag, self._mac(key, payload)):
            self._drop(path, filename, "has a MAC that does not match its contents")
            return None
        try:
            return _load(json.loads(payload))  # None for an entry of another format
        except ValueError:
            return None

    def _drop(self, path: Path, filename: str, problem: str) -> None:
        with contextlib.suppress(OSError):
            path.unlink()
        if self.on_tampered is not None:
            self.on_tampered(
                f"the cached verification result for {filename} {problem}; "
                "dropped and verified again"
            )

    def put(self, key: str, verdict: FileVerdict) -> None:
        if self.root is None:
            return
        folder = self.root / key[:2]
        tmp: Path | None = None
        payload = json.dumps(_dump(verdict), sort_keys=True)
        entry = {"payload": payload, "mac": self._mac(key, payload)}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".tmp-", dir=folder)
            tmp = Path(name)
            with os.fdopen(fd, "wb") as handle:
                handle.write(json.dumps(entry).encode("utf-8"))
            tmp.replace(folder / f"{key}.json")
        except OSError:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()


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
    cache_dir: Path | None = None,
    workers: int | None = None,
    on_done: Callable[[str], None] | None = None,
    on_tampered: Tampered | None = None,
) -> list[FileVerdict]:
    """Verify ``jobs`` (results in the same order), in parallel when it pays off.

    ``on_tampered`` hears of every cache entry that did not authenticate (and was dropped).
    """
    cache = _ResultCache(cache_dir, on_tampered)
    shared = Interner()
    keys = [job.key(trust_root) for job in jobs]
    results: dict[str, FileVerdict] = {}
    todo: dict[str, VerifyJob] = {}
    for key, job in zip(keys, jobs, strict=True):
        if key in results or key in todo:
            continue
        hit = cache.get(key, job.filename)
        if hit is not None:
            results[key] = shared.verdict(hit)
        else:
            todo[key] = job
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
    return [results[key] for key in keys]


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
        cache_dir: Path | None = None,
        workers: int | None = None,
        on_done: Callable[[str], None] | None = None,
        on_tampered: Tampered | None = None,
    ) -> None:
        self.trust_root = trust_root
        self.cache_dir = cache_dir
        self.on_tampered = on_tampered
        self.cache = _ResultCache(cache_dir, on_tampered)
        self.workers = workers
        self.on_done = on_done
        self.results: dict[str, FileVerdict] = {}
        self.shared = Interner()
        self.futures: dict[str, tuple[VerifyJob, Future[list[FileVerdict]], int]] = {}
        self.pending: dict[str, VerifyJob] = {}
        self.pool: ProcessPoolExecutor | None = None
        size = _pool_size(expected, workers)
        if size:
            self.pool = _new_pool(trust_root, size)
            self.pool.submit(_started)  # forks every worker now, while this is one thread

    def submit(self, job: VerifyJob) -> None:
        if self.pool is None:
            return  # verified in finish()
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
        self.pending = {}

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
                cache_dir=self.cache_dir,
                workers=self.workers,
                on_done=self.on_done,
                on_tampered=self.on_tampered,
            )
        try:
            for job in jobs:
                self.submit(job)
            self._flush()
            for key, (job, future, position) in self.futures.items():
                loaded = future.result()[position]
                self.results[key] = self.shared.verdict(loaded)
                self.cache.put(key, loaded)
                if self.on_done is not None:
                    self.on_done(job.filename)
        except BaseException:
            _stop_pool(self.pool)
            raise
        self.pool.shutdown()
        return [self.results[job.key(self.trust_root)] for job in jobs]
