"""Hostile and malformed input, through the CLI: a clear one-line error or a per-component
``unknown``, never a crash, a hang, an unbounded read or an unescaped URL."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers import by_name, cdx, props, pypi, run_cli, write_json
from indexserver import IndexServer, RegisteredFile

import bomguard.sbom

DATA = Path(__file__).parent / "data"
SRC = Path(bomguard.sbom.__file__).resolve().parents[2]
SPDX2_JSON = DATA / "sboms-generated" / "sbom4python_sigstore_spdx.spdx.json"
SPDX3_JSONLD = DATA / "sboms" / "spdx-examples__ai-example01-simplehtr.spdx3.jsonld.json"
ENGINES = ["python", "cpp"]
POLICY_HEAD = "apiVersion: bomguard/v1\nkind: Policy\nmetadata: {name: hostile}\n"


def _policy(tmp_path: Path, require: str, name: str = "hostile.yaml") -> Path:
    path = tmp_path / name
    text = POLICY_HEAD + "rules:\n  - id: costly\n    severity: error\n    require: >-\n"
    path.write_text(text + f"      {require}\n", encoding="utf-8")
    return path


def _one_error_line(stderr: str) -> str:
    """The CLI's single error line (no traceback, no internal error)."""
    assert "Traceback" not in stderr
    assert "internal error" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("bomguard: error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


# --- case 1: a CEL expression that would build a huge list ---------------------------

#: 20⁵ = 3.2 million elements: minutes and gigabytes on cel-python at six levels.
HUGE = (
    "size("
    + "".join(f"[{','.join(str(i) for i in range(1, 21))}].map({v}, " for v in "abcde")
    + "1"
    + ")" * 5
    + ") > 0"
)


#: Nested comprehensions as real policies write them: far within the budget.
REALISTIC = (
    'component.provenance.files.all(f, f.publisher.kind in ["GitHub", "GitLab"]'
    " || component.licenses.exists(l, l == f.filename))"
    " && [1, 2, 3].map(x, [4, 5].map(y, x * y)).size() == 3"
)


@pytest.mark.parametrize("engine", ENGINES)
def test_policy_check_refuses_an_expression_that_builds_a_huge_list(tmp_path, capsys, engine):
    policy = tmp_path / "hostile.yaml"
    policy.write_text(
        POLICY_HEAD + "rules:\n"
        f"  - id: realistic\n    require: >-\n      {REALISTIC}\n"
        f"  - id: costly\n    require: >-\n      {HUGE}\n",
        encoding="utf-8",
    )
    code = run_cli(["policy", "check", "--cel-engine", engine, str(policy)])
    out = capsys.readouterr().out
    assert code == 2
    # Only the costly rule is reported; the realistic one is within the budget.
    assert len(out.splitlines()) == 1, out
    assert out.startswith(f"{policy}:costly:")
    assert "require: too costly to evaluate: may take over 1,000,000 evaluation steps" in out


@pytest.mark.parametrize("engine", ENGINES)
def test_enrich_refuses_an_expression_that_builds_a_huge_list(tmp_path, capsys, engine):
    policy = _policy(tmp_path, HUGE)
    sbom = write_json(tmp_path / "in.cdx.json", cdx([{"type": "library", "name": "x"}]))
    out = tmp_path / "out.json"
    args = ["enrich", str(sbom), "-o", str(out), "--policy", str(policy), "--cel-engine", engine]
    code = run_cli([*args, "--trust-root", "embedded", "--no-cache"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert line.startswith(f"bomguard: error: {policy}: rules[0].require: too costly to evaluate")
    assert not out.exists()


def test_a_component_with_very_long_lists_makes_a_nested_rule_an_error_for_it_alone(
    tmp_path, capsys
):
    # Fine for ordinary components (checked with a nominal list length); on a component
    # listing 600 licenses it would take 600² steps per evaluation: that component's
    # outcome is an error (fail closed), the other one is judged as usual.
    policy = _policy(tmp_path, "component.licenses.all(a, component.licenses.exists(b, a == b))")
    long = {
        "type": "library",
        "name": "long",
        "licenses": [{"license": {"name": f"L{i}"}} for i in range(600)],
    }
    short = {"type": "library", "name": "short", "licenses": [{"license": {"id": "MIT"}}]}
    sbom = write_json(tmp_path / "in.cdx.json", cdx([long, short]))
    out = tmp_path / "out.json"
    args = ["enrich", str(sbom), "-o", str(out), "--policy", str(policy), "--cel-engine", "python"]
    code = run_cli([*args, "--trust-root", "embedded", "--no-cache"])
    err = capsys.readouterr().err
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("ERROR: costly:")]
    assert len(errors) == 1, err
    assert errors[0].startswith("ERROR: costly: long: rule could not be evaluated: require:")
    assert "too costly on this component (a list of 600 elements)" in errors[0]
    assert out.exists()


# --- case 2: nesting deep enough for Python's recursion limit ------------------------


@pytest.mark.parametrize(
    "require",
    ["!" * 4000 + "true", "(" * 1500 + "true" + ")" * 1500],
    ids=["not-chain", "parentheses"],
)
def test_deeply_nested_expressions_are_a_policy_problem(tmp_path, capsys, require):
    policy = _policy(tmp_path, require)
    assert run_cli(["policy", "check", str(policy)]) == 2
    captured = capsys.readouterr()
    assert "internal error" not in captured.err
    assert captured.out.startswith(f"{policy}:costly:")
    assert "expression is nested too deeply" in captured.out

    sbom = write_json(tmp_path / "in.cdx.json", cdx([]))
    code = run_cli(["enrich", str(sbom), "--policy", str(policy), "--trust-root", "embedded"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert f"{policy}: rules[0].require: expression is nested too deeply" in line


def test_a_very_long_expression_is_a_policy_problem(tmp_path, capsys):
    policy = _policy(tmp_path, " + ".join(["1"] * 5000) + " > 0")
    assert run_cli(["policy", "check", str(policy)]) == 2
    out = capsys.readouterr().out
    assert "require: expression is 20001 characters long, over the limit of 8192" in out


def test_a_deeply_nested_policy_document_is_a_policy_problem(tmp_path, capsys):
    policy = _policy(tmp_path, "true")
    policy.write_text(policy.read_text() + "x: " + "[" * 5000 + "]" * 5000 + "\n")
    assert run_cli(["policy", "check", str(policy)]) == 2
    captured = capsys.readouterr()
    assert "internal error" not in captured.err
    assert "invalid YAML: nested more than 64 deep" in captured.out


# --- cases 3, 4 and 9: what json.loads accepts but is not (usable) JSON ---------------


def _cdx_text(component_json: str) -> str:
    head = '{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": ['
    return head + '{"type": "library", "name": "a"}, ' + component_json + "]}"


CDX_CASES = {
    "huge-integer": (
        '{"type": "library", "name": "b", "x": ' + "7" * 100_000 + "}",
        "components[1].x: a number with 100000 digits (the limit is 4300)",
    ),
    "lone-surrogate": (
        '{"type": "library", "name": "b\\ud800"}',
        "components[1].name: lone surrogate \\ud800 (not a Unicode character)",
    ),
    "lone-surrogate-in-purl": (
        '{"type": "library", "name": "b", "purl": "pkg:pypi/b\\udfff@1"}',
        "components[1].purl: lone surrogate \\udfff (not a Unicode character)",
    ),
    "lone-surrogate-in-key": (
        '{"type": "library", "name": "b", "k\\ud800": 1}',
        "components[1].k?: key: lone surrogate \\ud800 (not a Unicode character)",
    ),
    "nan": (
        '{"type": "library", "name": "b", "x": NaN}',
        "components[1].x: NaN is not a JSON number",
    ),
    "infinity": (
        '{"type": "library", "name": "b", "x": [1, -Infinity]}',
        "components[1].x[1]: -Infinity is not a JSON number",
    ),
    "out-of-range": (
        '{"type": "library", "name": "b", "x": 1e400}',
        "components[1].x: number 1e400 is out of range",
    ),
    "duplicate-key": (
        '{"type": "library", "name": "b", "version": "1", "version": "2"}',
        "components[1].version: duplicate key",
    ),
}


@pytest.mark.parametrize("case", sorted(CDX_CASES))
def test_cyclonedx_json_that_is_not_strict_json_is_refused_with_its_key_path(
    tmp_path, capsys, case
):
    component, expected = CDX_CASES[case]
    sbom = tmp_path / "in.cdx.json"
    sbom.write_text(_cdx_text(component), encoding="utf-8")
    out = tmp_path / "out.json"
    code = run_cli(["enrich", str(sbom), "-o", str(out), "--trust-root", "embedded"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert line == f"bomguard: error: {sbom}: {expected}"
    assert not out.exists()


@pytest.mark.parametrize(
    ("source", "edit", "expected"),
    [
        (SPDX2_JSON, ('"SPDXID": "SPDXRef-DOCUMENT",', '"SPDXID": NaN,'), "SPDXID: NaN"),
        (
            SPDX2_JSON,
            ('"spdxVersion": "SPDX-2.3",', '"spdxVersion": "SPDX-2.3", "spdxVersion": "SPDX-2.2",'),
            "spdxVersion: duplicate key",
        ),
        (SPDX3_JSONLD, ('"@graph": [', '"x": Infinity, "@graph": ['), "x: Infinity"),
        (SPDX3_JSONLD, ('"@graph": [', '"@graph": 1, "@graph": ['), "@graph: duplicate key"),
    ],
    ids=["spdx2-nan", "spdx2-duplicate", "spdx3-infinity", "spdx3-duplicate"],
)
def test_spdx_json_that_is_not_strict_json_is_refused(tmp_path, capsys, source, edit, expected):
    text = source.read_text(encoding="utf-8")
    assert edit[0] in text
    sbom = tmp_path / source.name
    sbom.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    code = run_cli(["enrich", str(sbom), "-o", str(tmp_path / "out"), "--trust-root", "embedded"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert line.startswith(f"bomguard: error: {sbom}: {expected}")


def test_spdx_yaml_with_a_huge_integer_or_a_duplicate_key_is_refused(tmp_path, capsys):
    sbom = tmp_path / "in.spdx.yaml"
    sbom.write_text("spdxVersion: SPDX-2.3\nSPDXID: SPDXRef-DOCUMENT\nx: " + "9" * 5000 + "\n")
    assert run_cli(["enrich", str(sbom), "--trust-root", "embedded"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line == f"bomguard: error: {sbom}: x: a number with 5000 digits (the limit is 4300)"

    sbom.write_text("spdxVersion: SPDX-2.3\nSPDXID: SPDXRef-DOCUMENT\nSPDXID: other\n")
    assert run_cli(["enrich", str(sbom), "--trust-root", "embedded"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line == f"bomguard: error: {sbom}: line 3 column 1: duplicate key 'SPDXID'"


def test_policies_with_huge_integers_or_lone_surrogates_are_policy_problems(tmp_path, capsys):
    policy = _policy(tmp_path, "true")
    text = policy.read_text()
    policy.write_text(text + "x: " + "1" * 100_000 + "\n")
    assert run_cli(["policy", "check", str(policy)]) == 2
    captured = capsys.readouterr()
    assert "internal error" not in captured.err
    assert f"{policy}:x:" in captured.out
    assert "a number with 100000 digits (the limit is 4300)" in captured.out

    policy.write_text(text.replace("{name: hostile}", '{name: hostile, description: "a\\ud800"}'))
    sbom = write_json(tmp_path / "in.cdx.json", cdx([]))
    assert run_cli(["enrich", str(sbom), "--policy", str(policy), "--trust-root", "embedded"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line == (
        f"bomguard: error: {policy}: metadata.description: lone surrogate \\ud800 "
        "(not a Unicode character)"
    )


@pytest.mark.parametrize(
    ("pins", "expected"),
    [
        (
            '{"apiVersion": "bomguard/v1", "kind": "Pins", "kind": "Pins", "pins": {}}',
            "kind: duplicate key",
        ),
        (
            '{"apiVersion": "bomguard/v1", "kind": "Pins", "pins": {"a": [{"kind": NaN}]}}',
            "pins.a[0].kind: NaN is not a JSON number",
        ),
    ],
    ids=["duplicate", "nan"],
)
def test_json_pin_files_are_read_strictly(tmp_path, capsys, pins, expected):
    path = tmp_path / "pins.json"
    path.write_text(pins)
    sbom = write_json(tmp_path / "in.cdx.json", cdx([]))
    assert run_cli(["enrich", str(sbom), "--pins", str(path), "--trust-root", "embedded"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line == f"bomguard: error: {path}: {expected}"


# --- case 6: reads are bounded, whatever the input is --------------------------------

_LIMITED_CLI = (
    "import sys, bomguard.sbom as sbom; sbom.MAX_SBOM_BYTES = int(sys.argv[1]); "
    "from bomguard._cli import main; main(sys.argv[2:])"
)


def _address_space(limit: int) -> Any:
    def apply() -> None:  # in the child: a bug must fail with MemoryError, not eat the host
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def _run_limited(limit: int | None, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    if limit is None:
        command = [sys.executable, "-m", "bomguard", *args]
    else:
        command = [sys.executable, "-c", _LIMITED_CLI, str(limit), *args]
    return subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_address_space(4 << 30),
        check=False,
        **kwargs,
    )


def test_dev_zero_is_refused_after_the_limit(tmp_path):
    result = _run_limited(1 << 20, "enrich", "/dev/zero", "--trust-root", "embedded")
    assert result.returncode == 2, result.stderr
    assert _one_error_line(result.stderr) == (
        "bomguard: error: /dev/zero: larger than the 1048576-byte limit for an SBOM"
    )


def test_dev_zero_is_refused_with_the_real_limit():
    result = _run_limited(None, "enrich", "/dev/zero", "--trust-root", "embedded")
    assert result.returncode == 2, result.stderr
    limit = bomguard.sbom.MAX_SBOM_BYTES
    assert _one_error_line(result.stderr) == (
        f"bomguard: error: /dev/zero: larger than the {limit}-byte limit for an SBOM"
    )


def _feed(path: Path, total: int, written: list[int]) -> None:
    """Write ``total`` bytes of a never-ending JSON string into a FIFO; count what went in."""
    block = b'{"bomFormat": "' + b"x" * 65_521
    try:
        with path.open("wb") as fifo:
            while written[0] < total:
                fifo.write(block)
                written[0] += len(block)
                block = b"x" * 65_536
    except BrokenPipeError:
        pass


def test_a_fifo_over_the_limit_is_refused_before_it_is_all_read(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bomguard.sbom, "MAX_SBOM_BYTES", 1 << 20)
    fifo = tmp_path / "sbom.fifo"
    os.mkfifo(fifo)
    total = 64 << 20
    written = [0]
    writer = threading.Thread(target=_feed, args=(fifo, total, written), daemon=True)
    writer.start()
    code = run_cli(["enrich", str(fifo), "--trust-root", "embedded"])
    writer.join(timeout=30)
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert line == f"bomguard: error: {fifo}: larger than the 1048576-byte limit for an SBOM"
    assert written[0] < total // 4, "the whole stream was read before it was refused"


def test_standard_input_over_the_limit_is_refused_before_it_is_all_read():
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-c", _LIMITED_CLI, str(1 << 20), "enrich", "-"]
    process = subprocess.Popen(
        [*command, "--trust-root", "embedded"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_address_space(4 << 30),
    )
    assert process.stdin is not None
    written, total = 0, 64 << 20
    try:
        while written < total:
            process.stdin.write(b" " * 65_536)
            written += 65_536
        process.stdin.close()
    except BrokenPipeError:
        pass
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert _one_error_line(stderr.decode()) == (
        "bomguard: error: -: larger than the 1048576-byte limit for an SBOM"
    )
    assert written < total // 4


def test_a_small_sbom_on_standard_input_is_read():
    sbom = json.dumps(cdx([{"type": "library", "name": "x"}]))
    result = _run_limited(None, "enrich", "-", "--trust-root", "embedded", input=sbom)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["components"][0]["name"] == "x"


# --- cases 7 and 8: only valid project names reach a URL; one bad purl is one unknown --

HOSTILE_PURLS = {
    "query": "pkg:pypi/sample%3Fproject=x@1.0",
    "slashes": "pkg:pypi/..%2F..%2Fadmin@1.0",
    "crlf": "pkg:pypi/a%0D%0AHost:%20evil@1.0",
    "surrogate": "pkg:pypi/a%ED%A0%80@1",
    "percent": "pkg:pypi/a%2525b@1",
    "space": "pkg:pypi/a%20b@1",
    "leading-dot": "pkg:pypi/.hidden@1",
}


def test_purl_names_that_are_not_project_names_are_unknown_and_never_requested(
    real_index: tuple[IndexServer, dict[str, RegisteredFile]], tmp_path, capsys
):
    server, registered = real_index
    good = next(iter(registered.values()))
    components = [pypi(good.project, good.version)]
    for key, purl in HOSTILE_PURLS.items():
        components.append({"type": "library", "name": f"hostile-{key}", "purl": purl})
    sbom = write_json(tmp_path / "in.cdx.json", cdx(components))
    out = tmp_path / "out.json"
    code = run_cli(
        [
            "enrich",
            str(sbom),
            "-o",
            str(out),
            "--index-url",
            server.index_url,
            "--trust-root",
            "embedded",
            "--no-cache",
        ]
    )
    assert code == 0, capsys.readouterr().err
    enriched = by_name(json.loads(out.read_text()))
    assert props(enriched[good.project])["bomguard:provenance:status"] == "verified"
    for key in HOSTILE_PURLS:
        p = props(enriched[f"hostile-{key}"])
        assert p["bomguard:provenance:status"] == "unknown", key
        assert "is not a valid PyPI project name" in p["bomguard:provenance:reason"], key
    pages = {r.path for r in server.requests if r.path.startswith("/simple/")}
    assert pages == {f"/simple/{good.project}/"}, pages
    assert all("?" not in r.path and "%" not in r.path for r in server.requests)
