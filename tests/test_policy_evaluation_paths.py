"""How evaluation saves work without changing an outcome.

Only the ``component`` facts a policy can read are built and bound to CEL; cel-expr-python
judges all of a policy's component rules in one program, and falls back to one rule at a
time on a component where anything goes wrong, so an error stays that rule's ``error``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from test_policy import HEAD, write
from test_policy_engines import grid

from bomguard.errors import InputError
from bomguard.models import (
    Component,
    ComponentEvidence,
    DriftEvent,
    DriftSource,
    FileEvidence,
    PypiRef,
    Status,
)
from bomguard.policy import evaluate, evaluation, facts, load_policies, load_policy
from bomguard.policy.cel_engines import cpp_available
from bomguard.policy.usage import policy_usage

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
ENGINES = [
    "python",
    pytest.param(
        "cpp",
        marks=pytest.mark.skipif(not cpp_available(), reason="cel-expr-python is not installed"),
    ),
]


def _component(index: int, **extra: object) -> Component:
    name = f"pkg{index}"
    return Component(
        locator=f"/components/{index}",
        bom_ref=f"ref-{index}",
        name=name,
        version="1.0",
        purl=f"pkg:pypi/{name}@1.0",
        pypi=PypiRef(name, "1.0", name, "1.0"),
        **extra,  # type: ignore[arg-type]
    )


def _outcomes(verdict: object) -> dict[tuple[str, str], str]:
    return {(r.rule, r.component): r.outcome.value for r in verdict.results}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("texts", "read"),
    [
        (
            ['component.provenance.status == "verified"'],
            {"component": {"provenance"}, "component.provenance": {"status"}},
        ),
        (
            ["component.critical", 'component["pypi"]', "has(component.drift)"],
            {"component": {"critical", "pypi", "drift"}},
        ),
        (
            ['component.provenance.files.exists(f, f.publisher.kind == "GitHub")'],
            {
                "component": {"provenance"},
                "component.provenance": {"files"},
                "component.provenance.files[]": {"publisher"},
                "component.provenance.files[].publisher": {"kind"},
            },
        ),
        (['component.licenses.exists(l, l == "component")'], {"component": {"licenses"}}),
        (["sbom.components > 0"], {}),
    ],
)
def test_the_facts_a_policy_reads_are_found(texts: list[str], read: dict[str, set[str]]) -> None:
    assert policy_usage(texts) == {k: frozenset(v) for k, v in read.items()}


@pytest.mark.parametrize(
    "text",
    [
        'component.depends_on("cffi")',  # the whole map goes to a function
        'depends_on(component, "cffi")',
        "component[component.name] == true",  # a computed key
        '"kind" in component.provenance.publisher',  # an object's keys
        "component.provenance.publisher.all(k, k != '')",
        "component.provenance.files.map(f, f).size() > 0",  # objects passed on
        "component.provenance.files.filter(f, true) == []",
        "dyn(component.provenance).status == 'x'",
        "(true ? component.drift : component.drift).count == 0",
        "component.provenance.files.exists(f, f.publisher == component.provenance.publisher)",
    ],
)
def test_any_other_use_of_an_object_binds_every_fact(text: str) -> None:
    assert policy_usage(['component.name == "x"', text]) is None


def _drift_evidence() -> ComponentEvidence:
    event = DriftEvent("workflow-changed", "a.yml", "b.yml", DriftSource.PREVIOUS_RELEASE, "0.9")
    return ComponentEvidence(Status.VERIFIED, "", drift=(event,), drift_checked=("x",))


@pytest.mark.parametrize("engine", ENGINES)
def test_facts_no_rule_reads_are_not_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    def no_drift(evidence: object) -> object:
        raise AssertionError("drift facts computed for a policy that does not read them")

    monkeypatch.setattr(facts, "_drift", no_drift)
    policy = load_policy(
        write(
            tmp_path,
            HEAD + 'rules:\n  - id: s\n    require: component.provenance.status == "verified"\n',
        )
    )
    verdict = evaluate([policy], [(_component(0), _drift_evidence())], now=NOW, engine=engine)
    assert verdict.passed


@pytest.mark.parametrize("engine", ENGINES)
def test_a_rule_that_reads_a_fact_still_sees_its_value(tmp_path: Path, engine: str) -> None:
    policy = load_policy(
        write(
            tmp_path,
            HEAD
            + "rules:\n"
            + '  - id: status\n    require: component.provenance.status == "verified"\n'
            + "  - id: no-drift\n    require: component.drift.count == 0\n"
            + "  - id: drifted\n    require: component.drift.workflow_changed\n",
        )
    )
    drifted, still = _component(0), _component(1)
    verdict = evaluate(
        [policy],
        [(drifted, _drift_evidence()), (still, ComponentEvidence(Status.VERIFIED, ""))],
        now=NOW,
        engine=engine,
    )
    assert _outcomes(verdict) == {
        ("status", drifted.purl): "pass",
        ("status", still.purl): "pass",
        ("no-drift", drifted.purl): "fail",
        ("no-drift", still.purl): "pass",
        ("drifted", drifted.purl): "pass",
        ("drifted", still.purl): "fail",
    }


MIXED = """\
rules:
  - id: before
    require: component.provenance.status == "verified"
  - id: missing-key
    require: component.properties["lane"] == "fast"
  - id: null-when
    when: component.graph.direct
    require: "true"
  - id: skipped
    when: component.name == "nobody"
    require: "false"
  - id: after
    require: component.provenance.status != "verified"
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_an_error_in_one_rule_is_that_rules_error_and_never_a_pass(
    tmp_path: Path, engine: str
) -> None:
    # On the first component two rules cannot be evaluated (a missing map key, a null
    # condition): each is an error of its own; the rules around them are judged as usual.
    policy = load_policy(write(tmp_path, HEAD + MIXED))
    lane, bare = _component(0, properties={"lane": "fast"}), _component(1)
    subjects = [
        (lane, ComponentEvidence(Status.VERIFIED, "")),
        (bare, ComponentEvidence(Status.VERIFIED, "")),
    ]
    verdict = evaluate([policy], subjects, now=NOW, engine=engine)
    assert _outcomes(verdict) == {
        ("before", lane.purl): "pass",
        ("before", bare.purl): "pass",
        ("missing-key", lane.purl): "pass",
        ("missing-key", bare.purl): "error",
        ("null-when", lane.purl): "error",
        ("null-when", bare.purl): "error",
        ("skipped", lane.purl): "not-applicable",
        ("skipped", bare.purl): "not-applicable",
        ("after", lane.purl): "fail",
        ("after", bare.purl): "fail",
    }
    assert not verdict.passed
    errors = [v for v in verdict.violations if v.outcome.value == "error"]
    assert {(v.rule, v.component) for v in errors} == {
        ("missing-key", bare.purl),
        ("null-when", lane.purl),
        ("null-when", bare.purl),
    }
    assert all(v.message.startswith("rule could not be evaluated: ") for v in errors)


