"""'bomguard --help' stays fast: it imports none of the heavy libraries (no timing here)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sigstore", "celpy", "jsonschema", "httpx", "pydantic", "cyclonedx", "lark", "yaml")


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from bomguard.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('LOADED:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = out.rsplit("LOADED:", 1)[1].strip()
    assert loaded == "", f"imported at --help: {loaded}"
    assert "policy" in out and "verify" in out


def test_jsonschema_is_imported_without_the_slow_rfc3987_grammar():
    code = (
        "import sys\n"
        "from bomguard._jsonschema import load\n"
        "load()\n"
        "print('rfc3987_syntax' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "False"


def test_the_index_client_imports_httpx_without_its_command_line_client():
    code = (
        "import sys\n"
        "import bomguard.index, httpx\n"
        "httpx.AsyncClient\n"
        "print(sorted(m for m in ('httpx._main', 'rich', 'pygments') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"


def test_every_command_is_lazy_and_its_listed_help_is_its_own():
    """``bomguard --help`` lists each command with the short help the command itself has."""
    from bomguard.cli import cli

    for name, (_, _, listed) in cli.lazy.items():  # type: ignore[attr-defined]
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and command.name == name
        first_line = (command.help or "").strip().splitlines()[0]
        assert listed.rstrip(".").split(" ")[:3] == first_line.rstrip(".").split(" ")[:3], name
