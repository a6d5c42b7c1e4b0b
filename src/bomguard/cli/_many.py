"""``bomguard enrich A B C … --out-dir DIR``: many SBOMs in one run.

Every SBOM is enriched in turn against one evidence store, so each distinct file is
fetched and verified once across all of them (with ``--no-cache``, a store of this run
only, deleted at the end, under a random key). For each SBOM ``NAME``: ``DIR/NAME`` (the
enriched SBOM) and ``DIR/NAME.verdict.json``; then ``DIR/summary.json`` and one summary
line. All outputs are written at the end, all or none. Exit 1 when any verdict fails.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["enrich_many"]


def enrich_many(
    sboms: Sequence[Path],
    out_dir: Path,
    options: Any,
    observer: Callable[[str, str], None],
    verdict_json: Callable[[Any, Path, list[dict[str, Any]]], bytes],
    drift_entries: Callable[[Any], list[dict[str, Any]]],
) -> bool:
    """Enrich every SBOM; write the outputs; ``True`` when every verdict passes."""
    from bomguard._io import Content, write_all_atomic
    from bomguard.errors import InputError
    from bomguard.pipeline import enrich as run

    names = [s.name for s in sboms]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"--out-dir: two SBOMs are named {twice[0]}; their outputs would clash")
    if "summary.json" in names:
        raise InputError("--out-dir: an SBOM named summary.json would clash with the summary")
    for sbom in sboms:
        if _inside(sbom, out_dir):
            raise InputError(f"--out-dir {out_dir}: it holds the input {sbom}")
    scratch: Path | None = None
    if options.index.store is None and options.index.mirror is None:
        # No store asked for: one for this run only, so files are still done once.
        scratch = Path(tempfile.mkdtemp(prefix="bomguard-run-"))
        store = str(scratch / "run.sqlite3")
        from bomguard.store import _shared, open_store

        _shared[(store, os.getpid())] = open_store(store, key=os.urandom(32))
        options = dataclasses.replace(
            options, index=dataclasses.replace(options.index, store=store)
        )
    try:
        files: list[tuple[Path, Content]] = []
        summary = []
        for sbom in sboms:
            result = run(sbom, options, observer=observer)
            drift = drift_entries(result)
            files.append((out_dir / sbom.name, result.document.write_to))
            files.append((out_dir / f"{sbom.name}.verdict.json", verdict_json(result, sbom, drift)))
            counts = {s: n for s, n in result.verdict.counts.items() if n}
            summary.append(
                {
                    "sbom": str(sbom),
                    "verdict": result.verdict.verdict,
                    "components": len(result.components),
                    "counts": counts,
                    "drift": len(drift),
                }
            )
            shown = ", ".join(f"{n} {s}" for s, n in counts.items())
            click.echo(
                f"bomguard: {sbom}: {len(result.components)} components ({shown or 'none'}); "
                f"{len(drift)} drift; verdict: {result.verdict.verdict}",
                err=True,
            )
    finally:
        if scratch is not None:
            from bomguard.store import _shared

            opened = _shared.pop((str(scratch / "run.sqlite3"), os.getpid()), None)
            if opened is not None:
                opened.close()
            shutil.rmtree(scratch, ignore_errors=True)
    passed = sum(1 for s in summary if s["verdict"] == "pass")
    document = {"sboms": summary, "passed": passed, "failed": len(summary) - passed}
    files.append((out_dir / "summary.json", (json.dumps(document, indent=2) + "\n").encode()))
    out_dir.mkdir(parents=True, exist_ok=True)
    write_all_atomic(files)
    click.echo(
        f"bomguard: {len(summary)} SBOMs: {passed} passed, {len(summary) - passed} failed; "
        f"outputs in {out_dir}",
        err=True,
    )
    sys.stdout.flush()
    return passed == len(summary)


def _inside(path: Path, folder: Path) -> bool:
    try:
        return Path(os.path.realpath(path)).parent == Path(os.path.realpath(folder))
    except OSError:
        return False
