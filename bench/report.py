"""Turn a results dictionary into the target checks and the Markdown tables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


def _run(results: dict[str, Any], n: int, label: str) -> dict[str, Any] | None:
    for size in results.get("sizes", []):
        if size["components"] == n:
            for run in size["runs"]:
                if run["run"] == label:
                    return dict(run)
    return None


def _check(
    name: str, target: str, value: str, met: bool | None, note: str = "", vs_cli: str = "-"
) -> dict[str, Any]:
    return {
        "name": name,
        "target": target,
        "measured": value,
        "met": met,
        "note": note,
        "vs_cli": vs_cli,
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue, measured, and whether it is met (None: not measured).

    ``vs CLI`` compares with the pypi-attestations CLI measured in the same run: for a
    time, how many times longer the CLI takes for the same number of files (one process
    per file, as a shell loop runs it) than bomguard takes for the whole run; for memory,
    bomguard's peak over one CLI process's.
    """
    out = []
    cli = results.get("baseline", {}).get("cli")
    cli_rate = cli["files_per_s"] if cli else None
    cli_rss = cli.get("max_rss_mib") if cli else None

    def faster(files: int, wall: float) -> str:
        return f"{files / cli_rate / wall:.0f}x faster" if cli_rate and wall else "no baseline"

    def timed(name: str, goal: float, run: dict[str, Any] | None, note: str = "") -> None:
        if run is None:
            out.append(_check(name, f"<= {goal:g} s wall", "-", None))
            return
        out.append(
            _check(
                name,
                f"<= {goal:g} s wall",
                f"{run['wall']:.2f} s",
                run["wall"] <= goal,
                note or f"{run['files_checked']:,} files",
                faster(run["files_checked"], run["wall"]),
            )
        )

    timed("1,000 components cold, drift off", 10, _run(results, 1000, "cold"))
    timed("1,000 components cold, drift on", 15, _run(results, 1000, "cold-drift"))
    warm = _run(results, 1000, "warm")
    if warm:
        prov = warm["requests"]["provenance"]
        out.append(
            _check(
                "1,000 components warm",
                "<= 1.5 s wall, 0 provenance requests",
                f"{warm['wall']:.2f} s, {prov} provenance requests",
                warm["wall"] <= 1.5 and prov == 0,
                f"{warm['requests']['pages']:,} page revalidations",
                faster(warm["files_checked"], warm["wall"]),
            )
        )
    else:
        out.append(_check("1,000 components warm", "<= 1.5 s wall", "-", None))
    big = [r for r in (_run(results, 5000, x) for x in ("cold", "warm")) if r]
    if big:
        peak = max(r["max_rss_mib"] for r in big)
        tree = max(r["tree_rss_mib"] for r in big)
        out.append(
            _check(
                "peak RSS at 5,000 components",
                "<= 400 MiB",
                f"{peak:.0f} MiB (largest process)",
                peak <= 400,
                f"bomguard + workers together: {tree:.0f} MiB (sampled)",
                f"{peak / cli_rss:.1f}x one CLI process ({cli_rss:.0f} MiB)" if cli_rss else "-",
            )
        )
    else:
        out.append(_check("peak RSS at 5,000 components", "<= 400 MiB", "-", None))
    small = results.get("small")
    if small:
        out.append(
            _check(
                f"warm run of {small['sbom']} ({small['components']} components)",
                "<= 0.5 s wall",
                f"{small['warm_median_s']:.2f} s",
                small["warm_median_s"] <= 0.5,
                f"median of {small['warm_runs']} (min {small['warm_min_s']:.2f}); "
                f"{small['files_checked']} files; cold {small['cold_s']:.2f} s",
                faster(small["files_checked"], small["warm_median_s"]),
            )
        )
    else:
        out.append(_check("warm small run", "<= 0.5 s wall", "-", None))
    policy = results.get("policy")
    if policy:
        timed_engines = {k: v for k, v in policy["engines"].items() if "best_s" in v}
        fast = min(timed_engines.items(), key=lambda kv: kv[1]["best_s"]) if timed_engines else None
        if fast:
            engine, best = fast
            only = len(policy["engines"]) == 1
            out.append(
                _check(
                    f"policy, 10 rules x {policy['components']:,} components",
                    "<= 1 s with cel-expr-python",
                    f"{best['best_s']:.2f} s ({engine})",
                    best["best_s"] <= 1 and engine != "cel-python",
                    policy["note"] if only else "",
                    "n/a (the CLI has no policies)",
                )
            )
    else:
        out.append(_check("policy, 10 rules x 10,000", "<= 1 s", "-", None))
    real = results.get("baseline", {}).get("bomguard")
    if real and cli_rate:
        all_cores = real["all_cores_files_per_s"] / cli_rate
        one = real["one_core_files_per_s"] / cli_rate
        out.append(
            _check(
                "per-file verification throughput",
                ">= 200x the CLI",
                f"{real['all_cores_files_per_s']:.0f} files/s vs {cli_rate:.2f}",
                all_cores >= 200,
                f"same real files; {one:.0f}x on one core "
                f"({real['one_core_ms_per_file']:.1f} ms/file)",
                f"{all_cores:.0f}x",
            )
        )
    else:
        out.append(_check("per-file verification throughput", ">= 200x", "-", None))
    scaling = _per_file(results, "cold")
    if len(scaling) >= 2:
        (n0, t0), (n1, t1) = scaling[-2], scaling[-1]
        growth = t1 / t0
        out.append(
            _check(
                "cost linear in components",
                "time per file within 25 % from one size to the next",
                f"{t1 * 1000:.2f} ms/file at {n1:,} vs {t0 * 1000:.2f} at {n0:,} (cold)",
                growth <= 1.25,
                ", ".join(f"{n:,}: {t * 1000:.2f} ms" for n, t in scaling),
                "-",
            )
        )
    helped = results.get("help")
    if helped:
        out.append(
            _check(
                "`bomguard --help`",
                "<= 0.3 s",
                f"{helped['median_s']:.3f} s",
                helped["median_s"] <= 0.3,
                f"median of {helped['runs']}",
                "-",
            )
        )
    return out


