"""Policy evaluation time: 10 rules over N synthetic components, per CEL engine.

The components are what ``bomguard enrich`` would hand the policy stage: mostly
verified PyPI components with three files each and a publisher identity, plus partial,
absent, invalid, unknown and non-PyPI ones. The rules (``bench/policy-10-rules.yaml``)
use every kind of CEL the documentation shows: comparisons, ``in``, ``startsWith``,
``matches``, ``exists``/``all``/``filter`` over the files, ``when`` guards and
``critical`` lists.

Engines: if :func:`bomguard.policy.evaluate` takes an ``engine`` keyword, each engine
bomguard names (``bomguard.policy.ENGINE_NAMES`` less ``auto``: ``python`` is
cel-python, ``cpp`` is cel-expr-python) is timed; otherwise only the engine bomguard has
(cel-python), and the result says so. An engine that is not installed is reported as
such, not timed.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import sys
import time
from typing import Any

from _paths import BENCH, setup_path

setup_path()

POLICY = BENCH / "policy-10-rules.yaml"


def synthetic(n: int) -> list[tuple[Any, Any]]:
    """``n`` (component, evidence) pairs, deterministic."""
    from bomguard.models import (
        Component,
        ComponentEvidence,
        FileEvidence,
        Identity,
        PypiRef,
        Status,
    )

    out = []
    for i in range(n):
        name = f"bench-pkg-{i:05d}"
        version = f"{1 + i % 7}.{i % 13}.1"
        purl = f"pkg:pypi/{name}@{version}"
        kind = i % 20
        if kind == 19:  # not a PyPI package
            component = Component(
                locator=f"/components/{i}",
                bom_ref=f"npm-{i}",
                name=f"left-pad-{i}",
                version="1.3.0",
                purl=f"pkg:npm/left-pad-{i}@1.3.0",
                type="library",
            )
            out.append((component, None))
            continue
        component = Component(
            locator=f"/components/{i}",
            bom_ref=purl,
            name=name,
            version=version,
            purl=purl,
            type="library",
            licenses=(("MIT", "Apache-2.0", "BSD-3-Clause", "GPL-3.0-only")[i % 4],),
            pypi=PypiRef(name, version, name, version),
        )
        identity = Identity(
            kind=("GitHub", "GitLab", "Google", "CircleCI")[0 if i % 10 < 7 else i % 4],
            issuer="https://token.actions.githubusercontent.com",
            repository=f"org{i:05d}/{name}",
            workflow=("release.yml", "publish.yml", "ci.yml")[i % 3],
            ref=f"refs/tags/v{version}" if i % 11 else "refs/heads/main",
            commit=f"{i:040x}",
            trigger=("release", "push")[i % 2],
            runner_environment="github-hosted" if i % 17 else "self-hosted",
            environment="pypi" if i % 2 == 0 else None,
        )
        stem = name.replace("-", "_")
        names = [
            f"{stem}-{version}.tar.gz",
            f"{stem}-{version}-py3-none-any.whl",
            f"{stem}-{version}-cp312-cp312-manylinux_2_17_x86_64.whl",
        ]
        if kind == 18:
            status = Status.ABSENT
        elif kind == 17:
            status = Status.UNKNOWN
        elif kind == 16 and i % 3 == 0:
            status = Status.INVALID
        else:
            status = Status.VERIFIED
        files = tuple(
            FileEvidence(
                filename=f,
                sha256=f"{i:064x}",
                status=status if not (kind == 15 and j == 2) else Status.ABSENT,
                identity=identity if status is Status.VERIFIED else None,
            )
            for j, f in enumerate(names)
        )
        summary = Status.PARTIAL if kind == 15 else status
        reason = "" if summary is Status.VERIFIED else f"{names[0]}: {summary.value}"
        out.append((component, ComponentEvidence(summary, reason, files)))
    return out


LABELS = {"python": "cel-python", "cpp": "cel-expr-python"}


def engines() -> tuple[list[str | None], str]:
    """The engines to time, and a note on how they were found."""
    import bomguard.policy as policy

    if "engine" not in inspect.signature(policy.evaluate).parameters:
        return [None], (
            "bomguard.policy.evaluate has no engine switch: only its one engine "
            "(cel-python) was measured"
        )
    names = [n for n in getattr(policy, "ENGINE_NAMES", ("python", "cpp")) if n != "auto"]
    return list(names), "every engine of bomguard.policy.ENGINE_NAMES but auto"


def run(n: int, repeats: int = 1, slow_n: int = 1000) -> dict[str, Any]:
    """Time ``evaluate`` (load excluded, compile included) per engine; best and median.

    cel-python takes about a millisecond per rule evaluation, so it is timed on the first
    ``slow_n`` components only and its time for ``n`` is extrapolated linearly (the work
    is per component; the result says so).
    """
    import bomguard.policy as policy

    policies = [policy.load_policy(POLICY)]
    rules = sum(len(p.rules) for p in policies)
    subjects = synthetic(n)
    names, note = engines()
    results: dict[str, Any] = {"components": n, "rules": rules, "note": note, "engines": {}}
    for engine in names:
        label = LABELS.get(engine or "python", engine or "python")
        timed_n = min(n, slow_n) if label == "cel-python" else n
        times = []
        cpu = []
        error = None
        verdict = None
        for _ in range(repeats):
            kwargs = {"engine": engine} if engine is not None else {}
            started, started_cpu = time.perf_counter(), time.process_time()
            try:
                verdict = policy.evaluate(policies, subjects[:timed_n], **kwargs)
            except Exception as err:  # an engine that is not installed, for one
                error = f"{type(err).__name__}: {err}"
                break
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        if error is not None:
            results["engines"][label] = {"error": error}
            continue
        assert verdict is not None
        scale = n / timed_n
        results["engines"][label] = {
            "timed_components": timed_n,
            "extrapolated": timed_n != n,
            "best_s": min(times) * scale,
            "median_s": statistics.median(times) * scale,
            # CPU seconds of this process: what a loaded, shared machine distorts least.
            "best_cpu_s": min(cpu) * scale,
            "evaluations": n * rules,
            "us_per_evaluation": min(times) / (timed_n * rules) * 1e6,
            "violations": len(verdict.violations),
            "verdict": verdict.verdict,
        }
    return results


def main(argv: list[str] | None = None) -> int:
    """``python bench/policy_bench.py [--components N] [--repeats R]``: JSON on stdout."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--slow-components", type=int, default=1000)
    args = parser.parse_args(argv)
    json.dump(run(args.components, args.repeats, args.slow_components), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
