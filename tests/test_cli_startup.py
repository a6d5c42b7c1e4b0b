"""'bomguard --help' stays fast: it imports none of the heavy libraries (no timing here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
        "from bomguard.index.simple import IndexOptions, _Client\n"
        "_Client(IndexOptions(), None).http\n"
        "import httpx\n"
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


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: What a warm ``--mirror`` run with a valid policy never uses: the HTTP client's stack,
#: jsonschema (a valid policy is shown valid by jsonschema-rs; only errors need jsonschema)
#: and cryptography (nothing is verified: every result is stored).
NOT_ON_A_MIRROR_RUN = (
    "httpx",
    "h11",
    "bomguard.index._transport",
    "bomguard.index._shards",
    "jsonschema",
    "cryptography",
)


def test_a_warm_mirror_run_imports_no_http_client_jsonschema_nor_cryptography(tmp_path):
    """An offline warm run from a mirror (the default policy) builds no HTTP client,
    checks its valid policy without jsonschema and reads no certificate, so it imports
    none of those libraries: it starts that much faster."""
    args = [
        "enrich",
        str(EXAMPLES / "app.cdx.json"),
        "--mirror",
        str(EXAMPLES / "mirror"),
        "--trust-root",
        "embedded",
        "-o",
        str(tmp_path / "out.json"),
        "--verdict",
        str(tmp_path / "verdict.json"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    code = (
        "import sys\n"
        "from bomguard.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as e:\n    print('EXIT:', e.code)\n"
        f"print('LOADED:' + ','.join(m for m in {NOT_ON_A_MIRROR_RUN!r} if m in sys.modules))\n"
    )
    for _ in range(2):  # cold (verifies, so reads certificates), then warm
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        ).stdout
        assert "EXIT: 0" in out, out
    assert out.rsplit("LOADED:", 1)[1].strip() == "", out
    verdict = (tmp_path / "verdict.json").read_text()
    assert '"pass"' in verdict
