"""Build and check the VSA statement: an in-toto Statement v1 with a SLSA VSA v1 predicate.

The statement (see ``docs/vsa.md``)::

    _type          https://in-toto.io/Statement/v1
    subject[0]     the enriched SBOM: its file name and the sha256 of the bytes written
    subject[1:]    each PyPI distribution file judged that has a sha256, sorted
    predicateType  https://slsa.dev/verification_summary/v1
    predicate      verifier.id/version, timeVerified, resourceUri, policy,
                   inputAttestations, verificationResult, verifiedLevels

``verifiedLevels`` uses bomguard's own vocabulary, never an ``SLSA_`` level: one
``BOMGUARD_POLICY_<NAME>`` per policy that passed (its name upper-cased, every run of
other characters than ``A-Z0-9`` made one ``_``), and ``FAILED`` when the verdict failed
(the SLSA rule for a failed verification). The same inputs give the same bytes: every
list is sorted, and ``timeVerified`` is ``SOURCE_DATE_EPOCH`` when that is set.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "VERIFIER_ID",
    "StatementProblem",
    "Subject",
    "VsaInputs",
    "build_statement",
    "check_statement",
    "inputs_from_result",
    "level_for",
    "resource_uri_in",
    "resource_uri_of",
    "time_verified",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
VERIFIER_ID = "https://pypi.org/project/bomguard/"
"""``verifier.id``: the project's home on PyPI (the version is in ``verifier.version``)."""
POLICY_SET_URI = "bomguard:policy-set"
"""``policy.uri`` when several policies judged (each is listed in its annotations)."""
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SLSA_LEVEL = re.compile(r"^SLSA_([A-Z]+)_LEVEL_[0-4]$")
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class StatementProblem(ValueError):
    """A statement that breaks the in-toto Statement v1 or the VSA v1 field rules."""


@dataclass(frozen=True, slots=True)
class Subject:
    """One artifact the statement is about: a name and its sha256 (lowercase hex)."""

    name: str
    sha256: str
    annotations: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "digest": {"sha256": self.sha256}}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True, slots=True)
class VsaInputs:
    """What one VSA says, gathered from an enrichment (see :func:`inputs_from_result`)."""

    sbom: Subject
    files: tuple[Subject, ...]
    resource_uri: str
    policies: tuple[tuple[str, str, str], ...]
    """``(name, uri, sha256)`` of each policy that judged."""
    passed_policies: tuple[str, ...]
    """Names of the policies with no error-severity violation."""
    provenance: tuple[tuple[str, str], ...]
    """``(uri, sha256)`` of each provenance object fetched and verified."""
    passed: bool
    time_verified: str
    versions: Mapping[str, str]


def level_for(policy_name: str) -> str:
    """The ``verifiedLevels`` value a passed policy gives: ``BOMGUARD_POLICY_<NAME>``."""
    return "BOMGUARD_POLICY_" + (re.sub(r"[^A-Z0-9]+", "_", policy_name.upper()).strip("_") or "_")


