"""``bomguard policy check|test|explain``, and the shipped policies with their test cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_policy import HEAD, write

from bomguard.cli.policy import policy_group
from bomguard.policy import (
    FUNCTIONS,
    check_policies,
    load_policies,
    policy_tests_path,
    run_policy_tests,
)
from bomguard.policy.evaluation import compile_expression
from bomguard.policy.model import Scope

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(
    p for p in (ROOT / "policies").glob("*.yaml") if not p.name.endswith(".tests.yaml")
)


def run(*args: str) -> Result:
    return CliRunner().invoke(policy_group, list(args))


# --- check ---------------------------------------------------------------------------


def test_check_passes_clean_policies() -> None:
    result = run("check", *map(str, sorted((ROOT / "policies").glob("*.yaml"))))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "skipping 6 tests files (run them with 'bomguard policy test')" in result.stderr
    assert "6 policy files OK (29 rules, 0 waivers)" in result.stderr


def test_check_reports_every_problem_of_every_file(tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        HEAD + "rules:\n"
        "  - id: one\n    require: compnent.name == 'x'\n"
        "  - id: two\n    require: component.name ==\n",
        "bad.yaml",
    )
    broken = write(tmp_path, "rules: [\n", "broken.yaml")
    clash = write(
        tmp_path,
        HEAD.replace("name: test", "name: other") + "rules:\n  - id: one\n    require: 'true'\n",
        "clash.yaml",
    )
    good = write(
        tmp_path,
        HEAD.replace("name: test", "name: good") + "rules:\n  - id: good\n    require: 'true'\n",
        "good.yaml",
    )
    waiver = write(
        tmp_path,
        HEAD.replace("name: test", "name: waiver") + "rules:\n  - id: w\n    require: 'true'\n"
        "waivers:\n  - {rule: one, name: x, reason: r, approver: a, expires: 2026-01-01}\n",
        "waiver.yaml",
    )
    result = run(
        "check",
        str(bad),
        str(broken),
        str(good),
        str(clash),
        str(waiver),
        str(tmp_path / "none.yaml"),
    )
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines == [
        f"{bad}:one:6:14: require: undeclared reference to 'compnent' (did you mean "
        "'component'?): a component-scope rule sees component, sbom and now",
        f"{bad}:two:8:31: require: syntax error at column 18: unexpected end of expression",
        f"{broken}:-:2:1: invalid YAML: expected the node content, but found '<stream end>'",
        f"{tmp_path / 'none.yaml'}:-:-: cannot read the policy: No such file or directory",
        # bad.yaml did not load, so "one" is defined once (in clash.yaml) and waivable.
    ]
    assert "4 problems in 3 of 6 policy files" in result.stderr


def test_check_reports_problems_between_files(tmp_path: Path) -> None:
    first = write(tmp_path, HEAD + "rules:\n  - id: one\n    require: 'true'\n", "a.yaml")
    second = write(
        tmp_path,
        HEAD.replace("name: test", "name: other") + "rules:\n  - id: one\n    require: 'true'\n"
        "waivers:\n  - {rule: nope, name: x, reason: r, approver: a, expires: 2026-01-01}\n",
        "b.yaml",
    )
    result = run("check", str(first), str(second))
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"{second}:one:5:9: id: duplicate rule id 'one' (first used at {first}: rules[0])",
        f"{second}:waivers[0].rule:8:12: no policy evaluated with this one has a rule 'nope'",
    ]


# --- test ----------------------------------------------------------------------------


@pytest.mark.parametrize("policy", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_policy_has_passing_tests(policy: Path) -> None:
    assert policy_tests_path(policy).exists(), f"{policy.name} ships no tests file"
    report = run_policy_tests(policy)
    assert report.passed, [str(f) for f in report.failures]
    assert report.cases >= 5
    # Every rule of the policy is exercised by at least one expectation.
    tests = policy_tests_path(policy).read_text()
    for rule in load_policies([policy])[0].rules:
        assert f"{rule.id}:" in tests, f"{rule.id} has no test case"


def test_policy_test_command_over_every_shipped_policy() -> None:
    result = run("test", *map(str, SHIPPED))
    assert result.exit_code == 0, result.output
    assert result.stdout.count("OK: ") == len(SHIPPED)
    assert "0 failed, 0 unusable" in result.stderr


def test_policy_test_reports_failed_expectations(tmp_path: Path) -> None:
    policy = write(
        tmp_path,
        HEAD + "rules:\n  - id: verified\n    require: component.provenance.status == 'verified'\n",
        "p.yaml",
    )
    write(
        tmp_path,
        "apiVersion: bomguard/v1\nkind: PolicyTests\nnow: '2026-01-01T00:00:00Z'\ncases:\n"
        "  - name: absent fails\n"
        "    component: {purl: pkg:pypi/rich@13.0, provenance: {status: absent, reason: none}}\n"
        "    expect: {verified: pass}\n"
        "  - name: verified passes\n"
        "    component: {purl: pkg:pypi/rich@13.0, provenance: {status: verified}}\n"
        "    expect: {verified: pass}\n",
        "p.tests.yaml",
    )
    result = run("test", str(policy))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"FAIL: {tmp_path / 'p.tests.yaml'}",
        "  cases[0] 'absent fails': verified: expected pass, got fail (requirement not met: "
        "component.provenance.status == 'verified' (provenance absent: none))",
    ]


def test_policy_test_rejects_bad_facts_and_rule_ids(tmp_path: Path) -> None:
    write(tmp_path, HEAD + "rules:\n  - id: r\n    require: 'true'\n", "p.yaml")
    tests = write(
        tmp_path,
        "apiVersion: bomguard/v1\nkind: PolicyTests\ncases:\n"
        "  - name: typos\n"
        "    component: {provenance: {statsu: verified}, critical: 'yes'}\n"
        "    sbom: {coverage: {overall: high}}\n"
        "    expect: {rr: pass}\n",
        "p.tests.yaml",
    )
    result = run("test", str(tests))
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"{tests}:cases[0].component.provenance.statsu:5:30: unknown fact 'statsu' "
        "(did you mean 'status'?)",
        f"{tests}:cases[0].component.critical:5:59: expected a boolean, got str",
        f"{tests}:cases[0].sbom.coverage.overall:6:32: expected a number, got str",
        f"{tests}:cases[0].expect.rr:7:14: no rule 'rr' (did you mean 'r'?)",
    ]


def test_policy_test_needs_a_tests_file(tmp_path: Path) -> None:
    policy = write(tmp_path, HEAD + "rules:\n  - id: r\n    require: 'true'\n", "p.yaml")
    result = run("test", str(policy))
    assert result.exit_code == 2
    assert result.stdout.strip() == (
        f"ERROR: {policy}: no tests beside it (expected {tmp_path / 'p.tests.yaml'})"
    )


def test_policy_tests_can_check_waivers(tmp_path: Path) -> None:
    write(
        tmp_path,
        HEAD + "rules:\n  - id: verified\n    require: component.provenance.status == 'verified'\n"
        "waivers:\n  - {rule: verified, name: rich, reason: r, approver: a, expires: 2026-01-31}\n",
        "p.yaml",
    )
    tests = write(
        tmp_path,
        "apiVersion: bomguard/v1\nkind: PolicyTests\nnow: '2026-02-01T00:00:00Z'\ncases:\n"
        "  - name: the waiver has expired\n"
        "    component: {purl: pkg:pypi/rich@13.0, provenance: {status: absent}}\n"
        "    expect: {verified: fail}\n",
        "p.tests.yaml",
    )
    assert run_policy_tests(tests).passed
    tests.write_text(tests.read_text().replace("2026-02-01", "2026-01-31"))
    report = run_policy_tests(tests)
    assert [(f.expected.value, f.actual.value) for f in report.failures] == [("fail", "waived")]


# --- explain -------------------------------------------------------------------------


def test_explain_lists_variables_fields_and_functions() -> None:
    result = run("explain")
    assert result.exit_code == 0
    text = result.stdout
    for needle in [
        "component: object  (component scope)",
        "sbom: object  (component and sbom scope)",
        "now: timestamp  (component and sbom scope)",
        "component.provenance.publisher.repository",
        "sbom.coverage.critical",
        "version_matches(version: string, specifier: string) -> bool",
        "version_compare(a: string, b: string) -> int",
        "glob(text: string, pattern: string) -> bool",
    ]:
        assert needle in text


def test_explain_json_examples_compile() -> None:
    result = run("explain", "--format", "json")
    data = json.loads(result.stdout)
    assert [f["name"] for f in data["functions"]] == [f.name for f in FUNCTIONS]
    for function in data["functions"]:
        program, problems = compile_expression(function["example"], Scope.COMPONENT)
        assert program is not None and not problems, function
    paths = {f["path"] for v in data["variables"] for f in v["fields"]}
    assert "component.provenance.files[].publisher.workflow" in paths
    assert "sbom.counts.not-applicable" in paths


# --- docs ----------------------------------------------------------------------------


def test_cel_examples_in_the_docs_compile() -> None:
    """Every line of every ```cel block of docs/policies.md compiles.

    A line using ``component`` is checked as a component-scope rule, any other line as an
    sbom-scope one (so ``component`` in an sbom example would be caught).
    """
    docs = ROOT / "docs" / "policies.md"
    if not docs.exists():
        pytest.skip("docs/policies.md is not written yet")
    blocks = docs.read_text(encoding="utf-8").split("```cel\n")[1:]
    assert blocks
    for block in blocks:
        for line in block.split("```", 1)[0].splitlines():
            expression = line.strip()
            if not expression or expression.startswith("//"):
                continue
            scope = Scope.COMPONENT if "component" in expression else Scope.SBOM
            program, problems = compile_expression(expression, scope)
            assert program is not None, (expression, problems)


