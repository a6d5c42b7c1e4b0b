"""docs/ci.md, action.yml and .pre-commit-hooks.yaml: every command line they give parses."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from bomguard.cli import cli

ROOT = Path(__file__).parent.parent


def _parses(line: str) -> None:
    args = shlex.split(line)
    assert args[0] == "bomguard", line
    command = cli.get_command(None, args[1])  # type: ignore[arg-type]
    assert command is not None, line
    rest = args[2:]
    if hasattr(command, "commands"):  # a group: bomguard policy check ...
        command = command.get_command(None, rest[0])  # type: ignore[union-attr]
        assert command is not None, line
        rest = rest[1:] or ["policies/baseline.yaml"]
    ctx = command.make_context(args[1], rest, resilient_parsing=True)
    assert ctx.params is not None


def _commands(text: str) -> list[str]:
    found = []
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    for line in "\n".join(blocks).splitlines():
        line = line.strip().removeprefix("- ").removeprefix("run: ")
        if line.startswith("bomguard "):
            found.append(line)
    return found


def test_every_command_in_docs_ci_parses():
    commands = _commands((ROOT / "docs" / "ci.md").read_text())
    assert len(commands) >= 5
    for line in commands:
        _parses(line)


def test_the_action_runs_a_command_that_parses():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    run = next(s for s in action["runs"]["steps"] if s.get("id") == "run")["run"]
    line = next(x.strip() for x in run.splitlines() if x.strip().startswith("bomguard "))
    inputs = {k: v.get("default") or "x.json" for k, v in action["inputs"].items()}
    line = re.sub(r"\$\{\{ inputs\.([a-z-]+) \}\}", lambda m: inputs[m.group(1)], line)
    line = line.replace('"${policy_args[@]}"', "--policy policies/baseline.yaml")
    line = line.replace('"${vsa_args[@]}"', "--vsa bomguard.vsa.json --sign")
    line = line.replace("$BOMGUARD_ARGS", "--strict").replace('"$BOMGUARD_SBOM"', "app.cdx.json")
    _parses(line)
    assert "upload-sarif" in str(action["runs"]["steps"])


def test_pre_commit_hooks_run_real_commands():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"bomguard-policy-check", "bomguard-policy-test"}
    for hook in hooks:
        _parses(hook["entry"] + " policies/baseline.yaml")
        assert re.search(hook["files"], "policies/baseline.yaml")
        assert re.search(hook["exclude"], "policies/baseline.tests.yaml")


def test_the_action_diff_mode_runs_commands_that_parse():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["inputs"]["mode"]["default"] == "enrich"
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "diff")
    assert step["if"] == "inputs.mode == 'diff'"
    lines = [x.strip() for x in step["run"].splitlines() if "bomguard diff " in x]
    assert len(lines) == 2  # the comment, then the SARIF report (without a second summary)
    inputs = {k: v.get("default") or "x.json" for k, v in action["inputs"].items()}
    for line in lines:
        line = line.removeprefix("GITHUB_STEP_SUMMARY= ").split(" || ", 1)[0]
        line = re.sub(r"\$\{\{ inputs\.([a-z-]+) \}\}", lambda m: inputs[m.group(1)], line)
        line = line.replace('"${policy_args[@]}"', "--policy policies/baseline.yaml")
        line = line.replace("$BOMGUARD_ARGS", "--strict").replace('"$BOMGUARD_SBOM"', "new.json")
        line = line.replace('"$base"', "base.json").replace('"$RUNNER_TEMP/', '"')
        _parses(line)
    comment = next(s for s in action["runs"]["steps"] if "pull request" in s.get("name", ""))
    from bomguard.review.render import MARKER

    assert MARKER in comment["run"]  # updates the comment the renderer marks


@pytest.mark.parametrize(
    ("sbom", "content", "expected"),
    [
        ("app.cdx.json", "{}", "bomguard.enriched.cdx.json"),
        ("build/app.cdx.xml", "<bom/>", "bomguard.enriched.cdx.xml"),
        ("my.app-1.2.spdx", "SPDXVersion: SPDX-2.3", "bomguard.enriched.spdx"),
        ("sbom.spdx.json", "{}", "bomguard.enriched.spdx.json"),
        ("x.rdf.xml", "<rdf/>", "bomguard.enriched.rdf.xml"),
        ("bom.xml", "<bom/>", "bomguard.enriched.xml"),
        ("x.jsonld", "{}", "bomguard.enriched.jsonld"),
        ("SBOM", "  <bom/>", "bomguard.enriched.xml"),
        ("SBOM", "SPDXVersion: SPDX-2.3", "bomguard.enriched.spdx"),
    ],
)
def test_the_action_names_the_output_by_the_input_format(tmp_path, sbom, content, expected):
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "name")
    path = tmp_path / sbom
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    github_output = tmp_path / "github-output"
    env = {"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(github_output)}
    env |= {"BOMGUARD_SBOM": str(path), "BOMGUARD_OUTPUT": ""}
    subprocess.run(["bash", "-euo", "pipefail", "-c", step["run"]], env=env, check=True)
    assert github_output.read_text() == f"path={expected}\n"
    env["BOMGUARD_OUTPUT"] = "chosen.json"
    subprocess.run(["bash", "-euo", "pipefail", "-c", step["run"]], env=env, check=True)
    assert github_output.read_text().splitlines()[-1] == "path=chosen.json"
