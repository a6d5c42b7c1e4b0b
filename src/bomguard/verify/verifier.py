"""Turn a PEP 740 provenance object and a file digest into a verified fact or a named failure.

Each attestation is checked with sigstore's verifier against the loaded trust root
(signature, certificate chain, SCT, every transparency-log entry), against the Trusted
Publisher (the one the provenance names, or the one a caller holds it to), and against
the file: exactly one subject, whose name is this file's name and whose sha256 is the
digest from an independent source (the index, the SBOM, or the downloaded bytes). Every
failure is a status with a reason.

``unsupported`` never shields a forgery: it is given only to an attestation whose
certificate chains to the trust root, whose DSSE signature is the certificate's, and
whose subject is this file, and which then meets something bomguard cannot finish
checking (a publisher kind it does not know, a predicate type it does not understand, a
transparency-log entry form that PEP 740 cannot carry the proofs for). Anything that
fails one of the checks that *can* be made is ``invalid``.
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

DSSE_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _entry_form(entry: object) -> str:
    """``kind/version`` of a transparency-log entry (``?`` for what is not said)."""
    if not isinstance(entry, Mapping):
        return "?/?"
    kind_version = entry.get("kindVersion") or entry.get("kind_version") or {}
    if not isinstance(kind_version, Mapping):
        return "?/?"
    return f"{kind_version.get('kind', '?')}/{kind_version.get('version', '?')}"


#: The one entry form a PEP 740 attestation carries every proof for (Rekor v1's DSSE
#: entry with its inclusion promise). Other forms (Rekor v2's) need signed timestamps
#: that the PEP 740 attestation object has no place for.
FINISHABLE_ENTRY_FORM = "dsse/0.0.1"


class _AnyIdentity:
    """A sigstore verification policy that accepts every certificate identity: used only
    to check the signature, chain and log of a bundle whose publisher kind is unknown,
    before calling it ``unsupported`` (never ``verified``)."""

    def verify(self, cert: object) -> None:
        return None


def one_entry_bundle(attestation: Any, entry: object) -> Any:
    """The Sigstore bundle of ``attestation`` (a pypi-attestations ``Attestation``) with
    only the transparency-log entry ``entry``: each entry is verified on its own."""
    one = attestation.model_copy(
        update={
            "verification_material": attestation.verification_material.model_copy(
                update={"transparency_entries": [entry]}
            )
        }
    )
    return one.to_bundle()


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@functools.cache
def _publisher_adapter() -> Any:
    """pydantic's validator for a Trusted Publisher (building one costs ~1.5 ms)."""
    from pydantic import TypeAdapter
    from pypi_attestations import Publisher

    return TypeAdapter(Publisher)


def _publisher_json(publisher: Any) -> dict[str, str]:
    dumped = publisher.model_dump(mode="json", exclude_none=True)
    return {str(k): str(v) for k, v in dumped.items()}


