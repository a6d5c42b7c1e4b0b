"""The CEL engines: cel-python and cel-expr-python judge every rule the same way."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from test_policy import HEAD, write

from bomguard.errors import InputError
from bomguard.models import Component, ComponentEvidence, FileEvidence, Identity, PypiRef, Status
from bomguard.policy import cel_engines, evaluate, load_policies, load_policy, run_policy_tests
from bomguard.policy.cel_engines import cpp_available, get_engine

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(
    p for p in (ROOT / "policies").glob("*.yaml") if not p.name.endswith(".tests.yaml")
)
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)

needs_cpp = pytest.mark.skipif(not cpp_available(), reason="cel-expr-python is not installed")


def test_unknown_engine_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown CEL engine 'java'"):
        get_engine("java")


def test_missing_cpp_engine_is_an_input_error_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cel_engines, "cpp_available", lambda: False)
    with pytest.raises(InputError) as info:
        get_engine("cpp")
    assert info.value.hint == "pip install cel-expr-python, or use --cel-engine python"
    assert get_engine("auto").name == "python"


def test_python_is_the_default() -> None:
    assert get_engine(None).name == "python"


FUNCTIONS_POLICY = """\
rules:
  - id: fn-version-range
    when: version_valid(component.version)
    require: version_matches(component.version, ">=1.0,<3")
  - id: fn-version-order
    require: version_compare(component.version, "2.0") < 1
  - id: fn-glob
    require: '!glob(component.normalized_name, "evil-*")'
  - id: fn-files
    when: component.provenance.total_files > 0
    require: >-
      component.provenance.files.exists(f, f.filename.endsWith(".whl"))
      && component.provenance.files.all(f, f.sha256 != "")
  - id: fn-properties
    require: >-
      !("lane" in component.properties) || component.properties["lane"] == "fast"
  - id: fn-missing-property
    severity: info
    require: component.properties["lane"] == "fast"
  - id: fn-time
    require: now < timestamp("2026-06-01T00:00:00Z") || component.critical
  - id: fn-sbom
    scope: sbom
    require: >-
      sbom.coverage.overall >= 0.5 && sbom.counts["not-applicable"] >= 0
      && double(sbom.counts.verified) / double(sbom.components) >= 0.1
"""


def grid() -> list[tuple[Component, ComponentEvidence | None]]:
    """Components across statuses, versions, names, files and properties."""
    subjects: list[tuple[Component, ComponentEvidence | None]] = []
    versions = ["0.9", "2.5rc1", "3.0", "not-a-version"]
    statuses = [s for s in Status if s is not Status.NOT_APPLICABLE]
    names = ["evil-pkg", "sigstore"]
    for index, (status, version, name) in enumerate(itertools.product(statuses, versions, names)):
        identity = Identity(kind="GitHub", repository=f"o/{name}", workflow="release.yml")
        files = (
            FileEvidence(
                f"{name}-{version}-py3-none-any.whl",
                "aa" * 32,
                status,
                identity=identity if status is Status.VERIFIED else None,
            ),
            FileEvidence(f"{name}-{version}.tar.gz", "" if index % 4 == 0 else "bb" * 32, status),
        )[: index % 3]
        properties = {} if index % 2 else {"lane": "fast" if index % 5 else "slow"}
        component = Component(
            locator=f"/components/{index}",
            bom_ref=f"ref-{index}",
            name=name,
            version=version,
            purl=f"pkg:pypi/{name}@{version}",
            properties=properties,
            pypi=PypiRef(name, version, name, version),
        )
        subjects.append((component, ComponentEvidence(status, "why", files)))
    npm = Component(
        locator="/npm", bom_ref=None, name="left-pad", version="1", purl="pkg:npm/left-pad@1"
    )
    subjects.append((npm, None))
    return subjects


@needs_cpp
@pytest.mark.parametrize("policy", SHIPPED, ids=lambda p: p.name)
def test_shipped_policy_tests_pass_on_cpp(policy: Path) -> None:
    report = run_policy_tests(policy, engine="cpp")
    assert report.passed, [str(f) for f in report.failures]


@needs_cpp
@pytest.mark.parametrize("moment", [NOW, dt.datetime(2026, 7, 1, tzinfo=dt.UTC)])
def test_both_engines_give_the_same_outcomes(tmp_path: Path, moment: dt.datetime) -> None:
    functions = load_policy(write(tmp_path, HEAD + FUNCTIONS_POLICY))
    policies = (*load_policies(SHIPPED), functions)
    subjects = grid()
    python = evaluate(policies, subjects, now=moment, engine="python")
    cpp = evaluate(policies, subjects, now=moment, engine="cpp")
    assert [r.to_dict() for r in python.results] == [r.to_dict() for r in cpp.results]
    assert python.verdict == cpp.verdict
    outcomes = {r.outcome.value for r in python.results}
    assert outcomes == {"pass", "fail", "not-applicable", "error"}

    # Failures are described from the facts, so their messages agree too; only the text of
    # an evaluation error is the engine's own.
    def failures(verdict: object) -> list[str]:
        return [json.dumps(v.to_dict()) for v in verdict.violations if v.outcome.value == "fail"]  # type: ignore[attr-defined]

    assert failures(python) == failures(cpp)


@needs_cpp
def test_cpp_errors_fail_closed(tmp_path: Path) -> None:
    policy = load_policy(
        write(
            tmp_path,
            HEAD + "rules:\n  - id: v\n    require: version_matches(component.version, '>=1')\n",
        )
    )
    component = Component(
        locator="/c",
        bom_ref=None,
        name="x",
        version="latest",
        purl="pkg:pypi/x@latest",
        pypi=PypiRef("x", "latest", "x", "latest"),
    )
    verdict = evaluate(
        [policy], [(component, ComponentEvidence(Status.VERIFIED))], now=NOW, engine="cpp"
    )
    [violation] = verdict.violations
    assert violation.outcome.value == "error"
    assert violation.message.startswith("rule could not be evaluated: require: ")
    assert "version_matches: invalid PEP 440 version 'latest'" in violation.message


GRAPH_POLICY = """\
critical: {names: [tuf], top: 20}
rules:
  - id: g-direct
    when: component.graph.direct == true
    require: component.provenance.status == "verified"
  - id: g-deep
    when: component.graph.depth != null && component.graph.depth >= 2
    require: component.graph.dependents < 8
  - id: g-unguarded
    severity: info
    require: component.graph.depth <= 3
  - id: g-depends-on
    require: '!component.depends_on("cffi") || component.provenance.status != "absent"'
  - id: g-purl
    require: '!component.depends_on("pkg:pypi/pycparser") || component.graph.depth == 1'
  - id: g-dependency-of
    require: >-
      !component.is_dependency_of("FastAPI")
      || component.provenance.status in ["verified", "unknown"]
  - id: g-rank
    require: component.rank == null || component.rank > 50 || component.critical
  - id: g-critical
    when: component.critical
    require: component.provenance.status == "verified"
  - id: g-sbom
    scope: sbom
    require: >-
      sbom.graph.coverage.direct >= 0.5
      && sbom.graph.unattested.all(u, u.dependents < 10 || u.direct)
