"""bomguard's benchmark harness: one command, a Markdown table and a JSON result file.

    python bench/run.py [--sizes 100,1000,5000] [--latency 0.05] [--out bench/results]

See bench/README.md for what each number means. Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _paths import BENCH, ROOT, SRC, SRC_ENV, setup_path

setup_path()

import baseline  # noqa: E402
import dataset as datasets  # noqa: E402
import measure  # noqa: E402
import report  # noqa: E402
from server import PYPI_CACHE_CONTROL, ServerProcess  # noqa: E402


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def bomguard_env(scratch: Path, src: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOMGUARD_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    env[SRC_ENV] = src
    env["BOMGUARD_CACHE_KEY_FILE"] = str(scratch / "cache-key")  # not the user's own key
    env["NETRC"] = str(scratch / "no-netrc")
    # The measured tree is compiled (its __pycache__, git-ignored), as `pip install`
    # compiles an installed bomguard: a tree on PYTHONPATH under PYTHONDONTWRITEBYTECODE
    # would otherwise be compiled again by every run (about 0.1 CPU-s of the example
    # SBOM's warm run), which no installed user pays.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *filter(None, src.split(os.pathsep))],
        check=False,
        capture_output=True,
    )
    return env


def json_from(command: list[str], env: dict[str, str]) -> Any:
    """Run a bench helper in its own process (importing the measured tree); its JSON."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def time_help(python: str, env: dict[str, str], runs: int) -> dict[str, Any]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [python, "-m", "bomguard", "--help"], env=env, check=True, capture_output=True
        )
        times.append(time.perf_counter() - started)
    return {
        "runs": runs,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
    }


def summarize_output(path: Path) -> dict[str, Any]:
    """Component statuses and file counts from the enriched SBOM bomguard wrote."""
    doc = json.loads(path.read_bytes())
    statuses: Counter[str] = Counter()
    files: Counter[str] = Counter()
    drift_checked = 0
    for component in doc.get("components", []):
        props = {p["name"]: p["value"] for p in component.get("properties", [])}
        if "bomguard:provenance:status" in props:
            statuses[props["bomguard:provenance:status"]] += 1
        for key in ("total", "verified"):
            files[key] += int(props.get(f"bomguard:provenance:files:{key}", "0"))
        drift_checked += "bomguard:drift:checked" in props
    return {
        "statuses": dict(statuses),
        "files_total": files["total"],
        "files_verified": files["verified"],
        "drift_checked": drift_checked,
    }


def enrich_run(
    *,
    label: str,
    python: str,
    env: dict[str, str],
    index: ServerProcess,
    sbom: Path,
    root: Path,
    cache: Path,
    work: Path,
    drift: int,
    concurrency: int | None,
    extra_files: int,
) -> dict[str, Any]:
    out = work / f"{label}.cdx.json"
    command = [
        python,
        "-m",
        "bomguard",
        "enrich",
        str(sbom),
        "-o",
        str(out),
        "--verdict",
        str(work / f"{label}.verdict.json"),
        "--index-url",
        index.url,
        "--trust-root",
        str(root),
        "--cache-dir",
        str(cache),
        "--drift-depth",
        str(drift),
    ]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    server_cpu = index.reset()
    result = measure.run(command, env=env)
    counts = index.counts()
    counts["server_cpu_s"] -= server_cpu
    if result.returncode != 0:
        raise RuntimeError(
            f"{label}: bomguard exited {result.returncode}:\n{result.stderr[-3000:]}"
        )
    summary = summarize_output(out)
    checked = summary["files_total"] + extra_files
    row = {
        "run": label,
        "drift_depth": drift,
        **{k: v for k, v in asdict(result).items() if k != "stderr"},
        "cpu": result.cpu,
        "requests": counts,
        "files_checked": checked,
        "files_per_s": checked / result.wall,
        **summary,
    }
    log(
        f"{label}: {result.wall:.2f} s wall, {result.cpu:.2f} s CPU, "
        f"{result.max_rss_mib:.0f} MiB peak (tree {result.tree_rss_mib:.0f}), "
        f"{counts['total']} requests ({counts['provenance']} provenance), "
        f"{summary['statuses']}"
    )
    return row


