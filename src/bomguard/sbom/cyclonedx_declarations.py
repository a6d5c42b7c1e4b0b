"""CycloneDX 1.6+ ``declarations`` and ``definitions``: evidence an auditor re-verifies offline.

- the tool as the assessor;
- per PyPI component a claim ("published by Trusted Publisher GitHub from workflow
  release.yml of owner/repo at commit abc…") whose evidence carries each file's PEP 740
  provenance object itself (a base64 attachment named ``<filename> sha256:<digest>``), and
  whose counter-evidence carries the identity drift events;
- the policies as ``definitions.standards``, each rule a requirement;
- one attestation mapping each requirement to the claims that conform and the counter
  claims that do not, with a conformance score;
- an affirmation naming the tool.

``bomguard verify`` reads the attachments back and re-checks every one of them.

The evidence ``data`` items carry no ``classification``: the CycloneDX 1.6 schema, the
Java (cyclonedx-core-java) and .NET (cyclonedx-dotnet-library) libraries type it as a
string, cyclonedx-go (syft, grype, trivy) as an object, so no value is read by all; the
field is optional and left out, which every CycloneDX library reads.
Every ``bom-ref`` bomguard writes starts with ``bomguard:``; re-enrichment replaces those
entries and keeps everything else.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bomguard._version import __version__
from bomguard.models import Component, ComponentEvidence, Status

if TYPE_CHECKING:
    from bomguard._spool import ProvenanceSpool

__all__ = ["PREFIX", "PROVENANCE_CONTENT_TYPE", "build_declarations", "evidence_name"]

PREFIX = "bomguard:"
PROVENANCE_CONTENT_TYPE = "application/vnd.pypi.integrity.v1+json"
ASSESSOR = PREFIX + "assessor"


def evidence_name(filename: str, sha256: str | None) -> str:
    """The name an embedded provenance object carries: the file and its recorded digest."""
    return f"{filename} sha256:{sha256 or ''}"


def _label(component: Component) -> str:
    name = component.pypi.raw_name if component.pypi else component.name
    return component.purl or f"{name}@{component.version or ''}"


def _predicate(component: Component, evidence: ComponentEvidence) -> str:
    name = component.name
    version = component.version or ""
    identity = evidence.identity
    if evidence.status is Status.VERIFIED and identity is not None:
        if identity.repository and identity.workflow:
            where = f"from workflow {identity.workflow} of {identity.repository}"
        else:
            where = f"as {identity.san or identity.repository_uri or 'an unnamed identity'}"
        commit = f" at commit {identity.commit}" if identity.commit else ""
        ref = f" ({identity.ref})" if identity.ref else ""
        return (
            f"{name} {version} was published by Trusted Publisher {identity.kind} "
            f"{where}{commit}{ref}, attested for every file"
        )
    reason = f": {evidence.reason}" if evidence.reason else ""
    return f"{name} {version}: PEP 740 provenance is {evidence.status.value}{reason}"


def build_declarations(
    subjects: Sequence[tuple[Component, ComponentEvidence]],
    policies: Sequence[Any],
    results: Sequence[Any],
    *,
    embed: bool,
    now: datetime.datetime,
    spool: ProvenanceSpool | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``declarations`` object and the ``definitions.standards`` entries to add.

    ``results`` are the verdict's per-rule outcomes (``rule``, ``component``, ``outcome``).
    A file's provenance object is embedded from its bytes when the evidence holds them,
    else from ``spool`` (by its sha256) as a placeholder the streamed writer replaces by
    the base64 text (:mod:`bomguard.sbom.cyclonedx_stream`).
    """
    created = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    claims: list[dict[str, Any]] = []
    evidence_items: list[dict[str, Any]] = []
    claim_of: dict[str, str] = {}
    for n, (component, evidence) in enumerate(subjects):
        claim_ref = f"{PREFIX}claim:{n}"
        claim_of.setdefault(_label(component), claim_ref)
        claim: dict[str, Any] = {"bom-ref": claim_ref}
        if component.bom_ref:
            claim["target"] = component.bom_ref
        claim["predicate"] = _predicate(component, evidence)
        claim["reasoning"] = (
            "Each attestation was verified with sigstore against the Sigstore trust root, "
            "the file's name and sha256, and the Trusted Publisher the index names."
            if evidence.status is Status.VERIFIED
            else evidence.reason or f"provenance is {evidence.status.value}"
        )
        data = []
        for f in evidence.files:
            content = None
            if embed and f.provenance is not None:
                content = base64.b64encode(f.provenance).decode("ascii")
            elif embed and spool is not None and f.provenance_sha256 in spool:
                content = spool.placeholder(f.provenance_sha256 or "")
            if content is not None:
                data.append(
                    {
                        "name": evidence_name(f.filename, f.sha256),
                        "contents": {
                            "attachment": {
                                "contentType": PROVENANCE_CONTENT_TYPE,
                                "encoding": "base64",
                                "content": content,
                            }
                        },
                    }
                )
            elif f.provenance_url:
                data.append(
                    {
                        "name": evidence_name(f.filename, f.sha256),
                        "contents": {"url": f.provenance_url},
                    }
                )
        if data:
            ref = f"{PREFIX}evidence:{n}"
            evidence_items.append(
                {
                    "bom-ref": ref,
                    "propertyName": "bomguard:provenance",
                    "description": f"PEP 740 provenance of {_label(component)}",
                    "data": data,
                    "created": created,
                }
            )
            claim["evidence"] = [ref]
        if evidence.drift:
            ref = f"{PREFIX}drift:{n}"
            evidence_items.append(
                {
                    "bom-ref": ref,
                    "propertyName": "bomguard:drift",
                    "description": "Identity drift against earlier releases, a baseline or pins",
                    "data": [
                        {"name": e.summary(component.name, component.version or "")}
                        for e in evidence.drift
                    ],
                    "created": created,
                }
            )
            claim["counterEvidence"] = [ref]
        claims.append(claim)

    standards: list[dict[str, Any]] = []
    requirement_of: dict[tuple[str, str], str] = {}
    for policy in policies:
        requirements = []
        for rule in getattr(policy, "rules", ()):
            ref = f"{PREFIX}requirement:{policy.name}:{rule.id}"
            requirement_of[(policy.name, rule.id)] = ref
            descriptions = [f"require: {rule.require}"]
            if getattr(rule, "when", None):
                descriptions.append(f"when: {rule.when}")
            requirements.append(
                {
                    "bom-ref": ref,
                    "identifier": rule.id,
                    "text": rule.description or rule.id,
                    "descriptions": descriptions,
                    "properties": [
                        {"name": "bomguard:severity", "value": str(rule.severity)},
                        {
                            "name": "bomguard:scope",
                            "value": str(getattr(rule, "scope", "component")),
                        },
                    ],
                }
            )
        standard: dict[str, Any] = {
            "bom-ref": f"{PREFIX}standard:{policy.name}",
            "name": policy.name,
            "version": f"sha256:{policy.sha256}" if policy.sha256 else "builtin",
            "requirements": requirements,
        }
        owner = getattr(policy, "owner", "") or ""
        if owner:
            standard["owner"] = owner
        standards.append(standard)

    by_requirement: dict[str, tuple[list[str], list[str]]] = {}
    for result in results:
        keys = [k for k in requirement_of if k[1] == result.rule]
        judged = claim_of.get(result.component)
        if judged is None:
            continue
        outcome = getattr(result.outcome, "value", str(result.outcome))
        for key in keys:
            requirement = requirement_of.get(key)
            if requirement is None:
                continue
            passed, failed = by_requirement.setdefault(requirement, ([], []))
            if outcome in ("pass", "waived"):
                passed.append(judged)
            elif outcome in ("fail", "error"):
                failed.append(judged)
    mapping = []
    for requirement in requirement_of.values():
        passed, failed = by_requirement.get(requirement, ([], []))
        entry: dict[str, Any] = {"requirement": requirement}
        if passed:
            entry["claims"] = sorted(set(passed))
        if failed:
            entry["counterClaims"] = sorted(set(failed))
        total = len(passed) + len(failed)
        entry["conformance"] = {
            "score": round(len(passed) / total, 4) if total else 1.0,
            "rationale": f"{len(passed)} of {total} applicable components conform"
            if total
            else "no component was subject to this requirement",
        }
        mapping.append(entry)

    declarations: dict[str, Any] = {
        "assessors": [
            {"bom-ref": ASSESSOR, "thirdParty": False, "organization": {"name": "bomguard"}}
        ],
        "attestations": [
            {
                "summary": "PEP 740 provenance of the PyPI components, verified by bomguard "
                "and judged against the policies in definitions.standards",
                "assessor": ASSESSOR,
                "map": mapping,
            }
        ],
        "claims": claims,
        "evidence": evidence_items,
        "affirmation": {
            "statement": (
                f"bomguard {__version__} verified the provenance recorded here at {created}; "
                "the embedded provenance objects can be re-verified offline with "
                "'bomguard verify'."
            ),
            "signatories": [
                {
                    "name": "bomguard",
                    "role": "automated assessor",
                    "organization": {"name": "bomguard"},
                    "externalReference": {
                        "type": "other",
                        "url": "https://pypi.org/project/bomguard/",
                    },
                }
            ],
        },
    }
    return declarations, standards


