"""CLI habits users bring from pip-audit, trivy, grype and cosign: ``-`` for stdin and
stdout, a progress bar on a terminal (and only there), ``--quiet``, ``NO_COLOR``, settings
from a file and from ``BOMGUARD_<OPTION>`` under the flags, and ``bomguard config``."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import cdx, pypi, run_cli, write_json

ROOT = Path(__file__).parent.parent
SRC = ROOT / "src"
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-9](;[0-9;]*)?m|\x1b\[38;")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOMGUARD_") and k != "NO_COLOR"}
    env["PYTHONPATH"] = str(SRC)
    env.update(extra)
    return env


def _sbom(tmp_path: Path, registered: dict) -> tuple[Path, int]:
    components = [pypi(r.project, r.version) for r in registered.values()]
    components.append(pypi("not-on-the-index", "1.0"))
    return write_json(tmp_path / "app.cdx.json", cdx(components)), len(components)


def _bomguard(args: list[str], cwd: Path, stdin: bytes = b"", **env: str):
    return subprocess.run(
        [sys.executable, "-m", "bomguard", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=_env(**env),
        timeout=300,
    )


def test_sbom_from_stdin_and_the_verdict_to_stdout(real_index, tmp_path):
    server, registered = real_index
    sbom, n = _sbom(tmp_path, registered)
    out = tmp_path / "out.json"
    args = ["enrich", "-", "-o", str(out), "--verdict", "-", "--index-url", server.index_url]
    done = _bomguard([*args, "--trust-root", "embedded", "--no-cache"], tmp_path, sbom.read_bytes())
    assert done.returncode == 0, done.stderr.decode()
    verdict = json.loads(done.stdout)
    assert verdict["sbom"] == "(stdin)" and sum(verdict["counts"].values()) == n
    assert json.loads(out.read_text())["components"]
    assert not (tmp_path / "-").exists()  # no file named '-'


def test_a_report_to_stdout(real_index, tmp_path):
    server, registered = real_index
    sbom, _ = _sbom(tmp_path, registered)
    args = ["enrich", str(sbom), "-o", str(tmp_path / "out.json"), "--report", "sarif:-"]
    done = _bomguard(
        [*args, "--index-url", server.index_url, "--trust-root", "embedded", "--no-cache"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["version"] == "2.1.0"
    assert not (tmp_path / "-").exists()


def test_two_outputs_cannot_share_stdout(tmp_path, capsys):
    sbom = write_json(tmp_path / "app.cdx.json", cdx([pypi("x", "1.0")]))
    code = run_cli(["enrich", str(sbom), "--verdict", "-", "--trust-root", "embedded"])
    err = capsys.readouterr().err
    assert code == 2
    assert "-o/--output and --verdict both write to stdout" in err
    assert list(tmp_path.iterdir()) == [sbom]


def _pty_run(args: list[str], cwd: Path, **env: str) -> tuple[int, str]:
    """Run bomguard with stderr on a pseudo-terminal (stdout a pipe); return (code, stderr)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bomguard", *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=_env(TERM="xterm-256color", COLUMNS="160", **env),
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.stdout.read()  # type: ignore[union-attr]
    code = proc.wait(timeout=300)
    os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def enrich_args(real_index, tmp_path):
    server, registered = real_index
    sbom, _ = _sbom(tmp_path, registered)
    releases = len({(r.project, r.version) for r in registered.values()}) + 1
    args = ["enrich", str(sbom), "-o", str(tmp_path / "out.json"), "--index-url"]
    return [*args, server.index_url, "--trust-root", "embedded", "--no-cache"], releases


def test_a_progress_bar_on_a_terminal(enrich_args, tmp_path):
    args, releases = enrich_args
    code, err = _pty_run(args, tmp_path)
    assert code == 0, err
    # Releases done of the total, the rate and the time left.
    assert re.search(rf"releases .*\b\d+/{releases}\b", err), err
    assert "ETA" in err and "/s" in err
    assert ANSI_COLOUR.search(err), "a terminal gets colour"
    assert "verdict: pass" in err


def test_no_color_no_progress_and_quiet(enrich_args, tmp_path):
    args, releases = enrich_args
    code, err = _pty_run(args, tmp_path, NO_COLOR="1")
    assert code == 0 and f"/{releases}" in err
    assert not ANSI_COLOUR.search(err), "NO_COLOR: no colour"
    code, err = _pty_run([*args, "--no-color"], tmp_path)
    assert code == 0 and not ANSI_COLOUR.search(err)
    code, err = _pty_run([*args, "--no-progress"], tmp_path)
    assert code == 0 and f"/{releases}" not in err and "verdict: pass" in err
    code, err = _pty_run([*args, "--quiet"], tmp_path)
    assert code == 0 and err.strip() == "", err


