"""Put two result files of ``run.py`` side by side: ``python bench/compare.py BEFORE AFTER``.

Run both on the same machine one after the other (``run.py --src`` measures another
tree), so that the two columns are comparable; prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import report


def _targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in report.targets(results)}


def markdown(before: dict[str, Any], after: dict[str, Any]) -> str:
    old, new = _targets(before), _targets(after)
    lines = [
        f"Before: run {before['started']}; after: run {after['started']} "
        f"({after['machine']['cpus']} CPUs, Python {after['machine']['python']}, "
        f"index latency {after['settings']['latency_s'] * 1000:.0f} ms per request).",
        "",
        "| target | goal | before | after | after: result | after: vs pypi-attestations CLI |",
        "|---|---|---:|---:|---|---|",
    ]
    for name, t in new.items():
        was = old.get(name, {}).get("measured", "-")
        lines.append(
            f"| {name} | {t['target']} | {was} | {t['measured']} | {report._mark(t['met'])} "
            f"| {t.get('vs_cli', '-')} |"
        )
    lines += [
        "",
        "| components | run | before wall s | after wall s | before CPU s | after CPU s "
        "| before peak RSS MiB | after peak RSS MiB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sorted(after.get("sizes", []), key=lambda s: s["components"]):
        n = size["components"]
        for run in size["runs"]:
            prior = report._run(before, n, run["run"]) or {}

            def pair(key: str, digits: int, run: dict[str, Any] = run, prior: Any = prior) -> str:
                was = f"{prior[key]:.{digits}f}" if key in prior else "-"
                return f"{was} | {run[key]:.{digits}f}"

            lines.append(
                f"| {n:,} | {run['run']} | {pair('wall', 2)} | {pair('cpu', 2)} "
                f"| {pair('max_rss_mib', 0)} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    before = json.loads(args.before.read_text())
    after = json.loads(args.after.read_text())
    sys.stdout.write(markdown(before, after))
    return 0


if __name__ == "__main__":
    sys.exit(main())
