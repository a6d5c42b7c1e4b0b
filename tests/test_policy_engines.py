"""The CEL engines: cel-python and cel-expr-python judge every rule the same way."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import pytest
from test_policy import HEAD, write

from bomguard.errors import InputError
from bomguard.models import Component, ComponentEvidence, FileEvidence, Identity, PypiRef, Status
from bomguard.policy import engines, evaluate, load_policies, load_policy, run_policy_tests
from bomguard.policy.engines import cpp_available, get_engine

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
    monkeypatch.setattr(engines, "cpp_available", lambda: False)
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
