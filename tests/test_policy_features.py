"""Policy features: metadata and references, sbom-scope rules, waivers, CEL functions,
the static check, and the full verdict document."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from test_policy import HEAD, evidence, npm, pypi, write

from bomguard.errors import InputError
from bomguard.models import Status
from bomguard.policy import (
    Outcome,
    PolicyProblems,
    check_policies,
    default_policy,
    evaluate,
    load_policies,
    load_policy,
    validate_verdict,
)

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def rules_policy(tmp_path: Path, body: str, name: str = "policy.yaml", head: str = HEAD) -> Path:
    return write(tmp_path, head + body, name)


def outcomes(verdict: object) -> dict[tuple[str, str], str]:
    return {(r.rule, r.component): r.outcome.value for r in verdict.results}  # type: ignore[attr-defined]


# --- metadata and references ---------------------------------------------------------

REFERENCED = """\
apiVersion: bomguard/v1
kind: Policy
metadata:
  name: evidence
  description: Provenance evidence
  owner: security@example.com
  references:
    - id: SSDF PS.3.2
      title: Collect, safeguard, maintain and share provenance data
      url: https://csrc.nist.gov/pubs/sp/800/218/final
    - id: CISA III.3
      title: Attestation form, provenance
rules:
  - id: verified
    description: Components are verified
    references: [SSDF PS.3.2, CISA III.3]
    require: component.provenance.status == "verified"
"""


def test_metadata_and_references_are_carried_into_the_verdict(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, REFERENCED))
    assert policy.owner == "security@example.com"
    assert [r.id for r in policy.references] == ["SSDF PS.3.2", "CISA III.3"]
    assert policy.rules[0].references == ("SSDF PS.3.2", "CISA III.3")
    data = evaluate([policy], [(pypi("sigstore"), evidence(Status.VERIFIED))], now=NOW).to_dict()
    validate_verdict(data)
    [ref] = data["policies"]
    assert ref["owner"] == "security@example.com"
    assert ref["references"][0] == {
        "id": "SSDF PS.3.2",
        "title": "Collect, safeguard, maintain and share provenance data",
        "url": "https://csrc.nist.gov/pubs/sp/800/218/final",
    }
    assert ref["references"][1]["url"] == ""
    assert ref["rules"] == [
        {
            "id": "verified",
            "scope": "component",
            "severity": "error",
            "description": "Components are verified",
            "references": ["SSDF PS.3.2", "CISA III.3"],
        }
    ]


def test_a_rule_citing_an_undeclared_reference_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, REFERENCED.replace("[SSDF PS.3.2, CISA", "[SSDF PS.3.1, CISA"))
    with pytest.raises(InputError) as info:
        load_policy(path)
    assert str(info.value) == (
        f"{path}: rules[0].references[0]: unknown reference 'SSDF PS.3.1' "
        "(did you mean 'SSDF PS.3.2'?): declare it in metadata.references"
    )


# --- sbom scope ----------------------------------------------------------------------

COVERAGE = """\
critical: [cryptography, sigstore]
rules:
  - id: coverage
    scope: sbom
    require: sbom.coverage.overall >= 0.5
  - id: critical-coverage
    scope: sbom
    require: sbom.coverage.critical >= 1.0
    message: "critical: {critical_coverage}; {verified} of {pypi} PyPI, {components} in all"
  - id: counted
    scope: sbom
    require: >-
      sbom.components == 4 && sbom.pypi == 3 && sbom.critical == 2
      && sbom.counts.verified == 2 && sbom.counts["not-applicable"] == 1