def small_run(python: str, env: dict[str, str], scratch: Path, runs: int) -> dict[str, Any]:
    """The example SBOM from its offline mirror: one cold run, then ``runs`` warm ones."""
    work = scratch / "small"
    work.mkdir()
    sbom = ROOT / "examples" / "app.cdx.json"
    command = [
        python,
        "-m",
        "bomguard",
        "enrich",
        str(sbom),
        "--mirror",
        str(ROOT / "examples" / "mirror"),
        "--trust-root",
        "embedded",
        "--policy",
        str(ROOT / "policies" / "baseline.yaml"),
        "-o",
        str(work / "out.json"),
        "--verdict",
        str(work / "verdict.json"),
        "--cache-dir",
        str(work / "cache"),
    ]
    cold = measure.run(command, env=env)
    if cold.returncode != 0:
        raise RuntimeError(f"small: bomguard exited {cold.returncode}:\n{cold.stderr[-3000:]}")
    warm = [measure.run(command, env=env) for _ in range(max(1, runs))]
    walls = sorted(m.wall for m in warm)
    summary = summarize_output(work / "out.json")
    row = {
        "sbom": "examples/app.cdx.json",
        "components": len(json.loads(sbom.read_bytes()).get("components", [])),
        "files_checked": summary["files_total"],
        "statuses": summary["statuses"],
        "cold_s": cold.wall,
        "warm_median_s": statistics.median(walls),
        "warm_min_s": walls[0],
        "warm_runs": len(walls),
        "max_rss_mib": max(m.max_rss_mib for m in warm),
    }
    log(
        f"small: cold {cold.wall:.2f} s, warm median {row['warm_median_s']:.2f} s "
        f"(min {walls[0]:.2f}, {len(walls)} runs), {row['statuses']}"
    )
    return row


