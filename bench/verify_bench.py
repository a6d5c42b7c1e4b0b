"""One core, one process: ``ProvenanceVerifier`` with its fast path against sigstore's path.

    python bench/verify_bench.py [--components 300] [--real-copies 20] [--rounds 3]

Times verifying every file of the first ``--components`` projects of the bench data set
(``bench/.data``, minted by ``tests/virtual_sigstore.py``; both releases of each project,
every attestation verified) and ``--real-copies`` copies of the real production
attestations of ``tests/data/provenance`` (as ``baseline.py`` picks them), each with a
fresh verifier (so nothing is remembered from a previous round), once through sigstore's
full verifier (the fast path switched off) and once with the fast path, alternating for
``--rounds`` rounds. Reports CPU milliseconds per attestation (best round; the machine
may be shared), checks both paths give the same verdict for every file and prints how
many attestations the fast path decided. One JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _paths import setup_path

setup_path()


def _bench_jobs(components: int) -> tuple[Path, list[tuple[bytes, str, str]]]:
    import dataset

    data = dataset.ensure(5000, 1)
    jobs = [
        (f["provenance"].encode(), f["filename"], f["sha256"])
        for c in data.components(components)
        for r in c["releases"]
        for f in r["files"]
    ]
    return data.trusted_root, jobs


def _count(jobs: list[tuple[bytes, str, str]]) -> int:
    return sum(
        len(b["attestations"]) for j in jobs for b in json.loads(j[0])["attestation_bundles"]
    )


def _run(root: Any, jobs: list[tuple[bytes, str, str]], fast: bool) -> tuple[float, list[str], int]:
    from bomguard.models import DigestSource
    from bomguard.verify.verifier import ProvenanceVerifier

    verifier = ProvenanceVerifier(root)
    if not fast:
        verifier.fast_path = None
    started = time.process_time()
    verdicts = [verifier.verify(p, n, s, DigestSource.INDEX)[0].value for p, n, s in jobs]
    spent = time.process_time() - started
    fast_path = getattr(verifier, "fast_path", None)  # None in a tree without one
    return spent, verdicts, fast_path.successes if fast_path else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, default=300)
    parser.add_argument("--real-copies", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from baseline import real_sample

    from bomguard.verify.trust import load_trust_root

    minted_root, minted = _bench_jobs(args.components)
    with tempfile.TemporaryDirectory() as tmp:
        real_files = real_sample(Path(tmp) / "real")
    real = [(f.provenance, f.filename, f.sha256) for f in real_files] * args.real_copies
    sets = {
        "minted": (load_trust_root(str(minted_root)), minted),
        "real": (load_trust_root("embedded"), real),
    }
    out: dict[str, Any] = {}
    for name, (root, jobs) in sets.items():
        attestations = _count(jobs)
        best = {"sigstore": float("inf"), "fast": float("inf")}
        verdicts: dict[str, list[str]] = {}
        decided = 0
        for _ in range(args.rounds):
            for path in ("sigstore", "fast"):
                spent, verdicts[path], successes = _run(root, jobs, path == "fast")
                best[path] = min(best[path], spent)
                decided = max(decided, successes)
        if verdicts["sigstore"] != verdicts["fast"]:
            raise SystemExit(f"{name}: the fast path and sigstore disagree")
        out[name] = {
            "files": len(jobs),
            "attestations": attestations,
            "verified": verdicts["fast"].count("verified"),
            "fast_path_decided": decided,
            "sigstore_ms_per_attestation": round(best["sigstore"] * 1000 / attestations, 3),
            "fast_ms_per_attestation": round(best["fast"] * 1000 / attestations, 3),
            "speedup": round(best["sigstore"] / best["fast"], 2),
        }
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
