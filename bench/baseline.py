"""The baseline: what a user would script, against bomguard on the very same real files.

The ``pypi-attestations`` CLI verifies against Sigstore's *production* trust root, which
the minted attestations of the synthetic data set do not chain to. So the baseline uses
the REAL production attestations in ``tests/data/provenance`` (MANIFEST.tsv) with their
distributions: each is laid out as ``<dist>`` + ``<dist>.publish.attestation`` and
checked with one process per file, as a shell loop would::

    pypi-attestations verify attestation --offline --identity <signer identity> <dist>

bomguard's side verifies the same attestations (each wrapped in a PEP 740 provenance
object with its Trusted Publisher, as the Integrity API serves it) against the
production root embedded in sigstore (``--trust-root embedded``): once on one core with
:class:`bomguard.verify.ProvenanceVerifier`, and once on every core through the same
worker pool ``verify_batch`` uses (its cache and de-duplication bypassed, since the
point is to verify every copy).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _paths import FIXTURES, setup_path

setup_path()


@dataclass(frozen=True)
class RealFile:
    fixture: str
    dist: Path
    identity: str
    filename: str
    sha256: str
    provenance: bytes
    """The attestation wrapped in a one-bundle PEP 740 provenance object."""


def real_sample(work: Path) -> list[RealFile]:
    """Every production attestation in the fixtures that has its dist and a Trusted Publisher.

    ``*.provenance`` fixtures contribute each attestation of each bundle. Attestations
    signed by a person's e-mail have no Trusted Publisher to check, so bomguard could
    not verify them the same way: they are left out of both sides.
    """
    from indexserver import make_provenance, read_manifest, read_publishers

    manifest = read_manifest(FIXTURES)
    publishers = read_publishers(FIXTURES)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out: list[RealFile] = []
    for fixture, entry in sorted(manifest.items()):
        if entry.trust_root != "production" or not entry.dist_in_dists:
            continue
        raw = json.loads((FIXTURES / "provenance" / fixture).read_bytes())
        if entry.shape == "provenance":
            pairs = [
                (a, b["publisher"]) for b in raw["attestation_bundles"] for a in b["attestations"]
            ]
        elif fixture in publishers:
            pairs = [(raw, publishers[fixture])]
        else:
            continue
        for attestation, publisher in pairs:
            folder = work / str(len(out))
            folder.mkdir()
            dist = folder / entry.dist_filename
            shutil.copyfile(FIXTURES / "provenance" / "dists" / entry.dist_filename, dist)
            dist.with_name(dist.name + ".publish.attestation").write_text(json.dumps(attestation))
            out.append(
                RealFile(
                    fixture=fixture,
                    dist=dist,
                    identity=entry.signer_identity,
                    filename=entry.dist_filename,
                    sha256=entry.subject_sha256,
                    provenance=make_provenance([attestation], publisher),
                )
            )
    return out


def cli_baseline(files: Sequence[RealFile], runs: int, cli: str) -> dict[str, Any]:
    """Time ``runs`` sequential CLI invocations, one file each (cycling through ``files``)."""
    import measure

    times = []
    rss = []
    failures = []
    for i in range(runs):
        f = files[i % len(files)]
        command = [cli, "verify", "attestation", "--offline", "--identity", f.identity, str(f.dist)]
        done = measure.run(command, sample=False)
        times.append(done.wall)
        rss.append(done.max_rss_mib)
        if done.returncode != 0:
            failures.append(f"{f.fixture}: {done.stderr.strip().splitlines()[-1:]}")
    total = sum(times)
    return {
        "runs": runs,
        "max_rss_mib": statistics.median(rss),
        "distinct_files": len(files),
        "failures": failures,
        "total_s": total,
        "per_file_mean_s": total / runs,
        "per_file_median_s": statistics.median(times),
        "per_file_min_s": min(times),
        "files_per_s": runs / total,
    }


# -- bomguard on the same files --------------------------------------------------------


def _pool_init(raw_root: bytes, parent: int) -> None:
    from bomguard.verify import batch
    from bomguard.verify.trust import TrustRoot

    digest = hashlib.sha256(raw_root).hexdigest()
    batch._init_worker(TrustRoot("embedded", "production", digest, raw_root), parent)


def _pool_verify(job: Any) -> str:
    from bomguard.verify import batch

    result = batch._verify_in_worker(job)
    # A FileVerdict tuple; older trees returned the cache's JSON form.
    return str(result["status"]) if isinstance(result, dict) else str(result[0].value)


def bomguard_on_real(files: Sequence[RealFile], copies: int) -> dict[str, Any]:
    """bomguard's verification throughput on the real files: one core, then every core."""
    from bomguard.models import DigestSource
    from bomguard.verify.batch import VerifyJob
    from bomguard.verify.trust import load_trust_root
    from bomguard.verify.verifier import ProvenanceVerifier

    root = load_trust_root("embedded")
    verifier = ProvenanceVerifier(root)
    for f in files:  # warm-up, and check every one verifies
        status = verifier.verify(f.provenance, f.filename, f.sha256, DigestSource.INDEX)[0]
        if status.value != "verified":
            raise RuntimeError(f"{f.fixture}: bomguard says {status.value}")
    jobs = [f for _ in range(copies) for f in files]
    started = time.perf_counter()
    for f in jobs:
        verifier.verify(f.provenance, f.filename, f.sha256, DigestSource.INDEX)
    one_core = time.perf_counter() - started

    workers = os.cpu_count() or 1
    pool_jobs = [VerifyJob(f.provenance, f.filename, f.sha256, DigestSource.INDEX) for f in jobs]
    started = time.perf_counter()
    with ProcessPoolExecutor(
        max_workers=min(workers, 8), initializer=_pool_init, initargs=(root.raw, os.getpid())
    ) as pool:
        chunk = max(1, len(pool_jobs) // (workers * 8))
        statuses = list(pool.map(_pool_verify, pool_jobs, chunksize=chunk))
    all_cores = time.perf_counter() - started
    bad = [s for s in statuses if s != "verified"]
    if bad:
        raise RuntimeError(f"{len(bad)} real files did not verify in the pool: {bad[:3]}")
    return {
        "files": len(jobs),
        "one_core_s": one_core,
        "one_core_files_per_s": len(jobs) / one_core,
        "one_core_ms_per_file": one_core / len(jobs) * 1000,
        "workers": min(workers, 8),
        "all_cores_s": all_cores,
        "all_cores_files_per_s": len(jobs) / all_cores,
    }


def main(argv: list[str] | None = None) -> int:
    """``python bench/baseline.py --work DIR --copies K``: bomguard's side, as JSON on stdout.

    Run as its own process (by ``run.py``) so that it imports the bomguard tree being
    measured (``BENCH_SRC``) and nothing the harness has loaded.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--copies", type=int, default=50)
    args = parser.parse_args(argv)
    files = real_sample(args.work)
    json.dump(bomguard_on_real(files, args.copies), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