def run_size(
    n: int, data: datasets.Dataset, args: argparse.Namespace, python: str, scratch: Path
) -> dict[str, Any]:
    work = scratch / f"n{n}"
    work.mkdir()
    env = bomguard_env(scratch, args.src)
    sbom = work / "sbom.cdx.json"
    files = datasets.write_sbom(data, n, sbom)
    earlier = sum(len(r["releases"][0]["files"]) for r in data.components(n))
    log(
        f"n={n}: {files} files in the SBOM's releases; starting the index "
        f"(latency {args.latency * 1000:.0f} ms) ..."
    )
    runs = []
    cache_control = None if args.no_cache_control else PYPI_CACHE_CONTROL
    with ServerProcess(data, n, args.latency, cache_control) as index:
        common = {
            "python": python,
            "env": env,
            "index": index,
            "sbom": sbom,
            "root": data.trusted_root,
            "work": work,
            "concurrency": args.concurrency,
        }
        cache = work / "cache"
        runs.append(enrich_run(label="cold", cache=cache, drift=0, extra_files=0, **common))
        runs.append(enrich_run(label="warm", cache=cache, drift=0, extra_files=0, **common))
        if n in args.drift_sizes:
            runs.append(
                enrich_run(
                    label="cold-drift",
                    cache=work / "cache-drift",
                    drift=1,
                    extra_files=earlier,
                    **common,
                )
            )
            runs.append(
                enrich_run(
                    label="warm-drift",
                    cache=work / "cache-drift",
                    drift=1,
                    extra_files=earlier,
                    **common,
                )
            )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return {"components": n, "files": files, "earlier_release_files": earlier, "runs": runs}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x.strip()]

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=ints,
        default=[100, 1000, 5000],
        help="SBOM sizes in components (default: 100,1000,5000)",
    )
    parser.add_argument(
        "--drift-sizes",
        type=ints,
        default=[100, 1000],
        help="sizes also run with --drift-depth 1 (default: 100,1000)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.05,
        help="seconds the index adds to every request (default: 0.05)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="pass --concurrency to bomguard (default: bomguard's own)",
    )
    parser.add_argument(
        "--no-cache-control",
        action="store_true",
        help="the index sends no Cache-Control (default: PyPI's max-age=600), so warm "
        "runs revalidate every project page",
    )
    parser.add_argument("--seed", type=int, default=1, help="data set seed (default: 1)")
    parser.add_argument(
        "--src",
        default=str(SRC),
        help="the bomguard source tree to measure (PYTHONPATH entries; "
        "default: this checkout's src/), e.g. a patched copy to compare",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results",
        help="where to write the JSON and Markdown results",
    )
    parser.add_argument(
        "--baseline-runs",
        type=int,
        default=20,
        help="pypi-attestations CLI invocations to time (default: 20)",
    )
    parser.add_argument(
        "--real-copies",
        type=int,
        default=50,
        help="times bomguard verifies each real file (default: 50)",
    )
    parser.add_argument("--policy-components", type=int, default=10_000)
    parser.add_argument("--policy-repeats", type=int, default=3)
    parser.add_argument(
        "--policy-slow-components",
        type=int,
        default=1000,
        help="cel-python is timed on this many components and extrapolated (default: 1000)",
    )
    parser.add_argument("--help-runs", type=int, default=10)
    parser.add_argument(
        "--small-runs",
        type=int,
        default=5,
        help="warm runs of the example SBOM (examples/app.cdx.json) to time (default: 5)",
    )
    parser.add_argument("--skip-small", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-policy", action="store_true")
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help="replace the table in docs/performance.md with this run's",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    python = sys.executable
    cli = str(Path(python).with_name("pypi-attestations"))
    scratch = Path(tempfile.mkdtemp(prefix="bomguard-bench-"))
    started = time.perf_counter()
    results: dict[str, Any] = {
        "format": 1,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            # A shared machine: how loaded it was when the run started (and ended, below).
            "loadavg_start": os.getloadavg(),
        },
        "settings": {
            "sizes": args.sizes,
            "drift_sizes": args.drift_sizes,
            "latency_s": args.latency,
            "concurrency": args.concurrency,
            "seed": args.seed,
            "src": args.src,
            "cache_control": None if args.no_cache_control else PYPI_CACHE_CONTROL,
        },
    }
    try:
        env = bomguard_env(scratch, args.src)
        log("timing `python -m bomguard --help` ...")
        results["help"] = time_help(python, env, args.help_runs)
        if not args.skip_baseline:
            log(f"baseline: pypi-attestations CLI, {args.baseline_runs} files one process each ...")
            real = baseline.real_sample(scratch / "real")
            cli_result = baseline.cli_baseline(real, args.baseline_runs, cli)
            log(f"baseline: bomguard on the same files, {args.real_copies} copies each ...")
            results["baseline"] = {
                "cli": cli_result,
                "bomguard": json_from(
                    [
                        python,
                        str(BENCH / "baseline.py"),
                        "--work",
                        str(scratch / "real-bg"),
                        "--copies",
                        str(args.real_copies),
                    ],
                    env,
                ),
                "fixtures": sorted({f.fixture for f in real}),
            }
        if not args.skip_small:
            log(f"small: the example SBOM, {args.small_runs} warm runs ...")
            results["small"] = small_run(python, env, scratch, args.small_runs)
        if args.sizes:
            data = datasets.ensure(max(args.sizes), args.seed, log)
            results["sizes"] = [
                run_size(n, data, args, python, scratch) for n in sorted(args.sizes)
            ]
        if not args.skip_policy:
            log(f"policy: 10 rules x {args.policy_components} components ...")
            results["policy"] = json_from(
                [
                    python,
                    str(BENCH / "policy_bench.py"),
                    "--components",
                    str(args.policy_components),
                    "--repeats",
                    str(args.policy_repeats),
                ],
                env,
            )
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            log(f"scratch kept in {scratch}")
    results["seconds"] = time.perf_counter() - started
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["targets"] = report.targets(results)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    markdown = report.markdown(results)
    for name in (f"results-{stamp}", "latest"):
        (args.out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.out / f"{name}.md").write_text(markdown)
    if args.update_docs:
        report.update_docs(ROOT / "docs" / "performance.md", markdown)
    print(markdown)
    log(
        f"wrote {args.out / 'latest.json'} and {args.out / 'latest.md'} "
        f"({results['seconds']:.0f} s in all)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
