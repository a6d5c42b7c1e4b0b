"""Where things are, and the sys.path the harness needs (tests/ helpers, src/ package).

``BENCH_SRC`` (set by ``run.py --src``) names the bomguard source tree(s) to measure,
``os.pathsep``-separated; the default is this checkout's ``src/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SRC = ROOT / "src"
TESTS = ROOT / "tests"
DATA = BENCH / ".data"
FIXTURES = TESTS / "data"
SRC_ENV = "BENCH_SRC"


def sources() -> list[str]:
    """The source entries bomguard is imported from, first first."""
    given = os.environ.get(SRC_ENV)
    return [p for p in given.split(os.pathsep) if p] if given else [str(SRC)]


def setup_path() -> None:
    """Make ``bomguard`` (the measured source tree) and the test helpers importable."""
    for folder in (*reversed(sources()), str(TESTS), str(BENCH)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    for folder in sources():  # the measured tree must win over anything else
        sys.path.remove(folder)
        sys.path.insert(0, folder)