def time_verified(evaluated_at: datetime.datetime) -> str:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else ``evaluated_at``; UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    moment = (
        datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC)
        if epoch.isdigit()
        else evaluated_at.astimezone(datetime.UTC)
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _policy_descriptor(policies: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """One ResourceDescriptor (VSA ``policy`` is one): the policy, or the set of them."""
    items = sorted({(uri, sha) for _, uri, sha in policies})
    if len(items) == 1:
        uri, sha = items[0]
        return {"uri": uri, "digest": {"sha256": sha}}
    listed = [{"uri": uri, "digest": {"sha256": sha}} for uri, sha in items]
    canonical = json.dumps(listed, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return {
        "uri": POLICY_SET_URI,
        "digest": {"sha256": hashlib.sha256(canonical).hexdigest()},
        "annotations": {"policies": listed},
    }


def build_statement(inputs: VsaInputs) -> bytes:
    """The statement's JSON bytes (sorted keys, two-space indent, final newline)."""
    if not inputs.policies:
        raise StatementProblem("a VSA needs the policy that judged; none was given")
    files = sorted(set(inputs.files), key=lambda s: (s.name, s.sha256))
    levels = sorted({level_for(name) for name in inputs.passed_policies})
    if not inputs.passed:
        levels = ["FAILED", *levels]
    predicate = {
        "verifier": {"id": VERIFIER_ID, "version": dict(sorted(inputs.versions.items()))},
        "timeVerified": inputs.time_verified,
        "resourceUri": inputs.resource_uri,
        "policy": _policy_descriptor(inputs.policies),
        "inputAttestations": [
            {"uri": uri, "digest": {"sha256": sha}} for uri, sha in sorted(set(inputs.provenance))
        ],
        "verificationResult": "PASSED" if inputs.passed else "FAILED",
        "verifiedLevels": levels,
    }
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [inputs.sbom.to_dict(), *(s.to_dict() for s in files)],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    data = (json.dumps(statement, indent=2, sort_keys=True) + "\n").encode("utf-8")
    check_statement(json.loads(data))
    return data


def resource_uri_of(sbom_bytes: bytes) -> str | None:
    """The SBOM's own name for itself: a CycloneDX JSON ``serialNumber``, an SPDX 2 JSON
    ``documentNamespace``, or ``None`` (other encodings: the VSA names the file)."""
    try:
        doc = json.loads(sbom_bytes)
    except ValueError:
        return None
    return resource_uri_in(doc)


def resource_uri_in(doc: object) -> str | None:
    """:func:`resource_uri_of` for a JSON document already parsed (or about to be written)."""
    if not isinstance(doc, dict):
        return None
    for key in ("serialNumber", "documentNamespace"):
        value = doc.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def inputs_from_result(
    result: Any, sbom_name: str, sbom_bytes: bytes | str, resource_uri: str | None
) -> VsaInputs:
    """Gather a VSA's facts from a :class:`bomguard.pipeline.EnrichResult`.

    ``sbom_bytes`` are the enriched SBOM's bytes exactly as written (or, a string, their
    sha256 in hex); ``resource_uri`` the SBOM's serial number (or ``None``: the file name
    is used).
    """
    import sigstore

    from bomguard import __version__
    from bomguard.index import redact_url

    files: list[Subject] = []
    provenance: set[tuple[str, str]] = set()
    for component in result.components:
        evidence = result.evidence.get(component.locator)
        if evidence is None:
            continue
        for f in evidence.files:
            if f.sha256:
                files.append(
                    Subject(
                        f.filename, f.sha256.lower(), (("bomguard:provenance", f.status.value),)
                    )
                )
            digest = f.provenance_sha256
            if digest:
                where = f.provenance_url or f"{evidence.index_url or ''}{f.filename}/provenance"
                provenance.add((redact_url(where), digest))
    failing = {v.policy for v in result.verdict.violations if v.severity == "error"}
    policies = tuple((p.name, p.path or f"builtin:{p.name}", p.sha256) for p in result.policies)
    return VsaInputs(
        sbom=Subject(
            sbom_name,
            sbom_bytes if isinstance(sbom_bytes, str) else hashlib.sha256(sbom_bytes).hexdigest(),
        ),
        files=tuple(files),
        resource_uri=resource_uri or sbom_name,
        policies=policies,
        passed_policies=tuple(name for name, _, _ in policies if name not in failing),
        provenance=tuple(provenance),
        passed=result.verdict.verdict == "pass",
        time_verified=time_verified(result.evaluated_at),
        versions={"bomguard": __version__, "sigstore": sigstore.__version__},
    )


# --------------------------------------------------------------------------- checking


def _descriptor(where: str, value: Any, *, need_uri: bool, need_digest: bool) -> None:
    """An in-toto ResourceDescriptor: uri/name strings, a digest map of hex strings."""
    if not isinstance(value, dict):
        raise StatementProblem(f"{where}: not an object")
    for key in ("name", "uri"):
        if key in value and not (isinstance(value[key], str) and value[key]):
            raise StatementProblem(f"{where}.{key}: not a non-empty string")
    if need_uri and "uri" not in value:
        raise StatementProblem(f"{where}.uri: missing")
    digest = value.get("digest")
    if digest is None:
        if need_digest:
            raise StatementProblem(f"{where}.digest: missing")
        return
    if not isinstance(digest, dict) or not digest:
        raise StatementProblem(f"{where}.digest: not a non-empty object")
    for algorithm, hexdigest in digest.items():
        if not isinstance(hexdigest, str) or not hexdigest:
            raise StatementProblem(f"{where}.digest.{algorithm}: not a non-empty string")
    if "sha256" in digest and not _SHA256.match(digest["sha256"]):
        raise StatementProblem(f"{where}.digest.sha256: not 64 lowercase hex digits")
    if "annotations" in value and not isinstance(value["annotations"], dict):
        raise StatementProblem(f"{where}.annotations: not an object")


def check_statement(statement: Any) -> dict[str, Any]:
    """Return ``statement`` if it is a well-formed VSA statement, else raise
    :class:`StatementProblem` naming the key path that breaks a rule.

    in-toto Statement v1: ``_type``, a non-empty ``subject`` list of descriptors each
    with a name and a digest, ``predicateType`` (a URI) and an object ``predicate``.
    SLSA VSA v1: ``verifier.id``, ``resourceUri``, ``policy.uri``, ``verificationResult``
    (``PASSED``/``FAILED``) and ``verifiedLevels`` are required; ``timeVerified`` is
    RFC 3339; ``inputAttestations`` are descriptors with a uri and a digest; no
    ``verifiedLevels`` value starts with ``SLSA_`` unless it is an SLSA level, with at
    most one per track; a ``FAILED`` result lists ``FAILED`` and a ``PASSED`` one does not.
    """
    if not isinstance(statement, dict):
        raise StatementProblem("the statement is not a JSON object")
    if statement.get("_type") != STATEMENT_TYPE:
        raise StatementProblem(f"_type: not {STATEMENT_TYPE}")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise StatementProblem("subject: not a non-empty list")
    for n, subject in enumerate(subjects):
        _descriptor(f"subject[{n}]", subject, need_uri=False, need_digest=True)
        if "name" not in subject:
            raise StatementProblem(f"subject[{n}].name: missing")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise StatementProblem(f"predicateType: not {PREDICATE_TYPE}")
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        raise StatementProblem("predicate: not an object")
    verifier = predicate.get("verifier")
    if not isinstance(verifier, dict) or not isinstance(verifier.get("id"), str):
        raise StatementProblem("predicate.verifier.id: missing")
    version = verifier.get("version", {})
    if not isinstance(version, dict) or not all(isinstance(v, str) for v in version.values()):
        raise StatementProblem("predicate.verifier.version: not a map of strings")
    when = predicate.get("timeVerified")
    if when is not None and not (isinstance(when, str) and _RFC3339.match(when)):
        raise StatementProblem("predicate.timeVerified: not an RFC 3339 timestamp")
    if not (isinstance(predicate.get("resourceUri"), str) and predicate["resourceUri"]):
        raise StatementProblem("predicate.resourceUri: missing")
    _descriptor("predicate.policy", predicate.get("policy"), need_uri=True, need_digest=False)
    inputs = predicate.get("inputAttestations", [])
    if not isinstance(inputs, list):
        raise StatementProblem("predicate.inputAttestations: not a list")
    for n, item in enumerate(inputs):
        _descriptor(f"predicate.inputAttestations[{n}]", item, need_uri=True, need_digest=True)
    result = predicate.get("verificationResult")
    if result not in ("PASSED", "FAILED"):
        raise StatementProblem("predicate.verificationResult: not PASSED or FAILED")
    levels = predicate.get("verifiedLevels")
    if not isinstance(levels, list) or not all(isinstance(v, str) and v for v in levels):
        raise StatementProblem("predicate.verifiedLevels: not a list of strings")
    tracks: set[str] = set()
    for level in levels:
        if level.startswith("SLSA_"):
            match = _SLSA_LEVEL.match(level)
            if match is None:
                raise StatementProblem(
                    f"predicate.verifiedLevels: {level!r}: custom values may not start with SLSA_"
                )
            if match.group(1) in tracks:
                raise StatementProblem(
                    f"predicate.verifiedLevels: more than one level of the {match.group(1)} track"
                )
            tracks.add(match.group(1))
    if (result == "FAILED") != ("FAILED" in levels):
        raise StatementProblem(
            "predicate.verifiedLevels: FAILED must be listed exactly when the result is FAILED"
        )
    return statement
