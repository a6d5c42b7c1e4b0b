"""Turn a PEP 740 provenance object and a file digest into a verified fact or a named failure.

Each attestation is checked with sigstore's verifier against the loaded trust root
(signature, certificate chain, SCT, transparency-log entry), against the Trusted
Publisher the provenance names (the certificate must satisfy it), and against the file:
exactly one subject, whose name is this file's name and whose sha256 is the digest from
an independent source (the index or the SBOM). Every failure is a status with a reason.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from bomguard.models import AttestationResult, DigestSource, Identity, Status
from bomguard.verify.claims import identity_from_certificate
from bomguard.verify.trust import TrustRoot

__all__ = ["KNOWN_PUBLISHER_KINDS", "FileVerdict", "ProvenanceVerifier"]

KNOWN_PUBLISHER_KINDS = frozenset({"GitHub", "GitLab", "Google", "CircleCI"})
KNOWN_PREDICATES = frozenset(
    {"https://docs.pypi.org/attestations/publish/v1", "https://slsa.dev/provenance/v1"}
)

FileVerdict = tuple[Status, str, tuple[AttestationResult, ...], Identity | None]


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _is_rekor_v2(entry: Mapping[str, Any]) -> bool:
    """Whether a transparency entry is a Rekor v2 entry (no inclusion promise, v0.0.2 kind)."""
    kind_version = entry.get("kindVersion") or entry.get("kind_version") or {}
    version = kind_version.get("version") if isinstance(kind_version, dict) else None
    promise = entry.get("inclusionPromise") or entry.get("inclusion_promise")
    return not promise and version not in (None, "0.0.1")


@functools.cache
def _publisher_adapter() -> Any:
    """pydantic's validator for a Trusted Publisher (building one costs ~1.5 ms)."""
    from pydantic import TypeAdapter
    from pypi_attestations import Publisher

    return TypeAdapter(Publisher)


