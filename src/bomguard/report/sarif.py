"""SARIF 2.1.0 for code scanning: one result per violation, located at the SBOM file."""

from __future__ import annotations

import json
from typing import Any

from bomguard.report.data import ReportData

__all__ = ["render_sarif"]

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def render_sarif(data: ReportData) -> bytes:
    """The violations as a SARIF 2.1.0 log."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for rule in data.rules:
        if rule.rule in index:
            continue
        index[rule.rule] = len(rules)
        rules.append(
            {
                "id": rule.rule,
                "name": rule.rule,
                "shortDescription": {"text": rule.description or rule.rule},
                "fullDescription": {"text": rule.description or rule.rule},
                "defaultConfiguration": {"level": _LEVEL.get(rule.severity, "error")},
                "properties": {
                    "policy": rule.policy,
                    "tags": ["supply-chain", "provenance", *rule.references],
                },
            }
        )
    results: list[dict[str, Any]] = []
    by_label = {c.purl or f"{c.name}@{c.version}": c for c in data.components}
    for rule in data.rules:
        for violation in rule.violations:
            component = by_label.get(violation.get("component", ""))
            logical = {
                "name": violation.get("component", ""),
                "kind": "module",
                "fullyQualifiedName": violation.get("component", ""),
            }
            result: dict[str, Any] = {
                "ruleId": rule.rule,
                "ruleIndex": index[rule.rule],
                "level": _LEVEL.get(violation.get("severity", rule.severity), "error"),
                "message": {"text": violation.get("message") or rule.description or rule.rule},
                "locations": [
                    {
                        "physicalLocation": {"artifactLocation": {"uri": data.sbom}},
                        "logicalLocations": [logical],
                    }
                ],
                "partialFingerprints": {
                    "bomguard/v1": f"{rule.policy}/{rule.rule}/{violation.get('component', '')}"
                },
                "properties": {
                    "component": violation.get("component", ""),
                    "bomRef": violation.get("bom_ref", ""),
                    "status": component.status if component else "",
                    "locator": component.locator if component else "",
                    "reasonCode": component.code if component else "",
                },
            }
            results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "bomguard",
                        "version": data.tool_version,
                        "semanticVersion": data.tool_version,
                        "informationUri": "https://pypi.org/project/bomguard/",
                        "rules": rules,
                    }
                },
                "artifacts": [{"location": {"uri": data.sbom}}],
                "results": results,
                "properties": {"verdict": data.verdict, "counts": data.counts},
            }
        ],
    }
    return (json.dumps(log, indent=2, sort_keys=True) + "\n").encode("utf-8")
