"""``bomguard config``: the effective settings of a command and where each came from."""

from __future__ import annotations

import json
import sys

import click

from bomguard.cli._common import EXIT_PASS
from bomguard.cli._settings import CONFIGURABLE

__all__ = ["config"]


@click.command()
@click.argument("command", type=click.Choice(sorted(CONFIGURABLE)), default="enrich")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a table.")
def config(command: str, as_json: bool) -> None:
    """Show a command's effective settings and where each came from (default: enrich;
    'policy' shows the settings the policy subcommands read).

    Flags beat BOMGUARD_<OPTION> environment variables, which beat the settings file
    (bomguard.toml, or [tool.bomguard] in pyproject.toml, in the current directory; or
    the file BOMGUARD_CONFIG names), which beats the default.
    """
    from bomguard.cli._settings import effective, find_settings_file

    settings = effective(command)
    found = find_settings_file()
    if as_json:
        doc = {
            "command": command,
            "settings_file": str(found.path) if found else None,
            "settings": {s.option: {"value": s.value, "source": s.source} for s in settings},
        }
        click.echo(json.dumps(doc, indent=2, default=str))
        sys.exit(EXIT_PASS)
    click.echo(f"# bomguard {command}: settings file: {found.path if found else 'none'}")
    width = max(len(s.option) for s in settings) + 2
    for s in settings:
        value = "" if s.value is None else s.value
        click.echo(f"--{s.option:<{width}} {json.dumps(value, default=str):<40} {s.source}")
    sys.exit(EXIT_PASS)
