"""The fleet figures: many overlapping SBOMs, separate caches vs one shared store.

    python bench/fleet.py [--sboms 50] [--components 200] [--overlap 0.8] [--latency 0.05]
                          [--parallel 4] [--pg postgresql://...]

SBOM ``k`` names the current release of ``overlap * components`` projects every SBOM
shares plus its own ``(1 - overlap) * components``, from the bench data set
(``bench/dataset.py``), served by the loopback index of ``bench/server.py`` with
``--latency`` per request. Every run is ``python -m bomguard enrich`` as a user runs it,
with ``--drift-depth 0``. Measured, as mean seconds per SBOM:

- ``separate cold`` / ``separate warm``: each SBOM with a cache directory of its own,
  empty, then again;
- ``shared sqlite``: all SBOMs one after another into one SQLite store (the first is cold,
  the rest find most files there), then ``shared sqlite warm`` (all again);
- ``shared sqlite, P processes`` / ``shared postgresql, P processes``: a fresh store,
  ``--parallel`` processes at once until every SBOM is done (wall time / SBOMs);
- the store's size per 1,000 files (SQLite file after the shared run).

Prints a Markdown table and writes ``bench/results/fleet.json``. Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _paths import BENCH, SRC_ENV, setup_path

setup_path()

import dataset as datasets  # noqa: E402
from server import ServerProcess  # noqa: E402


def log(message: str) -> None:
    print(f"[fleet] {message}", file=sys.stderr, flush=True)


def write_sboms(data: Any, args: argparse.Namespace, folder: Path) -> list[Path]:
    shared = round(args.components * args.overlap)
    own = args.components - shared
    records = list(data.components(shared + own * args.sboms))
    paths = []
    for k in range(args.sboms):
        chosen = records[:shared] + records[shared + own * k : shared + own * (k + 1)]
        components = []
        for record in chosen:
            current = record["releases"][-1]
            purl = f"pkg:pypi/{record['name']}@{current['version']}"
            components.append(
                {
                    "type": "library",
                    "bom-ref": purl,
                    "name": record["name"],
                    "version": current["version"],
                    "purl": purl,
                }
            )
        doc = {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "serialNumber": f"urn:uuid:00000000-0000-4000-8000-{k:012d}",
            "version": 1,
            "components": components,
        }
        path = folder / f"app-{k:03d}.cdx.json"
        path.write_text(json.dumps(doc))
        paths.append(path)
    return paths


def enrich(
    sbom: Path, store: list[str], env: dict[str, str], index: str, root: Path, work: Path
) -> float:
    out = work / f"{sbom.stem}.{time.monotonic_ns()}.out.json"
    command = [
        sys.executable,
        "-m",
        "bomguard",
        "enrich",
        str(sbom),
        "-o",
        str(out),
        "--index-url",
        index,
        "--trust-root",
        str(root),
        "--drift-depth",
        "0",
        *store,
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{sbom.name}: exit {done.returncode}: {done.stderr[-2000:]}")
    out.unlink(missing_ok=True)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sboms", type=int, default=50)
    parser.add_argument("--components", type=int, default=200)
    parser.add_argument("--overlap", type=float, default=0.8)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg", help="a PostgreSQL DSN (an empty database) for the PG row")
    parser.add_argument("--skip-separate", action="store_true")
    args = parser.parse_args()

    shared = round(args.components * args.overlap)
    total = shared + (args.components - shared) * args.sboms
    data = datasets.ensure(total, args.seed, log)
    scratch = Path(tempfile.mkdtemp(prefix="bomguard-fleet-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOMGUARD_")}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [os.environ.get(SRC_ENV) or str(BENCH.parent / "src"), env.get("PYTHONPATH")])
    )
    key = scratch / "fleet-key"
    key.write_text(os.urandom(32).hex())
    env["BOMGUARD_STORE_KEY_FILE"] = str(key)
    env["BOMGUARD_CACHE_KEY_FILE"] = str(scratch / "cache-key")
    sboms = write_sboms(data, args, scratch)
    rows: dict[str, float] = {}
    with ServerProcess(data, total, args.latency) as index:
        root = data.trusted_root

        def sequential(label: str, stores: list[list[str]]) -> None:
            times = [
                enrich(s, store, env, index.url, root, scratch)
                for s, store in zip(sboms, stores, strict=True)
            ]
            rows[label] = sum(times) / len(times)
            log(f"{label}: {rows[label]:.2f} s per SBOM")

        def parallel(label: str, store: list[str]) -> None:
            started = time.perf_counter()
            with ThreadPoolExecutor(args.parallel) as pool:
                list(pool.map(lambda s: enrich(s, store, env, index.url, root, scratch), sboms))
            rows[label] = (time.perf_counter() - started) / len(sboms)
            log(f"{label}: {rows[label]:.2f} s per SBOM (wall / SBOMs)")

        if not args.skip_separate:
            separate = [["--cache-dir", str(scratch / f"cache-{i}")] for i in range(len(sboms))]
            sequential("separate caches, cold", separate)
            sequential("separate caches, warm", separate)
        store = scratch / "shared.sqlite3"
        sequential(
            "one shared SQLite store, one after another", [["--store", str(store)]] * len(sboms)
        )
        sequential("one shared SQLite store, warm", [["--store", str(store)]] * len(sboms))
        conn_files = index.files
        import sqlite3

        with sqlite3.connect(store) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            provenance = db.execute(
                "SELECT count(*) FROM entries WHERE kind='provenance'"
            ).fetchone()[0]
        size = store.stat().st_size
        per_1000 = size / max(1, provenance) * 1000 / 2**20
        log(f"store: {size / 2**20:.1f} MiB for {provenance} files: {per_1000:.2f} MiB / 1,000")
        parallel(
            f"one shared SQLite store, {args.parallel} processes",
            ["--store", str(scratch / "parallel.sqlite3")],
        )
        if args.pg:
            parallel(
                f"one shared PostgreSQL store, {args.parallel} processes", ["--store", args.pg]
            )
    result = {
        "sboms": args.sboms,
        "components": args.components,
        "overlap": args.overlap,
        "latency": args.latency,
        "distinct_components": total,
        "index_files": conn_files,
        "per_sbom_s": rows,
        "store_mib_per_1000_files": per_1000,
    }
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    (out / "fleet.json").write_text(json.dumps(result, indent=2))
    print("| run | s per SBOM |\n|---|---|")
    for label, value in rows.items():
        print(f"| {label} | {value:.2f} |")
    print(f"\nstore size: {per_1000:.2f} MiB per 1,000 files")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
