"""cel-python's parser is built once per user and kept in the user cache directory,
authenticated with the per-user cache key: a planted file there never runs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _check(home_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``bomguard policy check policies/baseline.yaml`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "bomguard", "policy", "check", str(ROOT / "policies/baseline.yaml")],
        env=home_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


def _saved(env: dict[str, str]) -> list[Path]:
    return sorted((Path(env["XDG_CACHE_HOME"]) / "bomguard").glob("cel-parser-*.lark"))


class _Planted:
    """Unpickling this creates a file: proof that a planted pickle ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


def test_the_parser_is_kept_and_a_planted_one_never_runs(tmp_path):
    env = _env()
    first = _check(env)
    assert first.returncode == 0, first.stderr
    saved = _saved(env)
    assert len(saved) == 1  # built once, kept for the next run

    again = _check(env)
    assert (again.returncode, again.stdout) == (0, first.stdout)

    # An attacker who can write the cache directory (but not the key) plants a pickle
    # with a forged or missing MAC, in every position the file could take.
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Planted(str(marker)))
    for planted in (payload, b"0" * 64 + payload, saved[0].read_bytes()[:64] + payload):
        saved[0].write_bytes(planted)
        result = _check(env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == first.stdout
        assert not marker.exists(), "a planted parser file was unpickled"
        # ... and it was rebuilt over with an authentic one.
        assert saved[0].read_bytes()[64:] != payload