class ProvenanceVerifier:
    """Verifies provenance objects against one trust root (reusable, not thread-safe)."""

    def __init__(self, trust_root: TrustRoot) -> None:
        from sigstore.verify import Verifier

        self.trust_root = trust_root
        self._verifier = Verifier(trusted_root=trust_root.load())  # type: ignore[arg-type]

    def verify(
        self,
        provenance: bytes,
        filename: str,
        sha256: str | None,
        digest_source: DigestSource | None = None,
    ) -> FileVerdict:
        """Verify every attestation of one file; the file is verified only if all are.

        ``sha256`` must come from a source independent of the provenance (the index or
        the SBOM; ``digest_source`` says which, and only annotates the result).
        """
        try:
            data = json.loads(provenance)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return Status.INVALID, f"provenance is not JSON: {err}", (), None
        if not isinstance(data, dict) or data.get("version") != 1:
            return Status.INVALID, "provenance object is not PEP 740 version 1", (), None
        bundles = data.get("attestation_bundles")
        if not isinstance(bundles, list) or not bundles:
            return Status.INVALID, "provenance has no attestation bundles", (), None
        if sha256 is None:
            return (
                Status.UNKNOWN,
                "no independent sha256 for this file to bind the attestation to",
                (),
                None,
            )
        results: list[AttestationResult] = []
        for i, bundle in enumerate(bundles):
            results.extend(self._verify_bundle(i, bundle, filename, sha256))
        if not results:
            return Status.INVALID, "provenance has no attestations", (), None
        for status in (Status.INVALID, Status.UNSUPPORTED):
            bad = [r for r in results if r.status is status]
            if bad:
                return status, bad[0].reason, tuple(results), None
        identity = next((r.identity for r in results if r.identity is not None), None)
        return Status.VERIFIED, "", tuple(results), identity

    def _verify_bundle(
        self, index: int, bundle: object, filename: str, sha256: str
    ) -> list[AttestationResult]:
        from pydantic import ValidationError
        from pypi_attestations import Attestation

        where = f"attestation_bundles[{index}]"
        if not isinstance(bundle, dict):
            return [AttestationResult(None, Status.INVALID, f"{where} is not an object")]
        attestations = bundle.get("attestations")
        if not isinstance(attestations, list) or not attestations:
            return [AttestationResult(None, Status.INVALID, f"{where} has no attestations")]
        raw_publisher = bundle.get("publisher")
        kind = raw_publisher.get("kind") if isinstance(raw_publisher, dict) else None
        if kind not in KNOWN_PUBLISHER_KINDS:
            reason = f"{where}: publisher kind {kind!r} is not a Trusted Publisher bomguard knows"
            return [AttestationResult(None, Status.UNSUPPORTED, reason) for _ in attestations]
        try:
            publisher: Any = _publisher_adapter().validate_python(raw_publisher)
        except ValidationError as err:
            reason = f"{where}.publisher is malformed: {_first_line(err)}"
            return [AttestationResult(None, Status.INVALID, reason) for _ in attestations]
        environment = getattr(publisher, "environment", None)
        out = []
        for j, raw in enumerate(attestations):
            label = f"{where}.attestations[{j}]"
            try:
                attestation = Attestation.model_validate(raw)
            except ValidationError as err:
                out.append(
                    AttestationResult(
                        None, Status.INVALID, f"{label} is malformed: {_first_line(err)}"
                    )
                )
                continue
            out.append(
                self._verify_one(label, attestation, raw, publisher, environment, filename, sha256)
            )
        return out

    def _verify_one(
        self,
        label: str,
        attestation: Any,
        raw: Mapping[str, Any],
        publisher: Any,
        environment: str | None,
        filename: str,
        sha256: str,
    ) -> AttestationResult:
        import sigstore.errors
        from pypi_attestations._impl import _check_dist_filename

        entries = raw.get("verification_material", {}).get("transparency_entries") or []
        if len(entries) != 1:
            return AttestationResult(
                None,
                Status.UNSUPPORTED,
                f"{label}: {len(entries)} transparency-log entries (exactly one is supported)",
            )
        if isinstance(entries[0], dict) and _is_rekor_v2(entries[0]):
            return AttestationResult(
                None,
                Status.UNSUPPORTED,
                f"{label}: Rekor v2 transparency-log entry, which cannot be verified yet",
            )
        try:
            sigstore_bundle = attestation.to_bundle()
        except Exception as err:
            return AttestationResult(
                None, Status.INVALID, f"{label}: cannot form a Sigstore bundle: {_first_line(err)}"
            )
        try:
            payload_type, payload = self._verifier.verify_dsse(
                sigstore_bundle, publisher._as_policy()
            )
        except sigstore.errors.Error as err:
            return AttestationResult(
                None, Status.INVALID, f"{label}: signature verification failed: {_first_line(err)}"
            )
        except Exception as err:
            return AttestationResult(
                None, Status.INVALID, f"{label}: verification error: {_first_line(err)}"
            )
        if payload_type != "application/vnd.in-toto+json":
            return AttestationResult(
                None, Status.INVALID, f"{label}: unexpected payload type {payload_type!r}"
            )
        try:
            statement = json.loads(payload)
            subjects = statement["subject"]
            predicate_type = statement.get("predicateType")
        except (ValueError, KeyError, TypeError) as err:
            return AttestationResult(None, Status.INVALID, f"{label}: malformed statement: {err}")
        if not isinstance(subjects, list) or len(subjects) != 1:
            count = len(subjects) if isinstance(subjects, list) else 0
            return AttestationResult(
                predicate_type,
                Status.INVALID,
                f"{label}: statement has {count} subjects (exactly one is required)",
            )
        subject = subjects[0] if isinstance(subjects[0], dict) else {}
        name = subject.get("name")
        try:
            if not isinstance(name, str) or _check_dist_filename(name) != _check_dist_filename(
                filename
            ):
                return AttestationResult(
                    predicate_type,
                    Status.INVALID,
                    f"{label}: subject name {name!r} does not match the file {filename!r}",
                )
        except ValueError as err:
            return AttestationResult(
                predicate_type, Status.INVALID, f"{label}: subject name {name!r} is invalid: {err}"
            )
        digest = subject.get("digest", {})
        claimed = digest.get("sha256") if isinstance(digest, dict) else None
        if not isinstance(claimed, str) or claimed.lower() != sha256.lower():
            return AttestationResult(
                predicate_type,
                Status.INVALID,
                f"{label}: subject sha256 {claimed} does not match the file's {sha256}",
            )
        if predicate_type not in KNOWN_PREDICATES:
            return AttestationResult(
                predicate_type,
                Status.UNSUPPORTED,
                f"{label}: predicate type {predicate_type!r} is not one bomguard understands",
            )
        identity = identity_from_certificate(
            sigstore_bundle.signing_certificate,
            kind=publisher.kind,
            repository=getattr(publisher, "repository", None)
            or getattr(publisher, "vcs_origin", None),
            workflow=getattr(publisher, "workflow", None)
            or getattr(publisher, "workflow_filepath", None),
            environment=environment,
            log_entry=entries[0],
        )
        return AttestationResult(predicate_type, Status.VERIFIED, "", identity)