"""


def test_sbom_scope_rules_see_aggregates(tmp_path: Path) -> None:
    policy = load_policy(rules_policy(tmp_path, COVERAGE))
    subjects = [
        (pypi("sigstore"), evidence(Status.VERIFIED)),
        (pypi("cryptography"), evidence(Status.ABSENT, "none")),
        (pypi("rich"), evidence(Status.VERIFIED)),
        (npm("left-pad"), None),
    ]
    verdict = evaluate([policy], subjects, now=NOW)
    # 2 of 3 PyPI components verified; 1 of 2 critical ones.
    assert outcomes(verdict) == {
        ("coverage", "(sbom)"): "pass",
        ("critical-coverage", "(sbom)"): "fail",
        ("counted", "(sbom)"): "pass",
    }
    [violation] = verdict.violations
    assert violation.component == "(sbom)" and violation.bom_ref is None
    assert violation.message == "critical: 50.0%; 2 of 3 PyPI, 4 in all"


def test_coverage_of_nothing_is_complete(tmp_path: Path) -> None:
    # No PyPI component at all: "every PyPI component is verified" holds (1.0).
    policy = load_policy(rules_policy(tmp_path, COVERAGE))
    verdict = evaluate([policy], [(npm("left-pad"), None)], now=NOW)
    results = outcomes(verdict)
    assert results[("coverage", "(sbom)")] == "pass"
    assert results[("critical-coverage", "(sbom)")] == "pass"


def test_sbom_scope_rules_run_once_even_without_components(tmp_path: Path) -> None:
    policy = load_policy(
        rules_policy(
            tmp_path,
            "rules:\n  - id: not-empty\n    scope: sbom\n    require: sbom.components > 0\n",
        )
    )
    verdict = evaluate([policy], [], now=NOW)
    assert verdict.verdict == "fail"
    assert [(v.rule, v.component) for v in verdict.violations] == [("not-empty", "(sbom)")]


def test_component_rules_see_the_sbom_too(tmp_path: Path) -> None:
    policy = load_policy(
        rules_policy(
            tmp_path,
            "rules:\n  - id: verified-unless-mostly\n"
            "    require: component.provenance.status == 'verified' "
            "|| sbom.coverage.overall >= 0.5\n",
        )
    )
    subjects = [
        (pypi("a"), evidence(Status.VERIFIED)),
        (pypi("b"), evidence(Status.ABSENT, "none")),
    ]
    assert evaluate([policy], subjects, now=NOW).verdict == "pass"
    subjects.append((pypi("c"), evidence(Status.ABSENT, "none")))
    assert evaluate([policy], subjects, now=NOW).verdict == "fail"


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        (
            "    scope: sbom\n    require: component.pypi\n",
            "rules[0].require: undeclared reference to 'component': "
            "an sbom-scope rule sees sbom and now",
        ),
        (
            "    scope: sbom\n    require: sbom.coverage.overall >= 1\n",
            "rules[0].require: cannot apply '>=' to double and int: cel-python does not mix "
            "numeric types; write a double literal (1.0, not 1)",
        ),
        (
            "    scope: sbom\n    require: 'true'\n    message: '{name}'\n",
            "rules[0].message: unknown placeholder {name} (allowed: {components}, {pypi}, "
            "{verified}, {coverage}, {critical_coverage})",
        ),
    ],
)
def test_sbom_scope_mistakes_are_caught_at_load(tmp_path: Path, rule: str, error: str) -> None:
    path = rules_policy(tmp_path, "rules:\n  - id: r\n" + rule)
    with pytest.raises(InputError) as info:
        load_policy(path)
    assert str(info.value).startswith(f"{path}: {error}")


# --- waivers -------------------------------------------------------------------------

WAIVED = """\
critical: [cryptography, sigstore]
rules:
  - id: critical-attested
    when: component.critical
    require: component.provenance.status == "verified"
  - id: coverage
    scope: sbom
    require: sbom.coverage.overall >= 1.0
waivers:
  - rule: critical-attested
    purl: pkg:pypi/cryptography@42.*
    reason: upstream publishes without attestations until 43.0 (TICKET-1)
    approver: alice@example.com
    expires: 2026-03-01
  - rule: critical-attested
    name: Internal_*
    reason: internal packages are built by our own CI
    approver: bob@example.com
    expires: 2026-12-31
  - rule: coverage
    reason: migration to Trusted Publishing in progress
    approver: carol@example.com
    expires: 2026-02-28
