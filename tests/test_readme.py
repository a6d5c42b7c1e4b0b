"""The README cannot drift from the CLI: its options exist and its commands parse."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from bomguard.cli import cli

README = (Path(__file__).parent.parent / "README.md").read_text()


def _help(*command: str) -> str:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def test_every_option_the_readme_names_exists():
    known = " ".join(_help(c) for c in ("enrich", "fetch"))
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
        command = cli.get_command(None, args[0])  # type: ignore[arg-type]
        assert command is not None, line
        ctx = command.make_context(args[0], args[1:], resilient_parsing=True)
        assert ctx.params, line