@pytest.mark.skipif(not cpp_available(), reason="cel-expr-python is not installed")
def test_many_rules_and_long_lists_are_judged_alike_by_both_engines(tmp_path: Path) -> None:
    # 35 rules (more than one combined program holds) and a component whose lists are
    # longer than policies are checked for (its costly rule is judged alone, an error).
    rules = "".join(
        f"  - id: r{i}\n    when: component.provenance.files.size() > {i % 3}\n"
        f'    require: component.provenance.files.exists(f, f.filename.endsWith("{i % 4}.whl"))\n'
        for i in range(33)
    )
    rules += (
        "  - id: costly\n"
        "    require: component.licenses.all(a, component.licenses.exists(b, a == b))\n"
        '  - id: lane\n    require: component.properties["lane"] == "fast"\n'
    )
    policy = load_policy(write(tmp_path, HEAD + "rules:\n" + rules))
    files = tuple(FileEvidence(f"p-{i}.whl", "aa" * 32, Status.VERIFIED) for i in range(4))
    many = _component(900, licenses=tuple(f"L{i}" for i in range(600)))
    subjects = [*grid(), (many, ComponentEvidence(Status.VERIFIED, "", files))]
    python = evaluate([policy], subjects, now=NOW, engine="python")
    cpp = evaluate([policy], subjects, now=NOW, engine="cpp")
    assert [r.to_dict() for r in python.results] == [r.to_dict() for r in cpp.results]
    assert _outcomes(cpp)[("costly", many.purl)] == "error"
    assert {r.outcome.value for r in cpp.results} == {"pass", "fail", "not-applicable", "error"}


@pytest.mark.parametrize("engine", ENGINES)
def test_trimmed_facts_judge_exactly_as_the_full_facts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    # Every shipped policy and the functions policy of the engine test, over components
    # of every status, with the facts trimmed to what each policy reads and in full.
    from test_policy_engines import FUNCTIONS_POLICY, SHIPPED

    functions = load_policy(write(tmp_path, HEAD + FUNCTIONS_POLICY))
    policies = (*load_policies(SHIPPED), functions)
    files = tuple(FileEvidence(f"p-{i}.whl", "aa" * 32, Status.VERIFIED) for i in range(40))
    subjects = [
        *grid(),
        (_component(900, licenses=tuple(f"L{i}" for i in range(40))), _drift_evidence()),
        (_component(901), ComponentEvidence(Status.VERIFIED, "", files)),
    ]
    trimmed = evaluate(policies, subjects, now=NOW, engine=engine)
    assert any(evaluation.usage_of(p) is not None for p in policies)
    monkeypatch.setattr(evaluation, "usage_of", lambda policy: None)
    full = evaluate(policies, subjects, now=NOW, engine=engine)
    assert trimmed.to_dict() == full.to_dict()


@pytest.mark.parametrize("before", [True, False])
def test_evaluation_leaves_the_cycle_collector_as_it_found_it(tmp_path: Path, before: bool) -> None:
    import gc

    policy = load_policy(write(tmp_path, HEAD + MIXED))
    subjects = [(_component(0), ComponentEvidence(Status.VERIFIED, ""))]
    was = gc.isenabled()
    try:
        if not before:
            gc.disable()
        evaluate([policy], subjects, now=NOW)
        assert gc.isenabled() is before
        with pytest.raises(InputError, match="duplicate policy name"):
            evaluate([policy, policy], subjects, now=NOW)
        assert gc.isenabled() is before
    finally:
        if was:
            gc.enable()
