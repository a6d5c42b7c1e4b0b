"""The facts every report shows, gathered once from an enrichment result.

Reports never re-derive anything: they render this. Every string here may come from an
untrusted SBOM or index, so each renderer escapes for its own format.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bomguard._version import __version__
from bomguard.models import Status
from bomguard.policy.facts import normalized_name
from bomguard.reasons import explain_component
from bomguard.report.graph import GraphView, build_graph_view
from bomguard.report.links import source_links

SBOM_SUBJECT = "(sbom)"

if TYPE_CHECKING:
    from bomguard.models import Component
    from bomguard.pipeline import EnrichResult
    from bomguard.policy import Policy

__all__ = ["ComponentRow", "ReportData", "RuleRow", "SourceLinks", "build_report"]

REKOR_ENTRY_URL = "https://search.sigstore.dev/?logIndex={index}"


@dataclass(frozen=True, slots=True)
class SourceLinks:
    """Where a verified identity's facts live at the forge (``""`` when not known)."""

    repository: str = ""
    workflow: str = ""
    ref: str = ""
    commit: str = ""
    run: str = ""


@dataclass(frozen=True, slots=True)
class ComponentRow:
    """One PyPI component as the reports show it."""

    name: str
    version: str
    purl: str
    bom_ref: str
    locator: str
    status: str
    reason: str
    """The raw reason, as the verification code gave it."""
    critical: bool
    publisher: str
    repository: str
    workflow: str
    ref: str
    commit: str
    log_index: str
    log_url: str
    drift: tuple[str, ...]
    violations: tuple[str, ...]
    waived: tuple[str, ...]
    path: str = ""
    """The first shortest path from the root (``a > b > this``); "" without a graph."""
    direct: bool = False
    dependents: int | None = None
    rank: int | None = None
    code: str = ""
    """The reason's stable code (:mod:`bomguard.reasons`)."""
    message: str = ""
    """The reason as a plain sentence."""
    hint: str = ""
    """What to do about it."""
    links: SourceLinks = field(default_factory=lambda: SourceLinks())
    failing: bool = False
    """Whether an error-severity rule failed for this component."""
    warned: bool = False
    """Whether a warning-severity rule failed for this component (and none failed)."""


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One policy rule with its outcome counts."""

    rule: str
    policy: str
    description: str
    severity: str
    references: tuple[str, ...]
    failed: int
    waived: tuple[dict[str, str], ...]
    violations: tuple[dict[str, str], ...]
    #: ``component`` (judged per component) or ``sbom`` (judged once for the whole SBOM).
    scope: str = "component"


@dataclass(frozen=True)
class ReportData:
    """Everything a report needs."""

    sbom: str
    verdict: str
    counts: dict[str, int]
    components: tuple[ComponentRow, ...]
    rules: tuple[RuleRow, ...]
    policies: tuple[dict[str, str], ...]
    coverage_overall: float | None
    coverage_critical: float | None
    critical_total: int
    trust_root: dict[str, str]
    tool_version: str = __version__
    generated: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    expired_waivers: tuple[dict[str, str], ...] = ()
    graph: GraphView | None = None
    criticality: dict[str, Any] = field(default_factory=dict)
    """The download-rank snapshot that judged criticality (``RankSnapshot.record()``)."""

    def path_of(self, label: str) -> str:
        """The path from the root of the component a violation names, or ""."""
        for row in self.components:
            if (row.purl or f"{row.name}@{row.version}") == label:
                return row.path
        return ""

    @property
    def violations(self) -> list[dict[str, str]]:
        return [v for rule in self.rules for v in rule.violations]

    @property
    def sbom_violations(self) -> list[dict[str, str]]:
        """Violations of sbom-scope rules (they name no component)."""
        return [v for v in self.violations if v.get("component") == SBOM_SUBJECT]

    @property
    def state(self) -> str:
        """``pass``, ``pass-with-warnings`` (a pass with any violation left) or ``fail``."""
        if self.verdict != "pass":
            return "fail"
        return "pass-with-warnings" if self.violations else "pass"

    @property
    def drift_lines(self) -> list[str]:
        return [line for c in self.components for line in c.drift]


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


def _violation_dict(v: Any) -> dict[str, str]:
    data = v.to_dict() if hasattr(v, "to_dict") else dict(v)
    return {k: _as_text(val) for k, val in data.items() if not isinstance(val, (list, dict))}


def _critical(policies: Sequence[Policy], component: Component, rank: int | None = None) -> bool:
    """Critical by any policy, judged as the policy engine judges it."""
    name = normalized_name(component)
    return any(policy.is_critical(name, rank) for policy in policies)


def build_report(result: EnrichResult, sbom: str) -> ReportData:
    """Gather the report facts from an enrichment result."""
    verdict = result.verdict
    violations = [_violation_dict(v) for v in verdict.violations]
    waived = [
        {
            "rule": w.violation.rule,
            "policy": w.violation.policy,
            "component": w.violation.component,
            "message": w.violation.message,
            "reason": w.waiver.reason,
            "approver": w.waiver.approver,
            "expires": w.waiver.expires.isoformat(),
        }
        for w in verdict.waived
    ]
    rows: list[ComponentRow] = []
    graph = getattr(result, "graph", None)
    ranks = getattr(result, "ranks", None)
    statuses: dict[str, str] = {}
    critical_by_locator: dict[str, bool] = {}
    for component in result.components:
        evidence = result.evidence.get(component.locator)
        rank = ranks.rank(component.pypi.name) if ranks and component.pypi else None
        critical_by_locator[component.locator] = _critical(result.policies, component, rank)
        if evidence is None:
            continue
        statuses[component.locator] = evidence.status.value
        placed = graph.facts.get(component.locator) if graph is not None else None
        identity = evidence.identity
        name = component.name or (component.pypi.raw_name if component.pypi else "")
        version = component.version or (component.pypi.raw_version if component.pypi else "") or ""
        label = component.purl or f"{name}@{version}"
        log_index = _as_text(identity.log_index) if identity else ""
        explained = explain_component(evidence.status, evidence.reason, evidence)
        mine = [
            v
            for v in violations
            if v.get("component") == label
            and (not v.get("bom_ref") or v.get("bom_ref") == (component.bom_ref or ""))
        ]
        failing = any(v.get("severity", "error") == "error" for v in mine)
        rows.append(
            ComponentRow(
                name=name,
                version=version,
                purl=component.purl or "",
                bom_ref=component.bom_ref or "",
                locator=component.locator,
                status=evidence.status.value,
                reason=evidence.reason,
                critical=critical_by_locator[component.locator],
                publisher=_as_text(identity.kind) if identity else "",
                repository=_as_text(identity.repository or identity.repository_uri)
                if identity
                else "",
                workflow=_as_text(identity.workflow) if identity else "",
                ref=_as_text(identity.ref) if identity else "",
                commit=_as_text(identity.commit) if identity else "",
                log_index=log_index,
                log_url=REKOR_ENTRY_URL.format(index=log_index) if log_index else "",
                drift=tuple(e.summary(name, version) for e in evidence.drift),
                violations=tuple(f"{v.get('rule', '')}: {v.get('message', '')}" for v in mine),
                waived=tuple(
                    f"{w.get('rule', '')}: {w.get('reason', '')}"
                    for w in waived
                    if w.get("component") == label
                ),
                path=" > ".join(placed.paths[0]) if placed and placed.paths else "",
                direct=bool(placed and placed.direct),
                dependents=placed.dependents if placed else None,
                rank=rank,
                code=explained.code,
                message=explained.message,
                hint=explained.hint,
                links=source_links(identity),
                failing=failing,
                warned=bool(mine) and not failing,
            )
        )
    rules: list[RuleRow] = []
    for policy in result.policies:
        for rule in getattr(policy, "rules", ()):
            rule_violations = tuple(
                v for v in violations if v.get("rule") == rule.id and v.get("policy") == policy.name
            )
            refs = tuple(
                _as_text(getattr(r, "id", r)) for r in getattr(rule, "references", ()) or ()
            )
            rules.append(
                RuleRow(
                    rule=rule.id,
                    policy=policy.name,
                    description=_as_text(getattr(rule, "description", "")),
                    severity=_as_text(getattr(rule, "severity", "error")),
                    references=refs,
                    failed=len(rule_violations),
                    waived=tuple(w for w in waived if w.get("rule") == rule.id),
                    violations=rule_violations,
                    scope=str(getattr(rule, "scope", "component")),
                )
            )
    verified = sum(1 for r in rows if r.status == Status.VERIFIED.value)
    critical_rows = [r for r in rows if r.critical]
    critical_verified = sum(1 for r in critical_rows if r.status == Status.VERIFIED.value)
    trust = result.trust_root
    return ReportData(
        sbom=sbom,
        verdict=verdict.verdict,
        counts=dict(verdict.counts),
        components=tuple(rows),
        rules=tuple(rules),
        policies=tuple(
            {"name": p.name, "path": _as_text(p.path), "sha256": _as_text(p.sha256)}
            for p in result.policies
        ),
        coverage_overall=verified / len(rows) if rows else None,
        coverage_critical=critical_verified / len(critical_rows) if critical_rows else None,
        critical_total=len(critical_rows),
        trust_root={
            "source": trust.source,
            "instance": trust.instance,
            "sha256": trust.sha256,
        }
        if trust is not None
        else {},
        expired_waivers=tuple(
            {
                "rule": w.waiver.rule,
                "match": w.waiver.purl or w.waiver.name or "(sbom)",
                "expires": w.waiver.expires.isoformat(),
                "matched": str(w.matched),
            }
            for w in verdict.expired_waivers
        ),
        graph=build_graph_view(graph, result.components, statuses, critical_by_locator),
        criticality=ranks.record() if ranks is not None else {},
    )
