"""The ``bomguard`` command ends without tearing the interpreter down, and loses nothing.

Run as a user runs it (``python -m bomguard``, a separate process): the exit code is the
command's, stdout carries the whole document, the store holds what the run recorded (its
last commit happens at exit), and an error still gets its one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from storerows import Rows

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "app.cdx.json"
MIRROR = ROOT / "examples" / "mirror"


def _bomguard(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOMGUARD_")}
    env["BOMGUARD_CACHE_KEY_FILE"] = str(tmp_path / "cache-key")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "bomguard", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _enrich(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _bomguard(
        tmp_path,
        "enrich",
        str(EXAMPLE),
        "--mirror",
        str(MIRROR),
        "--trust-root",
        "embedded",
        "--cache-dir",
        str(tmp_path / "cache"),
        *extra,
    )


def test_a_run_writes_everything_and_records_its_results_before_it_ends(tmp_path):
    done = _enrich(tmp_path, "-o", "-", "--verdict", str(tmp_path / "verdict.json"))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # all of it reached the pipe
    assert len(document["components"]) == len(json.loads(EXAMPLE.read_text())["components"])
    assert json.loads((tmp_path / "verdict.json").read_text())["verdict"] == "pass"
    # The store was closed at exit (its write-ahead log checkpointed and removed)...
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["bomguard.sqlite3"]
    with Rows(tmp_path / "cache") as rows:
        assert rows.count("verify") > 0  # ...with the run's results in it


def test_the_exit_codes_are_the_commands(tmp_path):
    failing = tmp_path / "fail.yaml"
    failing.write_text(
        "apiVersion: bomguard/v1\nkind: Policy\nmetadata:\n  name: nothing-passes\n"
        "rules:\n  - id: never\n    require: 'false'\n    message: never\n"
    )
    done = _enrich(tmp_path, "-o", str(tmp_path / "out.json"), "--policy", str(failing))
    assert done.returncode == 1, done.stderr
    assert json.loads((tmp_path / "out.json").read_text())["components"]

    missing = _bomguard(tmp_path, "enrich", str(tmp_path / "no-such.json"))
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "no-such.json" in missing.stderr