def merge_declarations(
    document: Mapping[str, Any], declarations: dict[str, Any], standards: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Merge ours into a document's existing declarations/definitions (ours replaced)."""

    def ours(item: object) -> bool:
        return isinstance(item, dict) and str(item.get("bom-ref", "")).startswith(PREFIX)

    existing = document.get("declarations")
    merged: dict[str, Any] = dict(existing) if isinstance(existing, dict) else {}
    for key in ("assessors", "claims", "evidence"):
        kept = [i for i in merged.get(key, []) if not ours(i)]
        merged[key] = kept + declarations[key]
    kept_att = [
        a
        for a in merged.get("attestations", [])
        if not (isinstance(a, dict) and a.get("assessor") == ASSESSOR)
    ]
    merged["attestations"] = kept_att + declarations["attestations"]
    merged.setdefault("affirmation", declarations["affirmation"])
    if (
        isinstance(merged.get("affirmation"), dict)
        and merged["affirmation"] is not declarations["affirmation"]
        and "bomguard" in str(merged["affirmation"].get("statement", ""))
    ):
        merged["affirmation"] = declarations["affirmation"]
    definitions_in = document.get("definitions")
    definitions: dict[str, Any] = dict(definitions_in) if isinstance(definitions_in, dict) else {}
    definitions["standards"] = [
        s for s in definitions.get("standards", []) if not ours(s)
    ] + standards
    return merged, definitions


def read_embedded(
    document: Mapping[str, Any],
    locator_of: Mapping[Any, str],
    spool: ProvenanceSpool | None = None,
) -> dict[str, list[tuple[str, str | None, bytes]]]:
    """The provenance objects bomguard embedded, by the locator of the claim's target.

    Each is ``(filename, recorded sha256, provenance bytes)``. Attachments that do not
    decode are returned as empty bytes, so that re-verification calls them invalid. A
    placeholder of ``spool`` (a document enriched in this run, not yet written) is read
    back from it.
    """
    declarations = document.get("declarations")
    if not isinstance(declarations, dict):
        return {}
    evidence = {
        e.get("bom-ref"): e
        for e in declarations.get("evidence", [])
        if isinstance(e, dict) and e.get("propertyName") == "bomguard:provenance"
    }
    out: dict[str, list[tuple[str, str | None, bytes]]] = {}
    for claim in declarations.get("claims", []):
        if not isinstance(claim, dict) or not str(claim.get("bom-ref", "")).startswith(PREFIX):
            continue
        locator = locator_of.get(claim.get("target"))
        if locator is None:
            continue
        for ref in claim.get("evidence", []):
            item = evidence.get(ref)
            if item is None:
                continue
            for data in item.get("data", []):
                name = str(data.get("name", ""))
                attachment = (data.get("contents") or {}).get("attachment")
                if not isinstance(attachment, dict):
                    continue
                filename, _, digest = name.rpartition(" sha256:")
                content = str(attachment.get("content", ""))
                if spool is not None and content.startswith(spool.token):
                    raw = spool.read(content.removeprefix(spool.token))
                else:
                    try:
                        raw = base64.b64decode(content, validate=True)
                    except ValueError:
                        raw = b""
                out.setdefault(locator, []).append((filename or name, digest or None, raw))
    return out
