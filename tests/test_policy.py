"""The policy stage: loading CEL policies, evaluating them, and the verdict document."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from bomguard.errors import InputError
from bomguard.models import (
    Component,
    ComponentEvidence,
    FileEvidence,
    Identity,
    PypiRef,
    Status,
)
from bomguard.policy import (
    Policy,
    Rule,
    Severity,
    Violation,
    component_facts,
    default_policy,
    evaluate,
    load_policies,
    load_policy,
    validate_verdict,
)

ROOT = Path(__file__).resolve().parents[1]

HEAD = "apiVersion: bomguard/v1\nkind: Policy\nmetadata: {name: test}\n"

MINIMAL = """\
apiVersion: bomguard/v1
kind: Policy
metadata: {name: trusted-publisher-critical}
critical: ["sigstore", "cryptography"]
rules:
  - id: critical-attested
    description: Critical dependencies are attested by a Trusted Publisher
    when: component.critical
    require: component.provenance.status == "verified"
  - id: no-invalid
    require: component.provenance.status != "invalid"
"""


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def policy_from(
    tmp_path: Path, rules: str, *, name: str = "policy.yaml", extra: str = ""
) -> Policy:
    return load_policy(write(tmp_path, HEAD + extra + "rules:\n" + rules, name))


def pypi(name: str, version: str = "1.0", *, locator: str | None = None) -> Component:
    normalized = name.lower().replace("_", "-")
    return Component(
        locator=locator or f"/components/{normalized}",
        bom_ref=f"ref-{normalized}",
        name=name,
        version=version,
        purl=f"pkg:pypi/{normalized}@{version}",
        type="library",
        pypi=PypiRef(normalized, version, name, version),
    )


def npm(name: str) -> Component:
    return Component(
        locator=f"/components/npm-{name}",
        bom_ref=None,
        name=name,
        version="2.0",
        purl=f"pkg:npm/{name}@2.0",
    )


IDENTITY = Identity(kind="GitHub", repository="owner/project", workflow="release.yml")


def evidence(
    status: Status, reason: str = "", *, repository: str = "owner/project"
) -> ComponentEvidence:
    identity = (
        Identity(kind="GitHub", repository=repository, workflow="release.yml")
        if status is Status.VERIFIED
        else None
    )
    files = (
        FileEvidence("pkg-1.0-py3-none-any.whl", "ab" * 32, status, reason, identity=identity),
    )
    return ComponentEvidence(status, reason, files)


def found(violations: Iterable[Violation]) -> set[tuple[str, str]]:
    return {(v.rule, v.component) for v in violations}


# --- loading -------------------------------------------------------------------------


def test_minimal_policy_loads(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    policy = load_policy(path)
    assert policy.name == "trusted-publisher-critical"
    assert [r.id for r in policy.rules] == ["critical-attested", "no-invalid"]
    assert policy.rules[0].when == "component.critical"
    assert policy.rules[1].when is None
    assert all(r.severity is Severity.ERROR for r in policy.rules)
    assert policy.critical == ("cryptography", "sigstore")
    assert policy.path == str(path)
    assert policy.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_optional_keys_load(tmp_path: Path) -> None:
    policy = load_policy(
        write(
            tmp_path,
            """\
apiVersion: bomguard/v1
kind: Policy
metadata:
  name: full
  description: Every optional key
critical: [PyJWT]
rules:
  - id: warn-unknown
    description: Provenance is known
    severity: warning
    require: component.provenance.status != "unknown"
    message: "{name} {version} ({purl}) is {status}: {reason}"
