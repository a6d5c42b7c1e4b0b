"""``bomguard policy check|test`` read the settings file and ``BOMGUARD_<OPTION>`` as
``enrich`` does, for the option they share with it (``--cel-engine``), and ``bomguard
config policy`` shows it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import run_cli

POLICY = Path(__file__).parent.parent / "policies" / "strict.yaml"
REFUSED = "Invalid value for '--cel-engine': 'rust'"


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    for name in [k for k in os.environ if k.startswith("BOMGUARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run_cli(list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("command", ["check", "test"])
def test_the_settings_file_sets_the_cel_engine_of_policy_commands(cwd, capsys, command):
    # A top-level key applies to every command that has the option, policy ones included:
    # an engine that does not exist is refused, so the file was read.
    (cwd / "bomguard.toml").write_text('cel-engine = "rust"\n')
    code, err = _run(capsys, "policy", command, str(POLICY))
    assert code == 2 and REFUSED in err, err
    # A flag wins over the file.
    code, err = _run(capsys, "policy", command, str(POLICY), "--cel-engine", "python")
    assert code == 0, err


def test_a_policy_table_applies_to_policy_commands_and_the_environment_wins(
    cwd, monkeypatch, capsys
):
    (cwd / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.bomguard]\ncel-engine = "cpp"\n\n'
        '[tool.bomguard.policy]\ncel-engine = "python"\n'
    )
    capsys.readouterr()
    code = run_cli(["config", "policy", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    settings = json.loads(out)["settings"]
    assert settings == {
        "cel-engine": {"value": "python", "source": f"file ({cwd / 'pyproject.toml'})"}
    }
    code, err = _run(capsys, "policy", "check", str(POLICY))
    assert code == 0, err
    monkeypatch.setenv("BOMGUARD_CEL_ENGINE", "rust")
    code, err = _run(capsys, "policy", "test", str(POLICY))
    assert code == 2 and REFUSED in err, err
    monkeypatch.setenv("BOMGUARD_CEL_ENGINE", "auto")
    capsys.readouterr()
    assert run_cli(["config", "policy", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["cel-engine"] == {
        "value": "auto",
        "source": "environment (BOMGUARD_CEL_ENGINE)",
    }


def test_a_setting_policy_commands_do_not_share_is_an_error(cwd, capsys):
    # explain's --format is not an option policy commands share with enrich: a key for
    # it is refused naming the file and the key, never silently ignored.
    (cwd / "bomguard.toml").write_text('[policy]\nformat = "json"\n')
    code, err = _run(capsys, "policy", "explain")
    assert code == 2
    assert f"{cwd / 'bomguard.toml'}: policy.format: policy has no --format" in err
    (cwd / "bomguard.toml").write_text('cel_engine = "python"\n')
    code, err = _run(capsys, "policy", "check", str(POLICY))
    assert code == 2
    assert f"{cwd / 'bomguard.toml'}: cel_engine: no command has an option --cel_engine" in err
