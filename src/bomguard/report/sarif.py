"""SARIF 2.1.0 for GitHub code scanning: one result per violation, located in the SBOM file.

Written to pass the SARIF Multitool's SARIF and GitHub rules (``sarif-multitool validate
--rule-kind "Gh;Sarif"``, run by the test suite):

- each rule has a ``help`` (GitHub shows it beside the alert), a ``name`` that is not its
  ``id``, the ``security`` tag and a ``security-severity`` (error 8.0 high, warning 5.0
  medium, info 2.0 low), which code scanning uses to rank the alert;
- the SBOM's location is relative to ``%SRCROOT%`` (the repository checkout:
  ``$GITHUB_WORKSPACE``, else the working directory) when it lies under it, else an
  absolute ``file://`` URI;
- the SBOM is the run's one artifact, with its length and sha256;
- each result has a ``region``: the first line of the SBOM that names the component (its
  purl, ``bom-ref`` or name), or the whole file for a finding about the SBOM as a whole.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from bomguard.report.data import ReportData

__all__ = ["render_sarif"]

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_SECURITY_SEVERITY = {"error": "8.0", "warning": "5.0", "info": "2.0"}
_SRCROOT = "%SRCROOT%"
#: Larger SBOMs are not read for line numbers (the finding is placed on the whole file).
_MAX_READ = 256 * 1024 * 1024


def _pascal(rule_id: str) -> str:
    """A readable rule name distinct from its id: ``critical-attested`` → ``CriticalAttested``."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", rule_id) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Rule"
    return name if name != rule_id else f"{name}Rule"