def _per_file(results: dict[str, Any], label: str) -> list[tuple[int, float]]:
    """``(components, wall seconds per file)`` of the ``label`` runs, by size."""
    rows = []
    for size in sorted(results.get("sizes", []), key=lambda s: s["components"]):
        run = _run(results, size["components"], label)
        if run and run["files_checked"]:
            rows.append((size["components"], run["wall"] / run["files_checked"]))
    return rows


def scaling_table(results: dict[str, Any]) -> list[str]:
    """Time and peak memory by size, cold and warm."""
    sizes = sorted(results.get("sizes", []), key=lambda s: s["components"])
    if not sizes:
        return []
    lines = [
        "| components | cold s | cold peak RSS MiB | warm s | warm peak RSS MiB "
        "| cold ms / component | warm ms / component |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        n = size["components"]
        cold, warm = _run(results, n, "cold"), _run(results, n, "warm")
        if not cold or not warm:
            continue
        lines.append(
            f"| {n:,} | {cold['wall']:.2f} | {cold['max_rss_mib']:.0f} | {warm['wall']:.2f} "
            f"| {warm['max_rss_mib']:.0f} | {cold['wall'] / n * 1000:.2f} "
            f"| {warm['wall'] / n * 1000:.2f} |"
        )
    return [*lines, ""]


def _load(machine: dict[str, Any]) -> str:
    """The machine's load averages at the start and end of the run, when recorded."""
    start, end = machine.get("loadavg_start"), machine.get("loadavg_end")
    if not start:
        return ""
    text = f" Load average (1 min) {start[0]:.1f} at the start"
    return text + (f", {end[0]:.1f} at the end." if end else ".")


def _mark(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[met]


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    settings = results["settings"]
    lines = [
        f"Run {results['started']} on {machine['cpus']} CPUs, Python {machine['python']}; "
        f"index latency {settings['latency_s'] * 1000:.0f} ms per request; "
        f"index Cache-Control {settings.get('cache_control') or 'none'}; "
        f"concurrency {settings['concurrency'] or 'bomguard default'}; seed {settings['seed']}."
        + _load(machine),
        "",
    ]
    if results.get("sizes"):
        lines += [
            "| components | files | run | wall s | CPU s | peak RSS MiB (largest / all) "
            "| requests: pages / provenance | files/s | statuses |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---|",
        ]
        for size in results["sizes"]:
            for run in size["runs"]:
                statuses = ", ".join(f"{v} {k}" for k, v in sorted(run["statuses"].items()))
                lines.append(
                    f"| {size['components']:,} | {run['files_checked']:,} | {run['run']} "
                    f"| {run['wall']:.2f} | {run['cpu']:.2f} "
                    f"| {run['max_rss_mib']:.0f} / {run['tree_rss_mib']:.0f} "
                    f"| {run['requests']['pages']:,} / {run['requests']['provenance']:,} "
                    f"| {run['files_per_s']:.0f} | {statuses} |"
                )
        lines.append("")
    base = results.get("baseline")
    if base:
        cli, real = base["cli"], base["bomguard"]
        lines += [
            "Baseline (same run, same real PyPI attestations from tests/data/provenance, "
            f"{cli['distinct_files']} distinct files):",
            "",
            "| what | per file | files/s | vs CLI |",
            "|---|---:|---:|---:|",
            f"| `pypi-attestations verify attestation --offline`, one process per file "
            f"({cli['runs']} runs) | {cli['per_file_mean_s'] * 1000:.0f} ms "
            f"(median {cli['per_file_median_s'] * 1000:.0f}) | {cli['files_per_s']:.2f} | 1x |",
            f"| bomguard verifier, one core ({real['files']} files) "
            f"| {real['one_core_ms_per_file']:.2f} ms | {real['one_core_files_per_s']:.0f} "
            f"| {real['one_core_files_per_s'] / cli['files_per_s']:.0f}x |",
            f"| bomguard worker pool, {real['workers']} processes ({real['files']} files, "
            f"pool start-up included) | {1000 / real['all_cores_files_per_s']:.2f} ms "
            f"| {real['all_cores_files_per_s']:.0f} "
            f"| {real['all_cores_files_per_s'] / cli['files_per_s']:.0f}x |",
        ]
        for size in results.get("sizes", []):
            for run in size["runs"]:
                if run["run"] == "cold":
                    lines.append(
                        f"| bomguard enrich end to end, {size['components']:,} components cold "
                        f"(fetch + verify + policy) | {1000 / run['files_per_s']:.2f} ms "
                        f"| {run['files_per_s']:.0f} "
                        f"| {run['files_per_s'] / cli['files_per_s']:.0f}x |"
                    )
        lines.append("")
    policy = results.get("policy")
    if policy:
        lines += [
            f"Policy evaluation, {policy['rules']} rules x {policy['components']:,} components "
            f"({policy['note']}):",
            "",
            "| engine | best s | median s | us per rule |",
            "|---|---:|---:|---:|",
        ]
        for engine, row in policy["engines"].items():
            if "best_s" in row:
                lines.append(
                    f"| {engine} | {row['best_s']:.2f} | {row['median_s']:.2f} "
                    f"| {row['us_per_evaluation']:.0f} |"
                )
            else:
                lines.append(f"| {engine} | error: {row['error']} | | |")
        lines.append("")
    if results.get("help"):
        h = results["help"]
        lines += [
            f"`python -m bomguard --help`: median {h['median_s']:.3f} s "
            f"(min {h['min_s']:.3f}, max {h['max_s']:.3f}, {h['runs']} runs).",
            "",
        ]
    if results.get("sizes"):
        lines += ["Scaling (cold: empty cache; warm: the same cache again):", ""]
        lines += scaling_table(results)
    lines += [
        "| target | goal | measured | result | vs pypi-attestations CLI | note |",
        "|---|---|---|---|---|---|",
    ]
    for t in results.get("targets", []):
        lines.append(
            f"| {t['name']} | {t['target']} | {t['measured']} | {_mark(t['met'])} "
            f"| {t.get('vs_cli', '-')} | {t['note']} |"
        )
    return "\n".join(lines) + "\n"


def update_docs(path: Path, table: str) -> None:
    """Replace the text between the bench markers in ``path`` with ``table``."""
    text = path.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{path}: no {BEGIN} ... {END} markers to replace")
    path.write_text(pattern.sub(lambda _: f"{BEGIN}\n{table}{END}", text))