class ProvenanceVerifier:
    """Verifies provenance objects against one trust root (reusable, not thread-safe)."""

    def __init__(self, trust_root: TrustRoot) -> None:
        from bomguard.verify._memo import MemoVerifier
        from bomguard.verify.fast import FastPath
        from bomguard.verify.logkeys import LogKeyWindows

        self.trust_root = trust_root
        trusted_root = trust_root.load()
        # sigstore's Verifier, each certificate's chain checked once (see _memo).
        self._verifier = MemoVerifier(trusted_root=trusted_root)
        # Tried first; only its successes count, anything else sigstore decides (see fast).
        self.fast_path: FastPath | None = FastPath(trusted_root, self._verifier)
        # Checked before either: sigstore does not hold a log key to its validFor window.
        self._log_keys = LogKeyWindows.from_trusted_root(trust_root.raw)

    def verify(
        self,
        provenance: bytes,
        filename: str,
        sha256: str | None,
        digest_source: DigestSource | None = None,
        publisher: Mapping[str, str] | None = None,
    ) -> FileVerdict:
        """Verify every attestation of one file; the file is verified only if all are.

        ``sha256`` must come from a source independent of the provenance (the index,
        the SBOM or the downloaded bytes; ``digest_source`` says which, and only
        annotates the result). ``publisher``, when given, is the Trusted Publisher every
        attestation is held to instead of the one each bundle names (``bomguard verify``
        holds the evidence to the publisher the SBOM recorded).
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
            results.extend(self._verify_bundle(i, bundle, filename, sha256, publisher))
        if not results:
            return Status.INVALID, "provenance has no attestations", (), None
        for status in (Status.INVALID, Status.UNSUPPORTED):
            bad = [r for r in results if r.status is status]
            if bad:
                return status, bad[0].reason, tuple(results), None
        identity = next((r.identity for r in results if r.identity is not None), None)
        return Status.VERIFIED, "", tuple(results), identity

    def _verify_bundle(
        self,
        index: int,
        bundle: object,
        filename: str,
        sha256: str,
        held_to: Mapping[str, str] | None,
    ) -> list[AttestationResult]:
        from pydantic import ValidationError
        from pypi_attestations import Attestation

        where = f"attestation_bundles[{index}]"
        if not isinstance(bundle, dict):
            return [AttestationResult(None, Status.INVALID, f"{where} is not an object")]
        attestations = bundle.get("attestations")
        if not isinstance(attestations, list) or not attestations:
            return [AttestationResult(None, Status.INVALID, f"{where} has no attestations")]
        raw_publisher = dict(held_to) if held_to is not None else bundle.get("publisher")
        kind = raw_publisher.get("kind") if isinstance(raw_publisher, dict) else None
        publisher: Any = None
        unknown_kind = ""
        if kind not in KNOWN_PUBLISHER_KINDS:
            unknown_kind = (
                f"{where}: publisher kind {kind!r} is not a Trusted Publisher bomguard knows"
            )
        else:
            try:
                publisher = _publisher_adapter().validate_python(raw_publisher)
            except ValidationError as err:
                reason = f"{where}.publisher is malformed: {_first_line(err)}"
                return [AttestationResult(None, Status.INVALID, reason) for _ in attestations]
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
                self._verify_one(label, attestation, raw, publisher, unknown_kind, filename, sha256)
            )
        return out

    def _precheck(self, label: str, attestation: Any) -> str | None:
        """Check what can be checked without the transparency log: the certificate chains
        to the trust root (at the start of its own validity) and made the DSSE signature.
        Returns why not, or ``None``."""
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from sigstore._internal.timestamp import TimestampSource, TimestampVerificationResult

        try:
            cert = x509.load_der_x509_certificate(attestation.verification_material.certificate)
        except ValueError as err:
            return f"{label}: the certificate does not parse: {_first_line(err)}"
        try:
            # sigstore's own chain check (private: the public API needs a log entry).
            self._verifier._verify_chain_at_time(
                cert,
                TimestampVerificationResult(
                    source=TimestampSource.TRANSPARENCY_SERVICE, time=cert.not_valid_before_utc
                ),
            )
        except Exception as err:
            return f"{label}: the certificate does not chain to the trust root: {_first_line(err)}"
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return f"{label}: the certificate's key is not an EC key"
        try:
            key.verify(
                attestation.envelope.signature,
                _pae(DSSE_PAYLOAD_TYPE, attestation.envelope.statement),
                ec.ECDSA(hashes.SHA256()),
            )
        except InvalidSignature:
            return (
                f"{label}: signature verification failed: "
                "the DSSE signature is not the certificate's"
            )
        return None

    def _verify_one(
        self,
        label: str,
        attestation: Any,
        raw: Mapping[str, Any],
        publisher: Any,
        unknown_kind: str,
        filename: str,
        sha256: str,
    ) -> AttestationResult:
        import sigstore.errors

        material = raw.get("verification_material")
        entries = material.get("transparency_entries") if isinstance(material, dict) else None
        if not isinstance(entries, list) or not entries:
            return AttestationResult(None, Status.INVALID, f"{label}: no transparency-log entry")
        policy: Any = publisher._as_policy() if publisher is not None else _AnyIdentity()
        unfinished = ""
        payload_type, payload = DSSE_PAYLOAD_TYPE, attestation.envelope.statement
        certificate: Any = None
        for n, entry in enumerate(entries):
            where = f"{label}: transparency-log entry {n}" if len(entries) > 1 else label
            form = _entry_form(entry)
            outside = self._log_keys.problem(where, entry)
            if outside is not None:
                return AttestationResult(None, Status.INVALID, outside)
            try:
                fast = self.fast_path and self.fast_path.verify_dsse(
                    attestation.verification_material.certificate,
                    attestation.envelope.statement,
                    attestation.envelope.signature,
                    entry,
                    policy,
                )
                if fast:
                    payload_type, payload, certificate = fast
                else:
                    # sigstore's full verifier: the reference, and every error's wording.
                    bundle = one_entry_bundle(attestation, entry)
                    payload_type, payload = self._verifier.verify_dsse(bundle, policy)
                    certificate = bundle.signing_certificate
            except Exception as err:
                if isinstance(err, sigstore.errors.Error):
                    why = f"signature verification failed: {_first_line(err)}"
                else:
                    why = f"verification error: {_first_line(err)}"
                if form == FINISHABLE_ENTRY_FORM:
                    return AttestationResult(None, Status.INVALID, f"{where}: {why}")
                problem = self._precheck(label, attestation)
                if problem is not None:
                    return AttestationResult(None, Status.INVALID, problem)
                unfinished = unfinished or (
                    f"{where}: a {form} transparency-log entry cannot be checked from a "
                    f"PEP 740 attestation ({_first_line(err)})"
                )
        if payload_type != DSSE_PAYLOAD_TYPE:
            return AttestationResult(
                None, Status.INVALID, f"{label}: unexpected payload type {payload_type!r}"
            )
        try:
            statement = json.loads(payload)
            subjects = statement["subject"]
            predicate_type = statement.get("predicateType")
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            return AttestationResult(None, Status.INVALID, f"{label}: malformed statement: {err}")
        problem = _subject_problem(label, subjects, filename, sha256)
        if problem is not None:
            return AttestationResult(predicate_type, Status.INVALID, problem)
        if unfinished:
            return AttestationResult(predicate_type, Status.UNSUPPORTED, unfinished)
        if unknown_kind:
            return AttestationResult(predicate_type, Status.UNSUPPORTED, unknown_kind)
        if predicate_type not in KNOWN_PREDICATES:
            return AttestationResult(
                predicate_type,
                Status.UNSUPPORTED,
                f"{label}: predicate type {predicate_type!r} is not one bomguard understands",
            )
        identity = identity_from_certificate(
            certificate if certificate is not None else attestation.to_bundle().signing_certificate,
            kind=publisher.kind,
            repository=getattr(publisher, "repository", None)
            or getattr(publisher, "vcs_origin", None),
            workflow=getattr(publisher, "workflow", None)
            or getattr(publisher, "workflow_filepath", None),
            environment=getattr(publisher, "environment", None),
            log_entry=entries[0],
            trusted_publisher=_publisher_json(publisher),
        )
        return AttestationResult(predicate_type, Status.VERIFIED, "", identity)


def _subject_problem(label: str, subjects: object, filename: str, sha256: str) -> str | None:
    """Why the statement's subject is not exactly this file, or ``None``."""
    from pypi_attestations._impl import _check_dist_filename

    if not isinstance(subjects, list) or len(subjects) != 1:
        count = len(subjects) if isinstance(subjects, list) else 0
        return f"{label}: statement has {count} subjects (exactly one is required)"
    subject = subjects[0] if isinstance(subjects[0], dict) else {}
    name = subject.get("name")
    try:
        if not isinstance(name, str) or _check_dist_filename(name) != _check_dist_filename(
            filename
        ):
            return f"{label}: subject name {name!r} does not match the file {filename!r}"
    except ValueError as err:
        return f"{label}: subject name {name!r} is invalid: {err}"
    digest = subject.get("digest", {})
    claimed = digest.get("sha256") if isinstance(digest, dict) else None
    if not isinstance(claimed, str) or claimed.lower() != sha256.lower():
        return f"{label}: subject sha256 {claimed} does not match the file's {sha256}"
    return None
