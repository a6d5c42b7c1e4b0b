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
"""

from __future__ import annotations

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
