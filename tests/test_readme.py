"""The README cannot drift from the CLI: its options exist and its commands parse."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bomguard.cli import cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
OFFLINE = re.compile(r"<!-- readme-test: offline -->\n```\n(.*?)```", flags=re.S)


def _help(*command: str) -> str:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def test_every_option_the_readme_names_exists():
    known = " ".join(
        _help(*c)
        for c in (
            ("enrich",),
            ("fetch",),
            ("diff",),
            ("upgrades",),
            ("data", "refresh"),
            ("config",),
        )
    )
    named = set(re.findall(r"`(--[a-z][a-z0-9-]*)", README))
    assert named, "the README names no options?"
    missing = sorted(o for o in named if o not in known)
    assert missing == []


def test_every_enrich_option_is_in_the_readme():
    options = set(re.findall(r"(--[a-z][a-z0-9-]*)", _help("enrich")))
    undocumented = sorted(o for o in options - {"--help", "--output"} if o not in README)
    assert undocumented == []


def test_readme_commands_parse():
    blocks = re.findall(r"```\n(.*?)```", README, flags=re.S)
    commands = [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("bomguard ")
    ]
    assert len(commands) >= 3
    for line in commands:
        args = shlex.split(line.split("#", 1)[0])[1:]
        if args[0].startswith("-"):  # bomguard --help
            assert args[0] in ("--help", "-h", "--version"), line
            continue
        command = cli.get_command(None, args[0])  # type: ignore[arg-type]
        assert command is not None, line
        ctx = command.make_context(args[0], args[1:], resilient_parsing=True)
        assert ctx.params, line


def test_readme_states_the_real_cel_engine_default():
    command = cli.get_command(None, "enrich")  # type: ignore[arg-type]
    assert command is not None
    default = next(p.default for p in command.params if p.name == "cel_engine")
    row = next(line for line in README.splitlines() if line.startswith("| `--cel-engine"))
    stated = re.findall(r"`([a-z]+)` \(the default", row)
    assert stated == [default], row


def test_readme_says_which_outputs_verify_cannot_prove():
    paragraph = next(p for p in README.split("\n\n") if "`verify` cannot prove" in p)
    for named in ("SPDX", "CycloneDX XML", "1.4/1.5", "1.6"):
        assert named in paragraph, named


def test_the_quickstart_runs_as_written_from_a_clone():
    """Its first command names files a clone has, and works offline."""
    quickstart = README.split("## Quickstart", 1)[1]
    first = OFFLINE.search(quickstart)
    assert first is not None and quickstart.index(first.group(0)) < quickstart.index(
        "```\nbomguard enrich SBOM"
    )
    line = first.group(1).splitlines()[0]
    args = shlex.split(line)
    assert args[:3] == ["bomguard", "enrich", "examples/app.cdx.json"]
    assert (ROOT / args[2]).is_file()
    for option in ("--mirror", "--policy"):
        assert (ROOT / args[args.index(option) + 1]).exists(), option
    assert args[args.index("--trust-root") + 1] == "embedded"


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()


def test_readme_offline_commands_run_from_a_fresh_clone(tmp_path):
    """Clone the committed HEAD and run every README block marked as running offline,
    exactly as written, in the clone, with the installed ``bomguard`` running the
    clone's source. Any network access would go to a dead proxy and fail."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    head = _git("rev-parse", "HEAD", cwd=ROOT)
    clone = tmp_path / "clone"
    _git("clone", "--quiet", "--no-checkout", str(ROOT), str(clone), cwd=tmp_path)
    _git("checkout", "--quiet", "--detach", head, cwd=clone)
    blocks = OFFLINE.findall((clone / "README.md").read_text())
    assert len(blocks) >= 3, "the README marks no offline commands?"

    bindir = Path(sys.executable).parent
    if not (bindir / "bomguard").exists():  # run from an interpreter without the script
        bindir = tmp_path / "bin"
        bindir.mkdir()
        shim = bindir / "bomguard"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bomguard "$@"\n')
        shim.chmod(0o755)
    dead = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(clone / "src"),
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "ALL_PROXY": dead,
        "NO_PROXY": "",
        "no_proxy": "",
    }
    env.pop("BOMGUARD_INDEX_URL", None)
    where = subprocess.run(
        ["bomguard", "--version"], cwd=clone, env=env, capture_output=True, text=True
    )
    assert where.returncode == 0, where.stderr
    source = subprocess.run(
        [sys.executable, "-c", "import bomguard; print(bomguard.__file__)"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(source).is_relative_to(clone / "src"), source

    outputs = []
    for block in blocks:
        done = subprocess.run(
            ["bash", "-e", "-c", block],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, (block, done.stdout, done.stderr)
        outputs.append(done)
    assert any("Usage: bomguard" in o.stdout for o in outputs)
    assert (clone / "app.enriched.cdx.json").is_file()
    verdict = json.loads((clone / "verdict.json").read_text())
    assert verdict["verdict"] == "pass"
    assert _git("status", "--porcelain", "--untracked-files=no", cwd=clone) == ""