"""


def graph_subjects() -> tuple[list[tuple[Component, ComponentEvidence | None]], Any]:
    """cyclonedx-py's environment SBOM (a real graph with a cycle), statuses across it."""
    from bomguard.sbom import read_sbom
    from bomguard.sbom.graph import build_graph

    document = read_sbom(ROOT / "tests/data/sboms-generated/cdxpy-env_app_cdx1.6.json")
    components = document.components()
    statuses = [Status.VERIFIED, Status.ABSENT, Status.UNKNOWN, Status.INVALID]
    subjects: list[tuple[Component, ComponentEvidence | None]] = [
        (c, ComponentEvidence(statuses[i % len(statuses)], "why")) for i, c in enumerate(components)
    ]
    return subjects, build_graph(components, document.relationships())


@needs_cpp
@pytest.mark.parametrize("with_graph", [True, False], ids=["graph", "no-graph"])
def test_both_engines_judge_the_graph_the_same(tmp_path: Path, with_graph: bool) -> None:
    policy = load_policy(write(tmp_path, HEAD + GRAPH_POLICY))
    subjects, graph = graph_subjects()
    used = graph if with_graph else None
    python = evaluate([policy], subjects, now=NOW, engine="python", graph=used)
    cpp = evaluate([policy], subjects, now=NOW, engine="cpp", graph=used)
    assert [r.to_dict() for r in python.results] == [r.to_dict() for r in cpp.results]
    outcomes = {(r.rule, r.outcome.value) for r in python.results}
    if with_graph:
        for rule in ("g-direct", "g-deep", "g-depends-on", "g-dependency-of", "g-critical"):
            assert (rule, "fail") in outcomes and (rule, "pass") in outcomes, rule
        assert ("g-purl", "fail") in outcomes
    else:
        # No graph: every graph fact is null; guarded rules do not apply, the unguarded
        # comparison with null is an error (never a pass), the functions are false.
        assert {o for r, o in outcomes if r in ("g-direct", "g-deep")} == {"not-applicable"}
        assert {o for r, o in outcomes if r == "g-unguarded"} == {"error"}
        assert {o for r, o in outcomes if r in ("g-depends-on", "g-purl")} == {"pass"}


def test_graph_functions_and_nullable_facts_are_type_checked(tmp_path: Path) -> None:
    from bomguard.policy import PolicyProblems

    cases = {
        'depends_on(component, "x")': "depends_on is a method: write component.depends_on(x)",
        'component.provenance.depends_on("x")': "depends_on() applies to component, not object",
        "component.is_dependency_of(1)": "is_dependency_of() takes name_or_purl as string, got int",
        'component.graph.depth == "1"': "cannot apply '==' to int or null and string",
    }
    for expression, message in cases.items():
        text = HEAD + f"rules:\n  - id: r\n    require: '{expression}'\n"
        with pytest.raises(PolicyProblems) as info:
            load_policy(write(tmp_path, text))
        assert message in str(info.value.problems[0].message), expression
