"""The policy stage: load CEL policies and judge components' provenance with them.

::

    policies = load_policies([Path("policies/baseline.yaml")])  # or (default_policy(),)
    verdict = evaluate(policies, [(component, evidence), ...])
    verdict.to_dict()  # validates against verdict.schema.json

Rules see one variable, ``component`` (see :func:`component_facts` for its shape).
"""

from __future__ import annotations

from bomguard.policy.engine import check_unique, compile_policy, evaluate
from bomguard.policy.facts import component_facts, component_label, normalized_name
from bomguard.policy.loader import (
    DEFAULT_POLICY_PATH,
    default_policy,
    load_policies,
    load_policy,
    strict_policy,
)
from bomguard.policy.model import MESSAGE_FIELDS, Policy, Rule, Severity
from bomguard.policy.verdict import PolicyRef, Verdict, Violation, validate_verdict

__all__ = [
    "DEFAULT_POLICY_PATH",
    "MESSAGE_FIELDS",
    "Policy",
    "PolicyRef",
    "Rule",
    "Severity",
    "Verdict",
    "Violation",
    "check_unique",
    "compile_policy",
    "component_facts",
    "component_label",
    "default_policy",
    "evaluate",
    "load_policies",
    "load_policy",
    "normalized_name",
    "strict_policy",
    "validate_verdict",
]