""",
        )
    )
    assert policy.description == "Every optional key"
    assert policy.critical == ("pyjwt",)
    assert policy.rules[0].severity is Severity.WARNING
    assert policy.rules[0].message == "{name} {version} ({purl}) is {status}: {reason}"


MALFORMED = {
    "bad-yaml": (HEAD + "rules: [\n  - id: a\n", "line 5, column 3: invalid YAML"),
    "missing-apiversion": (
        "kind: Policy\nmetadata: {name: x}\nrules: [{id: a, require: 'true'}]\n",
        "missing required key 'apiVersion'",
    ),
    "wrong-apiversion": (
        "apiVersion: bomguard/v2\nkind: Policy\nmetadata: {name: x}\n"
        "rules: [{id: a, require: 'true'}]\n",
        "apiVersion: expected 'bomguard/v1', got 'bomguard/v2'",
    ),
    "unknown-rule-key": (
        HEAD + "rules:\n  - id: a\n    requires: 'true'\n",
        "rules[0]: unknown key 'requires' (did you mean 'require'?)",
    ),
    "unknown-top-key": (
        HEAD + "rule: []\nrules: [{id: a, require: 'true'}]\n",
        "unknown key 'rule'",
    ),
    "cel-syntax": (
        HEAD + "rules:\n  - id: a\n    require: 'true'\n"
        "  - id: b\n    require: component.name ==== 'x'\n",
        "rules[1].require: syntax error at column 18: unexpected '=='",
    ),
    "cel-unfinished": (
        HEAD + "rules:\n  - id: a\n    when: 'component.critical &&'\n    require: 'true'\n",
        "rules[0].when: syntax error at column 22: unexpected end of expression",
    ),
    "duplicate-ids": (
        HEAD + "rules:\n  - id: a\n    require: 'true'\n  - id: a\n    require: 'false'\n",
        "rules[1].id: duplicate rule id 'a' (first used at rules[0])",
    ),
    "empty-rules": (HEAD + "rules: []\n", "rules: must not be empty"),
    "no-rules": (HEAD, "missing required key 'rules'"),
    "empty-file": ("", "the file is empty"),
    "not-a-mapping": ("- a\n- b\n", "expected a mapping, got a list"),
    "bad-severity": (
        HEAD + "rules:\n  - id: a\n    require: 'true'\n    severity: fatal\n",
        "rules[0].severity: expected one of 'error', 'warning', 'info', got 'fatal'",
    ),
    "require-not-string": (
        HEAD + "rules:\n  - id: a\n    require: 5\n",
        "rules[0].require: expected a string, got an integer",
    ),
    "undeclared-variable": (
        HEAD + "rules:\n  - id: a\n    require: compnent.name == 'x'\n",
        "rules[0].require: undeclared reference to 'compnent'",
    ),
    "not-boolean": (
        HEAD + "rules:\n  - id: a\n    require: component.provenance.status\n",
        "rules[0].require: must be a boolean expression, got string",
    ),
    "unknown-placeholder": (
        HEAD + "rules:\n  - id: a\n    require: 'true'\n    message: '{name.__class__}'\n",
        "rules[0].message: unknown placeholder {name.__class__}",
    ),
    "duplicate-yaml-key": (
        HEAD + "rules:\n  - id: a\n    require: 'true'\n    require: 'false'\n",
        "invalid YAML: duplicate key 'require'",
    ),
    "bad-critical-name": (
        HEAD + "critical: [ok, 'not a name']\nrules: [{id: a, require: 'true'}]\n",
        "critical[1]: invalid value 'not a name'",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_policy_names_file_and_key_path(tmp_path: Path, case: str) -> None:
    text, expected = MALFORMED[case]
    path = write(tmp_path, text, f"{case}.yaml")
    with pytest.raises(InputError) as info:
        load_policy(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.yaml: cannot read the policy"):
        load_policy(tmp_path / "missing.yaml")


def test_duplicate_rule_ids_across_policies(tmp_path: Path) -> None:
    first = write(tmp_path, HEAD + "rules: [{id: shared, require: 'true'}]\n", "a.yaml")
    second = write(
        tmp_path,
        HEAD.replace("name: test", "name: other")
        + "rules: [{id: own, require: 'true'}, {id: shared, require: 'true'}]\n",
        "b.yaml",
    )
    with pytest.raises(InputError) as info:
        load_policies([first, second])
    assert str(info.value) == (
        f"{second}: rules[1].id: duplicate rule id 'shared' (first used at {first}: rules[0])"
    )
    # evaluate() guards the same way, whatever way the policies were put together.
    with pytest.raises(InputError, match="duplicate rule id 'shared'"):
        evaluate([load_policy(first), load_policy(second)], [])


def test_empty_policy_set_fails_closed() -> None:
    with pytest.raises(InputError, match="empty policy set"):
        load_policies([])
    with pytest.raises(InputError, match="empty policy set"):
        evaluate([], [(pypi("sigstore"), evidence(Status.INVALID, "bad signature"))])


def test_shipped_policies_load_together() -> None:
    policies = load_policies(
        [ROOT / "policies" / "baseline.yaml", ROOT / "policies" / "trusted-publisher-critical.yaml"]
    )
    assert [p.name for p in policies] == ["baseline", "trusted-publisher-critical"]
    verdict = evaluate(
        [*policies, default_policy()],
        [(pypi("sigstore"), evidence(Status.VERIFIED)), (npm("left-pad"), None)],
    )
    assert verdict.verdict == "pass", verdict.violations


# --- facts ---------------------------------------------------------------------------


def test_facts_always_have_every_key() -> None:
    bare = component_facts(npm("left-pad"), None, False)
    rich = component_facts(pypi("sigstore"), evidence(Status.VERIFIED), True)

    def shape(value: object) -> object:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        return type(value).__name__

    assert shape(bare) == shape(rich)  # same keys and types, with or without evidence
    assert set(rich["provenance"]["files"][0]) == {
        "filename",
        "sha256",
        "status",
        "reason",
        "code",
        "digest_source",
        "publisher",
    }
    assert bare["provenance"]["status"] == "not-applicable"
    assert bare["provenance"]["publisher"]["repository"] == ""
    assert bare["purl"] == "pkg:npm/left-pad@2.0" and bare["bom_ref"] == ""
    assert rich["critical"] is True
    assert rich["provenance"]["publisher"]["repository"] == "owner/project"
    assert rich["provenance"]["files"][0]["publisher"]["workflow"] == "release.yml"
    assert rich["provenance"]["verified_files"] == rich["provenance"]["total_files"] == 1


def test_pypi_component_without_evidence_is_unknown_not_exempt() -> None:
    facts = component_facts(pypi("sigstore"), None, False)
    assert facts["provenance"]["status"] == "unknown"


def test_absent_publisher_compares_false_instead_of_erroring(tmp_path: Path) -> None:
    policy = policy_from(
        tmp_path,
        "  - id: from-owner\n"
        "    require: component.provenance.publisher.repository == 'owner/project'\n",
    )
    verdict = evaluate([policy], [(npm("left-pad"), None)])
    [violation] = verdict.violations
    assert violation.rule == "from-owner"
    assert "could not be evaluated" not in violation.message


# --- evaluation ----------------------------------------------------------------------


def test_evaluation_finds_expected_violations(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, MINIMAL))
    subjects = [
        (pypi("sigstore"), evidence(Status.VERIFIED)),
        (pypi("cryptography", "42.0"), evidence(Status.ABSENT, "no provenance")),
        (pypi("requests", "2.32"), evidence(Status.ABSENT, "no provenance")),
        (pypi("evil", "6.6"), evidence(Status.INVALID, "digest mismatch")),
        (npm("left-pad"), None),
    ]
    verdict = evaluate([policy], subjects)
    assert verdict.verdict == "fail"
    assert found(verdict.violations) == {
        ("critical-attested", "pkg:pypi/cryptography@42.0"),
        ("no-invalid", "pkg:pypi/evil@6.6"),
    }
    by_rule = {v.rule: v for v in verdict.violations}
    assert by_rule["no-invalid"].bom_ref == "ref-evil"
    assert by_rule["no-invalid"].policy == "trusted-publisher-critical"
    assert "digest mismatch" in by_rule["no-invalid"].message
    assert by_rule["critical-attested"].message.startswith(
        "Critical dependencies are attested by a Trusted Publisher (provenance absent"
    )


def test_critical_names_are_normalised(tmp_path: Path) -> None:
    policy = policy_from(
        tmp_path,
        "  - id: critical-attested\n"
        "    when: component.critical\n"
        "    require: component.provenance.status == 'verified'\n",
        extra="critical: [PyJWT, Zope.Interface]\n",
    )
    unnamed = Component(
        locator="/components/zope", bom_ref=None, name="zope_interface", version="7", purl=None
    )
    subjects = [
        (pypi("pyjwt", "2.9"), evidence(Status.ABSENT, "none")),
        (unnamed, evidence(Status.ABSENT, "none")),
        (pypi("jwt", "1.0"), evidence(Status.ABSENT, "none")),
    ]
    verdict = evaluate([policy], subjects)
    assert found(verdict.violations) == {
        ("critical-attested", "pkg:pypi/pyjwt@2.9"),
        ("critical-attested", "zope_interface@7"),
    }


@pytest.mark.parametrize(
    ("when", "require", "error"),
    [
        (
            None,
            "component.properties.nonexistent == 'x'",
            "require: no such member in mapping: 'nonexistent'",
        ),
        (None, "1/0 == 1", "require: modulus or divide by zero"),
        (None, "int(component.version) > 0", "require:"),
        (None, "component.provenance.files[5].status == 'verified'", "require:"),
        (
            "component.properties['nonexistent'] == 'x'",
            "true",
            "when: no such key (nonexistent)",
        ),
        (
            None,
            "component.critical ? true : 'no'",
            "require: expected a boolean result, got string",
        ),
        (
            None,
            "version_matches(component.properties['v'], '>=1')",
            "require: no such key (v)",
        ),
        (
            None,
            "version_matches(component.name, '>=1')",
            "require: version_matches: invalid PEP 440 version 'sigstore'",
        ),
    ],
)
def test_rule_erroring_at_evaluation_is_a_violation(
    tmp_path: Path, when: str | None, require: str, error: str
) -> None:
    when_line = f"    when: {json.dumps(when)}\n" if when else ""
    policy = policy_from(
        tmp_path, f"  - id: broken\n{when_line}    require: {json.dumps(require)}\n"
    )
    verdict = evaluate([policy], [(pypi("sigstore"), evidence(Status.VERIFIED))])
    assert verdict.verdict == "fail"
    [violation] = verdict.violations
    assert violation.message.startswith("rule could not be evaluated: ")
    assert error in violation.message
    assert "\n" not in violation.message
    assert "in activation" not in violation.message


def test_has_guard_under_and_short_circuits(tmp_path: Path) -> None:
    policy = policy_from(
        tmp_path,
        "  - id: guarded\n"
        "    require: '!has(component.properties.extra) || component.properties.extra == \"1\"'\n"
        "  - id: guarded-and\n"
        "    require: 'has(component.properties.extra) && component.properties.extra == \"1\"'\n"
        "    severity: info\n",
    )
    verdict = evaluate([policy], [(pypi("sigstore"), evidence(Status.VERIFIED))])
    # has() short-circuits: a false guard is a plain false, never an evaluation error.
    assert [(v.rule, v.outcome.value) for v in verdict.violations] == [("guarded-and", "fail")]


def test_warnings_do_not_fail_the_verdict(tmp_path: Path) -> None:
    policy = policy_from(
        tmp_path,
        "  - id: warn-absent\n"
        "    severity: warning\n"
        "    require: component.provenance.status != 'absent'\n"
        "  - id: note-absent\n"
        "    severity: info\n"
        "    require: component.provenance.status != 'absent'\n",
    )
    verdict = evaluate([policy], [(pypi("requests"), evidence(Status.ABSENT, "none"))])
    assert verdict.verdict == "pass" and verdict.passed
    assert [(v.rule, v.severity) for v in verdict.violations] == [
        ("warn-absent", Severity.WARNING),
        ("note-absent", Severity.INFO),
    ]


def test_message_template(tmp_path: Path) -> None:
    policy = policy_from(
        tmp_path,
        "  - id: verified\n"
        "    require: component.provenance.status == 'verified'\n"
        "    message: '{name} {version} ({purl}) is {status}: {reason} {{literal}}'\n",
    )
    verdict = evaluate([policy], [(pypi("Requests", "2.32"), evidence(Status.ABSENT, "none"))])
    [violation] = verdict.violations
    assert violation.message == "Requests 2.32 (pkg:pypi/requests@2.32) is absent: none {literal}"


def test_per_file_publishers_are_visible(tmp_path: Path) -> None:
    policy = load_policy(ROOT / "policies" / "baseline.yaml")
    mixed = ComponentEvidence(
        Status.VERIFIED,
        "",
        (
            FileEvidence("a.whl", "aa" * 32, Status.VERIFIED, identity=IDENTITY),
            FileEvidence(
                "a.tar.gz",
                "bb" * 32,
                Status.VERIFIED,
                identity=Identity(kind="GitHub", repository="someone/else"),
            ),
        ),
    )
    verdict = evaluate([policy], [(pypi("sigstore"), mixed)])
    assert found(verdict.violations) == {("baseline-one-publisher", "pkg:pypi/sigstore@1.0")}


def test_hand_built_policy_is_compiled_and_checked() -> None:
    broken = Policy(name="inline", rules=(Rule(id="r", require="component.name ==="),))
    with pytest.raises(InputError, match=r"^inline: rules\[0\]\.require: syntax error"):
        evaluate([broken], [])


# --- the verdict ---------------------------------------------------------------------


def test_counts_every_status_once_per_locator(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, MINIMAL))
    sigstore = pypi("sigstore")
    verdict = evaluate(
        [policy],
        [
            (sigstore, evidence(Status.VERIFIED)),
            (sigstore, evidence(Status.VERIFIED)),  # same locator: once
            (pypi("sigstore", locator="/components/again"), evidence(Status.VERIFIED)),
            (npm("left-pad"), None),
        ],
    )
    assert verdict.counts == {
        "verified": 2,
        "partial": 0,
        "absent": 0,
        "invalid": 0,
        "unsupported": 0,
        "unknown": 0,
        "not-applicable": 1,
    }


def test_verdict_document_validates_and_is_deterministic(tmp_path: Path) -> None:
    policies = load_policies(
        [
            write(tmp_path, MINIMAL, "a.yaml"),
            write(
                tmp_path,
                HEAD.replace("name: test", "name: second")
                + "rules:\n  - id: warn-absent\n    severity: warning\n"
                "    require: component.provenance.status != 'absent'\n",
                "b.yaml",
            ),
        ]
    )
    subjects = [
        (pypi("cryptography"), evidence(Status.ABSENT, "none")),
        (pypi("evil"), evidence(Status.INVALID, "bad signature")),
        (pypi("zeta"), evidence(Status.INVALID, "bad signature")),
        (npm("left-pad"), None),
    ]
    first = evaluate(policies, subjects).to_dict()
    again = evaluate(policies, list(reversed(subjects))).to_dict()
    validate_verdict(first)
    assert json.dumps(first) == json.dumps(again)
    assert list(first) == [
        "verdict",
        "counts",
        "violations",
        "waived",
        "waivers",
        "results",
        "policies",
        "tool",
    ]
    # Every rule's outcome for every component, sorted.
    assert len(first["results"]) == 3 * 4
    assert first["results"] == sorted(
        first["results"], key=lambda r: (r["rule"], r["component"], r["outcome"])
    )
    assert {
        "rule": "critical-attested",
        "component": "pkg:npm/left-pad@2.0",
        "outcome": "not-applicable",
    } in first["results"]
    assert first["verdict"] == "fail"
    assert first["tool"]["name"] == "bomguard" and first["tool"]["version"]
    assert [p["name"] for p in first["policies"]] == ["trusted-publisher-critical", "second"]
    assert (
        first["policies"][0]["sha256"]
        == hashlib.sha256((tmp_path / "a.yaml").read_bytes()).hexdigest()
    )
    severities = [v["severity"] for v in first["violations"]]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert {(v["rule"], v["component"]) for v in first["violations"]} == {
        ("critical-attested", "pkg:pypi/cryptography@1.0"),
        ("no-invalid", "pkg:pypi/evil@1.0"),
        ("no-invalid", "pkg:pypi/zeta@1.0"),
        ("warn-absent", "pkg:pypi/cryptography@1.0"),
    }
    # The CLI's additions are part of the format.
    validate_verdict({**first, "sbom": "bom.json", "evaluated_at": "2026-01-01T00:00:00Z"})


def test_validate_verdict_rejects_bad_data() -> None:
    data = evaluate([default_policy()], []).to_dict()
    data["violations"] = [{"rule": "x"}]
    with pytest.raises(InputError, match=r"^verdict: violations\[0\]"):
        validate_verdict(data)


@pytest.mark.parametrize("status", list(Status))
def test_default_policy_fails_only_on_invalid(status: Status) -> None:
    if status is Status.NOT_APPLICABLE:
        subject: tuple[Component, ComponentEvidence | None] = (npm("left-pad"), None)
    else:
        subject = (pypi("pkg"), evidence(status, "reason"))
    verdict = evaluate([default_policy()], [subject])
    assert verdict.verdict == ("fail" if status is Status.INVALID else "pass")
    assert verdict.policies[0].path == "builtin:default-policy.yaml"
    validate_verdict(verdict.to_dict())


@pytest.mark.parametrize("name", ["policy.schema.json", "verdict.schema.json"])
def test_schema_copies_are_identical(name: str) -> None:
    packaged = ROOT / "src" / "bomguard" / "data" / name
    assert (ROOT / "schemas" / name).read_bytes() == packaged.read_bytes()