def _location(sbom: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The artifact location of the SBOM, and the ``originalUriBaseIds`` it needs."""
    root = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()
    path = Path(sbom)
    try:
        relative = path.resolve().relative_to(root)
    except (ValueError, OSError):
        if path.is_absolute():
            return {"uri": path.as_uri()}, {}
        return {"uri": path.as_posix()}, {}
    base = {_SRCROOT: {"uri": root.as_uri() + "/"}}
    return {"uri": relative.as_posix(), "uriBaseId": _SRCROOT}, base


class _Lines:
    """Where things are in the SBOM text (line and column, 1-based)."""

    def __init__(self, sbom: str) -> None:
        self.text = ""
        self.starts: list[int] = [0]
        self.artifact: dict[str, Any] = {}
        self._found: dict[str, dict[str, Any] | None] = {}
        try:
            path = Path(sbom)
            if path.is_file() and path.stat().st_size <= _MAX_READ:
                raw = path.read_bytes()
                self.text = raw.decode("utf-8", errors="replace")
                self.starts += [m.end() for m in re.finditer(r"\r\n|\r|\n", self.text)]
                self.artifact = {
                    "length": len(raw),
                    "hashes": {"sha-256": hashlib.sha256(raw).hexdigest()},
                    "roles": ["analysisTarget"],
                }
        except OSError:
            self.text = ""

    def whole(self) -> dict[str, Any]:
        last_line = len(self.starts) - (1 if self.text.endswith(("\n", "\r")) else 0)
        last_start = self.starts[max(last_line - 1, 0)]
        last = self.text[last_start:].rstrip("\r\n")
        return {
            "startLine": 1,
            "startColumn": 1,
            "endLine": max(last_line, 1),
            "endColumn": len(last) + 1,
        }

    def _first(self, needle: str) -> dict[str, Any] | None:
        if needle not in self._found:
            at = self.text.find(needle)
            region = None
            if at >= 0:
                line = bisect.bisect_right(self.starts, at)
                column = at - self.starts[line - 1] + 1
                region = {
                    "startLine": line,
                    "startColumn": column,
                    "endLine": line,
                    "endColumn": column + len(needle),
                }
            self._found[needle] = region
        return self._found[needle]

    def find(self, *needles: str) -> dict[str, Any]:
        """The first place the first of ``needles`` found is (the whole file if none is)."""
        for needle in needles:
            if needle and "\n" not in needle and "\r" not in needle:
                region = self._first(needle)
                if region is not None:
                    return region
        return self.whole()


def _help(rule: Any) -> dict[str, str]:
    description = rule.description or rule.rule
    refs = ", ".join(rule.references)
    text = (
        f"{description}. Rule {rule.rule} of policy {rule.policy} (severity {rule.severity}"
        f"{', scope ' + rule.scope if rule.scope != 'component' else ''})."
        f"{' References: ' + refs + '.' if refs else ''} Each alert names the PyPI "
        "component and why its PEP 740 provenance does not meet the rule; see the "
        "bomguard properties of that component in the enriched SBOM and the verdict for "
        "the evidence. Do not install a release whose provenance is invalid; report it."
    )
    markdown = (
        f"**{description}**\n\nRule `{rule.rule}` of policy `{rule.policy}` "
        f"(severity `{rule.severity}`)."
        + (f"\n\nReferences: {refs}." if refs else "")
        + "\n\nEach alert names the PyPI component and why its PEP 740 provenance does not "
        "meet the rule; the enriched SBOM's `bomguard:` properties and the verdict hold the "
        "evidence. Do not install a release whose provenance is invalid; report it."
    )
    return {"text": text, "markdown": markdown}


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
                "name": _pascal(rule.rule),
                "shortDescription": {"text": rule.description or rule.rule},
                "fullDescription": {"text": rule.description or rule.rule},
                "help": _help(rule),
                "defaultConfiguration": {"level": _LEVEL.get(rule.severity, "error")},
                "properties": {
                    "policy": rule.policy,
                    "security-severity": _SECURITY_SEVERITY.get(rule.severity, "8.0"),
                    "tags": ["security", "supply-chain", "provenance", *rule.references],
                },
            }
        )
    location, base_ids = _location(data.sbom)
    lines = _Lines(data.sbom)
    artifact_index = {"index": 0} if lines.artifact else {}
    results: list[dict[str, Any]] = []
    by_label = {c.purl or f"{c.name}@{c.version}": c for c in data.components}
    for rule in data.rules:
        for violation in rule.violations:
            label = violation.get("component", "")
            component = by_label.get(label)
            if component is None:
                region = lines.whole()
            else:
                region = lines.find(component.purl, component.bom_ref, component.name)
            logical = {"name": label, "kind": "module", "fullyQualifiedName": label}
            path = component.path if component else ""
            text = violation.get("message") or rule.description or rule.rule
            if path:
                text += f" (path from the root: {path})"
            result: dict[str, Any] = {
                "ruleId": rule.rule,
                "ruleIndex": index[rule.rule],
                "level": _LEVEL.get(violation.get("severity", rule.severity), "error"),
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {**location, **artifact_index},
                            "region": region,
                        },
                        "logicalLocations": [logical],
                    }
                ],
                "partialFingerprints": {"bomguard/v1": f"{rule.policy}/{rule.rule}/{label}"},
                "properties": {
                    "component": label,
                    "bomRef": violation.get("bom_ref", ""),
                    "status": component.status if component else "",
                    "locator": component.locator if component else "",
                    "dependencyPath": path,
                    "reasonCode": component.code if component else "",
                },
            }
            results.append(result)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "bomguard",
                "version": data.tool_version,
                "semanticVersion": data.tool_version,
                "informationUri": "https://pypi.org/project/bomguard/",
                "rules": rules,
            }
        },
        "results": results,
        "columnKind": "unicodeCodePoints",  # columns count Python str characters
        "properties": {
            "verdict": data.verdict,
            "counts": data.counts,
            "criticality": data.criticality,
        },
    }
    if lines.artifact:  # the SBOM as analysed: its digest, for an auditor
        run["artifacts"] = [{"location": location, **lines.artifact}]
    if base_ids:
        run["originalUriBaseIds"] = base_ids
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    }
    return (json.dumps(log, indent=2, sort_keys=True) + "\n").encode("utf-8")
