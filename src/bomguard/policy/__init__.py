"""The policy stage: load CEL policies and judge components' provenance, and the SBOM, with them.

::

    policies = load_policies([Path("policies/baseline.yaml")])  # or (default_policy(),)
    verdict = evaluate(policies, [(component, evidence), ...], now=None)
    verdict.to_dict()  # validates against verdict.schema.json

Component-scope rules see ``component`` (see :func:`component_facts`), ``sbom`` (see
:func:`sbom_facts`) and ``now``; sbom-scope rules see ``sbom`` and ``now``. The declared
types are in :mod:`bomguard.policy.vocabulary`; :func:`check_policies` reports every
problem of a set of policy files, :func:`run_policy_tests` runs their test cases.
Every entry point takes ``engine=`` (:data:`ENGINE_NAMES`: ``python``, the default;
``cpp``, cel-expr-python when installed; ``auto``).

The names are imported on first use (:pep:`562`): importing one part of the policy stage
(say, the engine an enrich run evaluates with) does not import every other part, nor
the libraries they need (cel-python, lark, PyYAML).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bomguard.policy.cel_engines import ENGINE_NAMES, get_engine
    from bomguard.policy.evaluation import check_unique, compile_policy, evaluate
    from bomguard.policy.facts import (
        component_facts,
        component_label,
        normalized_name,
        sbom_facts,
    )
    from bomguard.policy.loader import (
        DEFAULT_POLICY_PATH,
        check_policies,
        default_policy,
        load_policies,
        load_policy,
        strict_policy,
    )
    from bomguard.policy.model import (
        MESSAGE_FIELDS,
        SBOM_MESSAGE_FIELDS,
        SBOM_SUBJECT,
        Outcome,
        Policy,
        Reference,
        Rule,
        Scope,
        Severity,
        Waiver,
    )
    from bomguard.policy.problems import PolicyProblems, Problem
    from bomguard.policy.testing import (
        CaseFailure,
        PolicyTestReport,
        policy_tests_path,
        run_policy_tests,
    )
    from bomguard.policy.verdict import (
        PolicyRef,
        Result,
        Verdict,
        Violation,
        Waived,
        WaiverUse,
        validate_verdict,
    )
    from bomguard.policy.vocabulary import FUNCTIONS, VARIABLES

__all__ = [
    "DEFAULT_POLICY_PATH",
    "ENGINE_NAMES",
    "FUNCTIONS",
    "MESSAGE_FIELDS",
    "SBOM_MESSAGE_FIELDS",
    "SBOM_SUBJECT",
    "VARIABLES",
    "CaseFailure",
    "Outcome",
    "Policy",
    "PolicyProblems",
    "PolicyRef",
    "PolicyTestReport",
    "Problem",
    "Reference",
    "Result",
    "Rule",
    "Scope",
    "Severity",
    "Verdict",
    "Violation",
    "Waived",
    "Waiver",
    "WaiverUse",
    "check_policies",
    "check_unique",
    "compile_policy",
    "component_facts",
    "component_label",
    "default_policy",
    "evaluate",
    "get_engine",
    "load_policies",
    "load_policy",
    "normalized_name",
    "policy_tests_path",
    "run_policy_tests",
    "sbom_facts",
    "strict_policy",
    "validate_verdict",
]

_HOMES = {
    "CaseFailure": "bomguard.policy.testing",
    "DEFAULT_POLICY_PATH": "bomguard.policy.loader",
    "ENGINE_NAMES": "bomguard.policy.cel_engines",
    "FUNCTIONS": "bomguard.policy.vocabulary",
    "MESSAGE_FIELDS": "bomguard.policy.model",
    "Outcome": "bomguard.policy.model",
    "Policy": "bomguard.policy.model",
    "PolicyProblems": "bomguard.policy.problems",
    "PolicyRef": "bomguard.policy.verdict",
    "PolicyTestReport": "bomguard.policy.testing",
    "Problem": "bomguard.policy.problems",
    "Reference": "bomguard.policy.model",
    "Result": "bomguard.policy.verdict",
    "Rule": "bomguard.policy.model",
    "SBOM_MESSAGE_FIELDS": "bomguard.policy.model",
    "SBOM_SUBJECT": "bomguard.policy.model",
    "Scope": "bomguard.policy.model",
    "Severity": "bomguard.policy.model",
    "VARIABLES": "bomguard.policy.vocabulary",
    "Verdict": "bomguard.policy.verdict",
    "Violation": "bomguard.policy.verdict",
    "Waived": "bomguard.policy.verdict",
    "Waiver": "bomguard.policy.model",
    "WaiverUse": "bomguard.policy.verdict",
    "check_policies": "bomguard.policy.loader",
    "check_unique": "bomguard.policy.evaluation",
    "compile_policy": "bomguard.policy.evaluation",
    "component_facts": "bomguard.policy.facts",
    "component_label": "bomguard.policy.facts",
    "default_policy": "bomguard.policy.loader",
    "evaluate": "bomguard.policy.evaluation",
    "get_engine": "bomguard.policy.cel_engines",
    "load_policies": "bomguard.policy.loader",
    "load_policy": "bomguard.policy.loader",
    "normalized_name": "bomguard.policy.facts",
    "policy_tests_path": "bomguard.policy.testing",
    "run_policy_tests": "bomguard.policy.testing",
    "sbom_facts": "bomguard.policy.facts",
    "strict_policy": "bomguard.policy.loader",
    "validate_verdict": "bomguard.policy.verdict",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(__import__(home, fromlist=[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
