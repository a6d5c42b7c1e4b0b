"""Re-verify an enriched SBOM offline from the evidence embedded in it.

An SBOM handed over months later proves itself without the index: every embedded
provenance object is checked again against the trust root and the digest recorded next to
it, each component's status is summed up again, and any component whose status would now
differ from the one recorded is reported. A component recorded as ``verified`` that
carries no embedded evidence cannot prove itself, and is reported too (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bomguard.errors import InputError
from bomguard.models import DigestSource, FileEvidence, Status, summarize
from bomguard.sbom import read_sbom
from bomguard.verify import load_trust_root
from bomguard.verify.batch import VerifyJob, verify_batch

__all__ = ["Finding", "reverify"]

P = "bomguard:provenance:"


@dataclass(frozen=True, slots=True)
class Finding:
    """One component's recorded status against what its embedded evidence shows now."""

    component: str
    recorded: str
    now: str
    reason: str = ""
    files_checked: int = 0

    @property
    def differs(self) -> bool:
        return self.recorded != self.now


def reverify(
    sbom: Path,
    *,
    trust_root: str = "embedded",
    staging: bool = False,
    input_format: str | None = None,
) -> list[Finding]:
    """Re-check every PyPI component bomguard recorded in ``sbom``; no network is used
    unless ``trust_root`` is ``tuf``."""
    document = read_sbom(sbom, input_format)
    components = document.components()
    recorded = {c.locator: c for c in components if c.properties.get(P + "status") is not None}
    if not recorded:
        raise InputError(f"{sbom}: no component carries bomguard:provenance:status: not enriched")
    embedded = document.embedded_evidence()
    root = load_trust_root(trust_root, staging=staging)
    jobs = [
        VerifyJob(raw, filename, sha, DigestSource.SBOM)
        for files in embedded.values()
        for filename, sha, raw in files
    ]
    results = iter(verify_batch(root, jobs))
    findings = []
    for locator, component in recorded.items():
        label = component.purl or component.name
        status_then = component.properties[P + "status"]
        files: dict[str, FileEvidence] = {}
        for key, value in component.properties.items():
            if key.startswith(P + "file:") and value in {s.value for s in Status}:
                name = key[len(P + "file:") :]
                files[name] = FileEvidence(name, None, Status(value), "as recorded")
        checked = 0
        for filename, sha, _raw in embedded.get(locator, []):
            status, reason, _, _ = next(results)
            checked += 1
            files[filename] = replace(
                files.get(filename, FileEvidence(filename, sha, status)),
                sha256=sha,
                status=status,
                reason=reason,
            )
            if sha is None:
                files[filename] = replace(
                    files[filename], status=Status.INVALID, reason="no recorded sha256"
                )
        if status_then in (Status.NOT_APPLICABLE.value,):
            continue
        unprovable = [
            f.filename
            for f in files.values()
            if f.status is Status.VERIFIED and f.reason == "as recorded"
        ]
        if unprovable:
            findings.append(
                Finding(
                    label,
                    status_then,
                    "unknown",
                    f"recorded as verified but no provenance is embedded for {unprovable[0]}",
                    checked,
                )
            )
            continue
        if not files:
            findings.append(Finding(label, status_then, status_then, "no files recorded", 0))
            continue
        status_now, reason = summarize(tuple(files.values()))
        findings.append(Finding(label, status_then, status_now.value, reason, checked))
    return findings
