"""A cpp enrich run remembers the policies it checked in the store, and a later run with the
same policy bytes takes them from there (bomguard.policy.vetted).

Through ``bomguard enrich`` as a user runs it: the remembered check judges exactly as a
fresh one; a policy that fails a check is refused in every run, never remembered; and an
entry planted or edited by someone who can write the store but lacks its key is dropped
with a warning and the policy checked again, so it can neither let a bad policy through
nor leave a fact a rule reads unbound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import cdx, run_cli, write_json
from storerows import Rows

from bomguard.policy import load_policy, vetted
from bomguard.policy.cel_engines import cpp_available
from bomguard.store import flush_all

pytestmark = pytest.mark.skipif(not cpp_available(), reason="cel-expr-python is not installed")

HEAD = "apiVersion: bomguard/v1\nkind: Policy\nmetadata: {name: licensing}\n"
GOOD = (
    HEAD + "rules:\n"
    "  - id: mit-only\n"
    "    require: component.licenses.all(l, l == 'MIT')\n"
    "  - id: named\n"
    "    when: component.type == 'library'\n"
    "    require: component.name != ''\n"
)
# The same policy with a misspelt fact: refused at load time.
BAD = GOOD.replace("component.licenses.all", "component.licences.all")


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config" / "cache-key"
    monkeypatch.setenv("BOMGUARD_CACHE_KEY_FILE", str(path))
    return path


def _sbom(tmp_path: Path) -> Path:
    components = [
        {"type": "library", "name": "alpha", "licenses": [{"license": {"id": "MIT"}}]},
        {"type": "library", "name": "beta", "licenses": [{"license": {"id": "GPL-3.0-only"}}]},
    ]
    return write_json(tmp_path / "in.cdx.json", cdx(components))


def _policy(tmp_path: Path, text: str, name: str = "licensing.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _enrich(
    tmp_path: Path, policy: Path | None, *extra: str, engine: str = "cpp"
) -> tuple[int, dict[str, Any] | None]:
    """Exit code and verdict (its results, without the run's time) of one enrich run."""
    out, verdict = tmp_path / "out.json", tmp_path / "verdict.json"
    for path in (out, verdict):
        path.unlink(missing_ok=True)
    args = ["enrich", str(_sbom(tmp_path)), "-o", str(out), "--verdict", str(verdict)]
    args += ["--trust-root", "embedded", "--cel-engine", engine]
    args += ["--policy", str(policy)] if policy is not None else []
    code = run_cli([*args, *extra])
    if not verdict.exists():
        return code, None
    data = json.loads(verdict.read_text())
    return code, {k: v for k, v in data.items() if k != "evaluated_at"}


def _enrich_alone(tmp_path: Path, policy: Path, *extra: str) -> tuple[int, Any, str]:
    """:func:`_enrich` in a ``bomguard`` process of its own (nothing remembered in memory
    from earlier runs): exit code, verdict, stderr."""
    script = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from pathlib import Path\n"
        "from test_policy_vetted import _enrich\n"
        "import json\n"
        "result = _enrich(Path(sys.argv[2]), Path(sys.argv[3]), *sys.argv[4:])\n"
        "print('RESULT:' + json.dumps(result))\n"
    )
    here = str(Path(__file__).parent)
    run = subprocess.run(
        [sys.executable, "-c", script, here, str(tmp_path), str(policy), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    code, verdict = json.loads(run.stdout.rsplit("RESULT:", 1)[1])
    return code, verdict, run.stderr


def _cache(tmp_path: Path) -> list[str]:
    return ["--cache-dir", str(tmp_path / "cache")]


def _entries(tmp_path: Path) -> list[tuple[str, dict[str, Any], bytes | None]]:
    """The store's remembered checks, once this process's queued writes are committed (as
    they are when a ``bomguard`` process exits)."""
    flush_all()
    if not (tmp_path / "cache" / "bomguard.sqlite3").exists():
        return []
    with Rows(tmp_path / "cache") as rows:
        return rows.entries(vetted.KIND)


def test_a_remembered_check_judges_as_a_fresh_one(tmp_path, key_file, capsys):
    policy = _policy(tmp_path, GOOD)
    fresh = _enrich(tmp_path, policy, "--no-cache")
    assert fresh[0] == 1  # beta's licence is not MIT
    assert _enrich(tmp_path, policy, *_cache(tmp_path)) == fresh
    ((_, meta, _),) = _entries(tmp_path)
    assert [r["id"] for r in meta["policy"]["rules"]] == ["mit-only", "named"]
    assert meta["usage"]["component"] == ["licenses", "name", "type"]
    assert _enrich(tmp_path, policy, *_cache(tmp_path)) == fresh
    assert "WARNING" not in capsys.readouterr().err
    assert len(_entries(tmp_path)) == 1


def test_other_bytes_are_checked_afresh(tmp_path, key_file, capsys):
    policy = _policy(tmp_path, GOOD)
    assert _enrich(tmp_path, policy, *_cache(tmp_path))[0] == 1
    policy.write_text(BAD, encoding="utf-8")
    code, verdict = _enrich(tmp_path, policy, *_cache(tmp_path))
    assert (code, verdict) == (2, None)
    assert "no field 'licences' in component" in _error_line(capsys.readouterr().err)


def _error_line(stderr: str) -> str:
    (line,) = [x for x in stderr.splitlines() if x.startswith("bomguard: error:")]
    return line


def test_a_policy_that_fails_a_check_is_refused_every_run_and_never_remembered(
    tmp_path, key_file, capsys
):
    policy = _policy(tmp_path, BAD)
    assert _enrich(tmp_path, policy, "--no-cache") == (2, None)
    expected = _error_line(capsys.readouterr().err)
    assert "no field 'licences' in component" in expected
    for _ in range(2):
        assert _enrich(tmp_path, policy, *_cache(tmp_path)) == (2, None)
        assert _error_line(capsys.readouterr().err) == expected
    assert _entries(tmp_path) == []


def test_a_python_engine_run_checks_every_time(tmp_path, key_file):
    policy = _policy(tmp_path, GOOD)
    assert _enrich(tmp_path, policy, *_cache(tmp_path), engine="python")[0] == 1
    assert _entries(tmp_path) == []


def test_an_entry_planted_for_a_bad_policy_does_not_let_it_through(tmp_path, key_file, capsys):
    """Mallory can write the store, not its key: she copies the entry of the good policy
    to the key of the bad one (anyone can compute a key), with the bad rule in it."""
    good = _policy(tmp_path, GOOD)
    assert _enrich(tmp_path, good, *_cache(tmp_path))[0] == 1
    bad = _policy(tmp_path, BAD, "bad.yaml")
    assert _enrich(tmp_path, bad, "--no-cache") == (2, None)
    expected = _error_line(capsys.readouterr().err)

    ((_, meta, _),) = _entries(tmp_path)
    raw = bad.read_bytes()
    meta["policy"]["rules"][0]["require"] = "component.licences.all(l, l == 'MIT')"
    meta["policy"]["sha256"] = vetted.hashlib.sha256(raw).hexdigest()
    with Rows(tmp_path / "cache") as rows:
        rows.put(vetted.KIND, vetted._key(raw, "cpp"), meta)

    assert _enrich(tmp_path, bad, *_cache(tmp_path)) == (2, None)
    err = capsys.readouterr().err
    assert _error_line(err) == expected
    assert f"WARNING: cache: the remembered check of {bad} has a MAC that does not match" in err
    assert len(_entries(tmp_path)) == 1  # the planted one is gone; the good one stays


def test_an_edited_analysis_cannot_leave_a_fact_unbound(tmp_path, key_file, capsys):
    """Mallory edits the remembered analysis to say the rules read no licences: were it
    believed, ``component.licenses`` would not be bound and the rule could not hold."""
    policy = _policy(tmp_path, GOOD)
    honest = _enrich(tmp_path, policy, *_cache(tmp_path))
    ((key, meta, _),) = _entries(tmp_path)
    meta["usage"]["component"] = ["name", "type"]
    meta["sensitive"] = not meta["sensitive"]
    with Rows(tmp_path / "cache") as rows:
        rows.put(vetted.KIND, key, meta)
    capsys.readouterr()

    code, verdict, err = _enrich_alone(tmp_path, policy, *_cache(tmp_path))
    assert (code, verdict) == honest
    assert f"WARNING: cache: the remembered check of {policy} has a MAC that does not match" in err
    ((_, again, _),) = _entries(tmp_path)  # checked again, and remembered as it is
    assert again["usage"]["component"] == ["licenses", "name", "type"]


def test_a_warm_cpp_run_imports_neither_cel_python_nor_the_policy_checker(tmp_path, key_file):
    """The point of remembering: the default policy is not parsed or checked again."""
    sbom = _sbom(tmp_path)
    args = ["enrich", str(sbom), "-o", str(tmp_path / "out.json"), "--trust-root", "embedded"]
    args += ["--cel-engine", "cpp", *_cache(tmp_path)]
    modules = ("celpy", "lark", "bomguard.policy.checker", "bomguard.policy.loader")
    code = (
        "import sys\n"
        "from bomguard.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('LOADED:' + ','.join(m for m in {modules!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "BOMGUARD_CACHE_KEY_FILE": str(key_file)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        for _ in range(2)
    ]
    first, second = (r.stdout.rsplit("LOADED:", 1)[1].strip() for r in runs)
    assert "celpy" in first  # the first run checks the policy
    assert second == "", f"imported by a warm run: {second}"
    assert len(_entries(tmp_path)) == 1


def test_an_entry_of_other_checking_code_is_not_used(tmp_path, key_file, monkeypatch):
    """After an upgrade of bomguard or of a library the check uses, the policy is checked
    again (and remembered under the new revision): the older entry is never read."""
    policy = _policy(tmp_path, GOOD)
    honest = _enrich(tmp_path, policy, *_cache(tmp_path))
    ((before, _, _),) = _entries(tmp_path)
    upgraded = "0" * 64
    monkeypatch.setattr(vetted, "revision", lambda: upgraded)
    assert _enrich(tmp_path, policy, *_cache(tmp_path)) == honest
    keys = [key for key, _, _ in _entries(tmp_path)]
    assert len(keys) == 2 and before in keys
    assert vetted._key(policy.read_bytes(), "cpp") in keys


POLICIES = Path(__file__).resolve().parent.parent / "policies"
WAIVED = (
    "apiVersion: bomguard/v1\nkind: Policy\n"
    "metadata:\n  name: waived\n  owner: security\n  description: licences, waived\n"
    "  references:\n    - {id: LIC-1, title: Licensing, url: 'https://example.com/lic'}\n"
    "critical: [Alpha, beta]\n"
    "rules:\n"
    "  - id: mit-only\n"
    "    severity: warning\n"
    "    description: MIT only\n"
    "    message: '{name} {version}: not MIT'\n"
    "    references: [LIC-1]\n"
    "    require: component.licenses.all(l, l == 'MIT')\n"
    "  - id: coverage\n"
    "    scope: sbom\n"
    "    require: sbom.coverage.overall >= 1.0 && sbom.components == 2\n"
    "waivers:\n"
    "  - rule: mit-only\n"
    "    name: Beta\n"
    "    reason: accepted (TICKET-1)\n"
    "    approver: alice@example.com\n"
    "    expires: 2999-01-01\n"
    "  - rule: mit-only\n"
    "    purl: pkg:pypi/gamma@*\n"
    "    reason: long gone\n"
    "    approver: bob@example.com\n"
    "    expires: 2001-01-01\n"
)


@pytest.mark.parametrize(
    "name",
    ["waived.yaml", *sorted(p.name for p in POLICIES.glob("*.yaml") if ".tests." not in p.name)],
)
def test_every_kind_of_policy_is_remembered_as_it_was_loaded(tmp_path, key_file, name):
    """Waivers, references, critical names and top, messages, severities, scopes: the
    verdict (which lists the policies and the waivers' use) of a run on the remembered
    policy is the fresh one's."""
    policy = tmp_path / name
    policy.write_text(WAIVED if name == "waived.yaml" else (POLICIES / name).read_text())
    fresh = _enrich(tmp_path, policy, "--no-cache")
    assert fresh[1] is not None
    assert _enrich(tmp_path, policy, *_cache(tmp_path)) == fresh
    ((_, meta, _),) = _entries(tmp_path)
    assert _enrich_alone(tmp_path, policy, *_cache(tmp_path))[:2] == fresh
    assert len(_entries(tmp_path)) == 1
    sha256 = vetted.hashlib.sha256(policy.read_bytes()).hexdigest()
    remembered, _ = vetted._decode(meta, str(policy), sha256)
    assert remembered == load_policy(policy)