"""


def waived_subjects() -> list:
    internal = pypi("internal-tools", "1.0")
    return [
        (pypi("cryptography", "42.0.5"), evidence(Status.ABSENT, "none")),
        (pypi("sigstore"), evidence(Status.ABSENT, "none")),
        (internal, evidence(Status.ABSENT, "none")),
    ]


def test_waivers_record_instead_of_failing_and_expired_ones_are_ignored(tmp_path: Path) -> None:
    text = WAIVED.replace(
        "critical: [cryptography, sigstore]", "critical: [cryptography, sigstore, internal-tools]"
    )
    policy = load_policy(rules_policy(tmp_path, text))
    verdict = evaluate([policy], waived_subjects(), now=NOW)
    assert outcomes(verdict) == {
        ("critical-attested", "pkg:pypi/cryptography@42.0.5"): "waived",  # last valid day
        ("critical-attested", "pkg:pypi/internal-tools@1.0"): "waived",  # name glob
        ("critical-attested", "pkg:pypi/sigstore@1.0"): "fail",
        ("coverage", "(sbom)"): "fail",  # its waiver expired the day before
    }
    assert [(v.rule, v.component) for v in verdict.violations] == [
        ("coverage", "(sbom)"),
        ("critical-attested", "pkg:pypi/sigstore@1.0"),
    ]
    assert [(w.violation.component, w.waiver.approver) for w in verdict.waived] == [
        ("pkg:pypi/cryptography@42.0.5", "alice@example.com"),
        ("pkg:pypi/internal-tools@1.0", "bob@example.com"),
    ]
    assert [(w.waiver.rule, w.state, w.matched) for w in verdict.waivers] == [
        ("critical-attested", "applied", 1),
        ("critical-attested", "applied", 1),
        ("coverage", "expired", 1),
    ]
    assert [w.waiver.index for w in verdict.expired_waivers] == [2]
    data = verdict.to_dict()
    validate_verdict(data)
    assert data["waived"][0]["waiver"] == {
        "policy": "test",
        "index": 0,
        "rule": "critical-attested",
        "purl": "pkg:pypi/cryptography@42.*",
        "name": None,
        "reason": "upstream publishes without attestations until 43.0 (TICKET-1)",
        "approver": "alice@example.com",
        "expires": "2026-03-01",
    }
    assert data["waivers"][2]["state"] == "expired"


def test_a_waiver_expires_at_the_end_of_its_day_utc(tmp_path: Path) -> None:
    policy = load_policy(rules_policy(tmp_path, WAIVED))
    subject = [(pypi("cryptography", "42.0.5"), evidence(Status.ABSENT, "none"))]
    last_moment = dt.datetime(2026, 3, 1, 23, 59, 59, tzinfo=dt.UTC)
    assert evaluate([policy], subject, now=last_moment).waived
    next_day = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    verdict = evaluate([policy], subject, now=next_day)
    assert not verdict.waived
    assert ("critical-attested", "pkg:pypi/cryptography@42.0.5") in {
        (v.rule, v.component) for v in verdict.violations
    }
    assert verdict.waivers[0].state == "expired" and verdict.waivers[0].matched == 1


def test_an_unused_waiver_is_reported(tmp_path: Path) -> None:
    policy = load_policy(rules_policy(tmp_path, WAIVED))
    verdict = evaluate([policy], [(pypi("sigstore"), evidence(Status.VERIFIED))], now=NOW)
    assert [w.state for w in verdict.waivers] == ["unused", "unused", "expired"]


def test_a_waiver_does_not_cover_an_evaluation_error(tmp_path: Path) -> None:
    policy = load_policy(
        rules_policy(
            tmp_path,
            "rules:\n  - id: broken\n    require: component.properties['x'] == 'y'\n"
            "waivers:\n  - {rule: broken, name: '*', reason: r, approver: a,"
            " expires: 2099-01-01}\n",
        )
    )
    verdict = evaluate([policy], [(pypi("sigstore"), evidence(Status.VERIFIED))], now=NOW)
    assert [v.outcome for v in verdict.violations] == [Outcome.ERROR]
    assert verdict.verdict == "fail"


def test_waivers_may_live_in_another_policy_file(tmp_path: Path) -> None:
    rules = rules_policy(
        tmp_path,
        "rules:\n  - id: verified\n    require: component.provenance.status == 'verified'\n",
    )
    exceptions = write(
        tmp_path,
        HEAD.replace("name: test", "name: exceptions") + "rules:\n  - id: exceptions-no-invalid\n"
        "    require: component.provenance.status != 'invalid'\n"
        "waivers:\n  - {rule: verified, name: requests, reason: r, approver: a, "
        "expires: 2099-01-01}\n",
        "exceptions.yaml",
    )
    policies = load_policies([rules, exceptions])
    verdict = evaluate(policies, [(pypi("Requests"), evidence(Status.ABSENT, "none"))], now=NOW)
    assert verdict.verdict == "pass"
    assert verdict.waived[0].waiver_policy == "exceptions"
    # Alone, the exceptions file waives a rule nobody defines: fail closed.
    with pytest.raises(InputError, match=r"waivers\[0\]\.rule: no policy evaluated with this"):
        load_policies([exceptions])


@pytest.mark.parametrize(
    ("waiver", "error"),
    [
        (
            "{rule: verified, name: x, reason: r, approver: a, expires: 2026-02-30}",
            "waivers[0].expires: invalid date '2026-02-30': write YYYY-MM-DD",
        ),
        (
            "{rule: verified, name: x, reason: r, approver: a, expires: 'next week'}",
            "waivers[0].expires: invalid value 'next week'",
        ),
        (
            "{rule: verified, name: x, purl: y, reason: r, approver: a, expires: 2026-01-01}",
            "waivers[0]: give purl or name, not both",
        ),
        (
            "{rule: verified, name: x, reason: r, expires: 2026-01-01}",
            "waivers[0]: missing required key 'approver'",
        ),
        (
            "{rule: verified, reason: r, approver: a, expires: 2026-01-01}",
            "waivers[0]: rule 'verified' judges components: name the waived ones with purl or name",
        ),
        (
            "{rule: verifed, name: x, reason: r, approver: a, expires: 2026-01-01}",
            "waivers[0].rule: no policy evaluated with this one has a rule 'verifed' "
            "(did you mean 'verified'?)",
        ),
    ],
)
def test_malformed_waivers(tmp_path: Path, waiver: str, error: str) -> None:
    path = rules_policy(
        tmp_path,
        "rules:\n  - id: verified\n    require: component.provenance.status == 'verified'\n"
        f"waivers:\n  - {waiver}\n",
    )
    with pytest.raises(InputError) as info:
        load_policies([path])
    assert str(info.value).startswith(f"{path}: {error}")


# --- CEL functions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "version", "expected"),
    [
        ('version_matches(component.version, ">=2.0,<3")', "2.31.0", "pass"),
        ('version_matches(component.version, ">=2.0,<3")', "3.0", "fail"),
        ('version_matches(component.version, ">=2.0")', "2.1rc1", "pass"),  # pre-releases in
        ('version_matches(component.version, "==1.*")', "1.0.post1", "pass"),
        ('version_compare(component.version, "1.10") == 1', "1.9", "fail"),
        ('version_compare(component.version, "1.10") == -1', "1.9", "pass"),
        ('version_compare(component.version, "1.0") == 0', "1.0.0", "pass"),
        ("version_valid(component.version)", "not-a-version", "fail"),
        (
            '!version_valid(component.version) || version_compare(component.version, "2") > 0',
            "not-a-version",
            "pass",
        ),
        ('glob(component.normalized_name, "django-*")', "1.0", "pass"),
        ('glob(component.purl, "pkg:pypi/django-*@1.?")', "1.0", "pass"),
        ('glob(component.name, "Django-[A-Z]*")', "1.0", "pass"),
        ('glob(component.name, "django-*")', "1.0", "fail"),  # case-sensitive
    ],
)
def test_functions(tmp_path: Path, expression: str, version: str, expected: str) -> None:
    policy = load_policy(
        rules_policy(tmp_path, f"rules:\n  - id: f\n    require: {json.dumps(expression)}\n")
    )
    component = pypi("Django-Rest", version)
    verdict = evaluate([policy], [(component, evidence(Status.VERIFIED))], now=NOW)
    [result] = verdict.results
    assert result.outcome.value == expected, verdict.violations


def test_a_bad_version_at_evaluation_is_an_error_not_a_pass(tmp_path: Path) -> None:
    policy = load_policy(
        rules_policy(
            tmp_path,
            "rules:\n  - id: f\n    require: '!version_matches(component.version, \"<1\")'\n",
        )
    )
    verdict = evaluate([policy], [(pypi("x", "latest"), evidence(Status.VERIFIED))], now=NOW)
    [violation] = verdict.violations
    assert violation.outcome is Outcome.ERROR
    assert violation.message == (
        "rule could not be evaluated: require: version_matches: invalid PEP 440 version 'latest'"
    )


def test_now_is_bound_and_injectable(tmp_path: Path) -> None:
    policy = load_policy(
        rules_policy(
            tmp_path,
            "rules:\n  - id: before-deadline\n    scope: sbom\n"
            "    require: now < timestamp('2026-06-01T00:00:00Z')\n",
        )
    )
    assert evaluate([policy], [], now=NOW).verdict == "pass"
    late = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    assert evaluate([policy], [], now=late).verdict == "fail"
    naive = dt.datetime(2026, 5, 31, 23, 0)  # naive means UTC
    assert evaluate([policy], [], now=naive).verdict == "pass"


# --- the static check ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        (
            "component.provenance.publisher.repsitory == 'x'",
            "no field 'repsitory' in component.provenance.publisher (did you mean 'repository'?)",
        ),
        (
            "component.provenance.files.all(f, f.publisher.workflw == 'release.yml')",
            "no field 'workflw' in component.provenance.files[].publisher "
            "(did you mean 'workflow'?)",
        ),
        ("sbom.counts.not_applicable == 0", "no field 'not_applicable' in sbom.counts"),
        ("has(component.provenence)", "no field 'provenence' in component"),
        (
            "verison_matches(component.version, '>=1')",
            "undeclared function 'verison_matches' (did you mean 'version_matches'?)",
        ),
        ("glob(component.name)", "glob() takes 2 argument(s), got 1"),
        ("component.name.glob('x')", "glob is a function, not a method"),
        (
            "version_matches(component.critical, '>=1')",
            "version_matches() takes version as string, got bool",
        ),
        (
            "version_matches(component.version, '>=1.0,<<2')",
            "version_matches: invalid PEP 440 specifier '>=1.0,<<2'",
        ),
        (
            "version_compare(component.version, 'x.y') > 0",
            "version_compare: invalid PEP 440 version 'x.y'",
        ),
        ("component.name.matches('[a-')", "invalid regular expression '[a-'"),
        ("component.provenance.verified_files > 0.5", "cannot apply '>' to int and double"),
        ("component.name == 1", "cannot apply '==' to string and int"),
        ("component.critical && component.name", "each side of '&&' must be a bool, got string"),
        ("component.licenses", "must be a boolean expression, got list(string)"),
        ("timestamp('yesterday') < now", "invalid timestamp 'yesterday'"),
    ],
)
def test_misspellings_and_type_errors_are_caught_before_evaluation(
    tmp_path: Path, expression: str, error: str
) -> None:
    path = rules_policy(tmp_path, f"rules:\n  - id: r\n    require: {json.dumps(expression)}\n")
    with pytest.raises(InputError) as info:
        load_policy(path)
    assert str(info.value).startswith(f"{path}: rules[0].require: {error}"), str(info.value)


@pytest.mark.parametrize(
    "expression",
    [
        "component.provenance.status in ['verified', 'partial']",
        "component.provenance.files.exists(f, f.filename.endsWith('.whl'))",
        "component.provenance.files.map(f, f.publisher.repository).all(r, r != '')",
        "component.properties.exists(k, k.startsWith('cdx:'))",
        "'cdx:pip:package:hash' in component.properties",
        "component.licenses.exists_one(l, l == 'MIT') || size(component.licenses) == 0",
        "component.provenance.verified_files * 2 >= component.provenance.total_files",
        "double(component.provenance.verified_files) >= 0.5",
        "now - timestamp('2026-01-01T00:00:00Z') < duration('720h')",
        "now.getFullYear() >= 2026",
        "type(component.name) == string",
        "dyn(component).anything == 1 || true",
        "component.critical ? component.provenance.status == 'verified' : true",
    ],
)
def test_valid_expressions_compile(tmp_path: Path, expression: str) -> None:
    load_policy(
        rules_policy(tmp_path, f"rules:\n  - id: r\n    require: {json.dumps(expression)}\n")
    )


def test_every_problem_is_reported_at_once_with_its_position(tmp_path: Path) -> None:
    text = (
        HEAD + "rules:\n"  # line 4
        "  - id: one\n"
        "    require: component.provenance.publisher.repsitory == 'x'\n"  # line 6
        "  - id: two\n"
        "    when: >-\n"
        "      component.critical &&\n"
        "      component.provenanse.status == 'verified'\n"  # line 10
        "    require: 'true'\n"
        "  - id: three\n"
        "    requires: 'true'\n"  # line 13
        "waivers:\n"
        "  - {rule: one, name: x, reason: r, approver: a, expires: 2026-02-30}\n"  # line 15
    )
    path = write(tmp_path, text)
    with pytest.raises(PolicyProblems) as info:
        load_policy(path)
    assert len(info.value.problems) == 5
    _, problems = check_policies([path])
    assert [p.render() for p in problems] == [
        f"{path}:one:6:45: require: no field 'repsitory' in component.provenance.publisher "
        "(did you mean 'repository'?) (fields: kind, repository, workflow, environment, issuer, "
        "ref, commit, trigger, runner_environment, repository_uri, repository_id, owner_id, san)",
        f"{path}:two:10:17: when: no field 'provenanse' in component (did you mean "
        "'provenance'?) (fields: name, normalized_name, version, purl, bom_ref, type, group, "
        "scope, licenses, properties, pypi, critical, rank, graph, provenance, drift, change)",
        f"{path}:three:12:5: missing required key 'require'",
        f"{path}:three:13:5: unknown key 'requires' (did you mean 'require'?)",
        f"{path}:waivers[0].expires:15:59: invalid date '2026-02-30': write YYYY-MM-DD",
    ]


def test_dates_stay_strings_anywhere_in_a_policy(tmp_path: Path) -> None:
    # YAML would read an unquoted 2026-01-01 as a date; a policy keeps it as text.
    path = rules_policy(
        tmp_path, "rules:\n  - id: r\n    description: 2026-01-01\n    require: 'true'\n"
    )
    assert load_policy(path).rules[0].description == "2026-01-01"


# --- the verdict document ------------------------------------------------------------


def test_verdict_is_byte_identical_whatever_the_input_order(tmp_path: Path) -> None:
    policies = load_policies(
        [rules_policy(tmp_path, WAIVED), write(tmp_path, REFERENCED, "evidence.yaml")]
    )
    subjects = [
        *waived_subjects(),
        (npm("left-pad"), None),
        (pypi("rich"), evidence(Status.VERIFIED)),
    ]
    first = json.dumps(evaluate(policies, subjects, now=NOW).to_dict(), sort_keys=True)
    again = json.dumps(
        evaluate(policies, list(reversed(subjects)), now=NOW).to_dict(), sort_keys=True
    )
    assert first == again
    data = json.loads(first)
    validate_verdict(data)
    assert {r["outcome"] for r in data["results"]} == {"pass", "fail", "not-applicable", "waived"}
    # 2 component rules x 5 components + 1 sbom rule.
    assert len(data["results"]) == 2 * 5 + 1


def test_results_list_every_outcome_including_errors(tmp_path: Path) -> None:
    policy = load_policy(
        rules_policy(
            tmp_path,
            "rules:\n  - id: a\n    when: component.pypi\n"
            "    require: int(component.version) >= 1\n",
        )
    )
    verdict = evaluate(
        [policy],
        [
            (pypi("x", "2"), None),
            (pypi("y", "0"), None),
            (pypi("z", "1.5"), None),
            (npm("q"), None),
        ],
        now=NOW,
    )
    assert outcomes(verdict) == {
        ("a", "pkg:pypi/x@2"): "pass",
        ("a", "pkg:pypi/y@0"): "fail",
        ("a", "pkg:pypi/z@1.5"): "error",
        ("a", "pkg:npm/q@2.0"): "not-applicable",
    }
    validate_verdict(verdict.to_dict())


def test_default_policy_verdict_still_validates() -> None:
    data = evaluate([default_policy()], [], now=NOW).to_dict()
    validate_verdict(data)
    assert data["results"] == [] and data["waivers"] == [] and data["waived"] == []


def test_critical_by_names_or_download_rank(tmp_path: Path) -> None:
    from bomguard.criticality import load_snapshot

    both = load_policy(write(tmp_path, HEAD + CRITICAL_RULE.format("{names: [My_Lib], top: 2}")))
    assert both.critical == ("my-lib",) and both.critical_top == 2
    assert both.is_critical("my-lib", None)
    assert both.is_critical("packaging", 2) and not both.is_critical("urllib3", 3)
    plain = load_policy(write(tmp_path, HEAD + CRITICAL_RULE.format("[my-lib]"), "plain.yaml"))
    assert plain.critical_top is None and not plain.is_critical("boto3", 1)
    # Judged through evaluate(): ranks come from the shipped snapshot (boto3 is first).
    snapshot = load_snapshot()
    assert snapshot.rank("boto3") == 1 and snapshot.location == "builtin"
    verdict = evaluate(
        [both],
        [(pypi("boto3"), evidence(Status.ABSENT)), (pypi("zzz-unranked"), evidence(Status.ABSENT))],
        ranks=snapshot,
    )
    assert {v.component for v in verdict.violations} == {"pkg:pypi/boto3@1.0"}


@pytest.mark.parametrize(
    ("critical", "message"),
    [
        ("{top: 0}", "critical.top:4:17: 0 is less than the minimum of 1"),
        ("{nmes: [a]}", "critical:4:12: unknown key 'nmes' (did you mean 'names'?)"),
        ("{top: many}", "critical.top:4:17: expected an integer, got a string"),
    ],
)
def test_a_bad_critical_mapping_is_named(tmp_path: Path, critical: str, message: str) -> None:
    path = write(tmp_path, HEAD + CRITICAL_RULE.format(critical))
    _, problems = check_policies([path])
    assert [p.render() for p in problems] == [f"{path}:{message}"]


CRITICAL_RULE = """critical: {}
rules:
  - id: r
    when: component.critical
    require: component.provenance.status == "verified"
"""