def test_no_progress_bar_off_a_terminal(enrich_args, tmp_path):
    args, releases = enrich_args
    done = _bomguard(args, tmp_path)
    err = done.stderr.decode()
    assert done.returncode == 0 and f"/{releases}" not in err and "\x1b[" not in err


def _config(cwd: Path, monkeypatch, capsys, *env: tuple[str, str]) -> dict:
    monkeypatch.chdir(cwd)
    for name, value in env:
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert run_cli(["config", "enrich", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["settings"]


def test_settings_from_pyproject_then_environment_then_flags(
    real_index, tmp_path, monkeypatch, capsys
):
    server, registered = real_index
    for name in [k for k in os.environ if k.startswith("BOMGUARD_")]:
        monkeypatch.delenv(name)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.bomguard]\ntrust-root = "missing-root.json"\n'
        'concurrency = 3\n\n[tool.bomguard.enrich]\nreport = ["markdown:report.md"]\n'
    )
    # Found in the working directory (a pull request can change it), the file may not
    # set the trust root: an error naming the key, not a silent override.
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert run_cli(["config", "enrich", "--json"]) == 2
    assert "tool.bomguard.trust-root: decides where evidence comes from" in (
        capsys.readouterr().err
    )
    # Named by BOMGUARD_CONFIG, it may.
    monkeypatch.setenv("BOMGUARD_CONFIG", str(tmp_path / "pyproject.toml"))
    settings = _config(tmp_path, monkeypatch, capsys)
    assert settings["trust-root"] == {
        "value": "missing-root.json",
        "source": f"file ({tmp_path / 'pyproject.toml'})",
    }
    assert settings["concurrency"]["value"] == 3
    assert settings["report"]["value"] == ["markdown:report.md"]
    assert settings["timeout"]["source"] == "default"
    # The environment overrides the file: BOMGUARD_TRUST_ROOT is read, not ignored.
    settings = _config(tmp_path, monkeypatch, capsys, ("BOMGUARD_TRUST_ROOT", "embedded"))
    assert settings["trust-root"] == {
        "value": "embedded",
        "source": "environment (BOMGUARD_TRUST_ROOT)",
    }
    # A real run: the environment's trust root verifies, the file's report is written.
    sbom, _ = _sbom(tmp_path, registered)
    args = ["enrich", str(sbom), "-o", str(tmp_path / "out.json"), "--no-cache"]
    monkeypatch.setenv("BOMGUARD_INDEX_URL", server.index_url)
    assert run_cli(args) == 0
    assert (tmp_path / "report.md").read_text().startswith("#")
    # A flag overrides both.
    code = run_cli([*args, "--trust-root", str(tmp_path / "flag-root.json")])
    assert code == 2 and "flag-root.json" in capsys.readouterr().err


def test_a_misspelt_setting_is_an_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "bomguard.toml").write_text('trustroot = "embedded"\n')
    monkeypatch.chdir(tmp_path)
    sbom = write_json(tmp_path / "app.cdx.json", cdx([]))
    code = run_cli(["enrich", str(sbom)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{tmp_path / 'bomguard.toml'}: trustroot: no command has an option --trustroot" in err


def test_every_option_has_its_environment_variable(monkeypatch, tmp_path, capsys):
    for name in [k for k in os.environ if k.startswith("BOMGUARD_")]:
        monkeypatch.delenv(name)
    settings = _config(
        tmp_path,
        monkeypatch,
        capsys,
        ("BOMGUARD_POLICY", os.pathsep.join(["a.yaml", "my b.yaml"])),
        ("BOMGUARD_STRICT", "1"),
        ("BOMGUARD_EXTRA_INDEX_URL", "https://extra.example/simple/"),
        ("BOMGUARD_DRIFT_DEPTH", "4"),
    )
    assert settings["policy"]["value"] == ["a.yaml", "my b.yaml"]
    assert settings["strict"] == {"value": True, "source": "environment (BOMGUARD_STRICT)"}
    assert settings["extra-index-url"]["value"] == ["https://extra.example/simple/"]
    assert settings["drift-depth"]["value"] == 4