def test_policy_examples_in_the_docs_load(tmp_path: Path) -> None:
    """Every ```yaml block of docs/policies.md that is a whole policy loads cleanly."""
    docs = ROOT / "docs" / "policies.md"
    if not docs.exists():
        pytest.skip("docs/policies.md is not written yet")
    blocks = [b.split("```", 1)[0] for b in docs.read_text(encoding="utf-8").split("```yaml\n")[1:]]
    policies = [b for b in blocks if b.startswith("apiVersion: bomguard/v1\nkind: Policy\n")]
    assert len(policies) >= 3
    for index, block in enumerate(policies):
        path = write(tmp_path, block, f"doc-{index}.yaml")
        _, problems = check_policies([path])
        assert not problems, [p.render() for p in problems]


def test_exit_codes_through_the_main_entry_point(tmp_path: Path) -> None:
    """Registered with ``cli.add_command(policy_group)``, the group keeps its exit codes."""
    from bomguard import cli as _cli

    registered = "policy" in _cli.cli.commands
    if not registered:
        _cli.cli.add_command(policy_group)
    try:
        bad = write(tmp_path, HEAD + "rules:\n  - id: r\n    require: nope\n", "bad.yaml")
        for args, code in [
            (["policy", "check", str(bad)], 2),
            (["policy", "check", str(SHIPPED[0])], 0),
            (["policy", "test", str(SHIPPED[0])], 0),
            (["policy", "test", str(bad)], 2),
            (["policy", "explain"], 0),
        ]:
            with pytest.raises(SystemExit) as info:
                _cli.main(args)
            assert info.value.code == code, args
    finally:
        if not registered:
            _cli.cli.commands.pop("policy", None)


def test_tests_schema_copy_is_current() -> None:
    from bomguard.policy.testing import TESTS_SCHEMA

    published = json.loads((ROOT / "schemas" / "policy-tests.schema.json").read_text())
    assert published == TESTS_SCHEMA
