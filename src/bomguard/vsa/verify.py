"""Verify a signed VSA: the bundle's signature and signer, then the SBOM against it.

In order, each failure a :class:`VsaRejected` (exit 1) naming what failed:

1. the file is a Sigstore bundle holding a DSSE envelope (an unsigned statement or a bare
   envelope is refused: nothing vouches for it);
2. sigstore-python verifies it against the trust root: the certificate chains to the
   trusted Fulcio CA, the signature is in the trusted Rekor log (inclusion proof, signed
   entry timestamp, checkpoint), the DSSE signature covers the statement, and the
   certificate's identity and OIDC issuer are exactly the expected ones;
3. the signed payload is an in-toto statement with a VSA predicate that keeps the
   Statement v1 and VSA v1 field rules (:func:`bomguard.vsa.statement.check_statement`);
4. the SBOM's bytes hash to the first subject's sha256.

What the VSA then says (``PASSED``/``FAILED``, the policies) is returned as
:class:`VsaCheck`; a ``FAILED`` result is authentic, and the caller decides (the CLI exits 1).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bomguard.errors import BomguardError, InputError, describe
from bomguard.vsa.statement import STATEMENT_TYPE, StatementProblem, check_statement

__all__ = ["VsaCheck", "VsaRejected", "verify_vsa"]

_DSSE_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class VsaRejected(BomguardError):
    """The VSA does not vouch for the SBOM (bad signature, signer, statement or digest)."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class VsaCheck:
    """A verified VSA: who signed it and what it says."""

    statement: dict[str, Any]
    sbom_sha256: str
    signer: str
    issuer: str

    @property
    def predicate(self) -> dict[str, Any]:
        predicate: dict[str, Any] = self.statement["predicate"]
        return predicate

    @property
    def passed(self) -> bool:
        return bool(self.predicate["verificationResult"] == "PASSED")

    @property
    def levels(self) -> list[str]:
        return list(self.predicate["verifiedLevels"])

    @property
    def policies(self) -> list[dict[str, Any]]:
        """Each policy that judged (uri and digest), also when several judged together."""
        policy = self.predicate["policy"]
        listed = policy.get("annotations", {}).get("policies")
        return list(listed) if isinstance(listed, list) else [policy]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read {what}: {err.strerror or err}") from err


def _load_bundle(path: Path, raw: bytes) -> Any:
    from sigstore.models import Bundle

    try:
        doc = json.loads(raw)
    except ValueError as err:
        raise InputError(f"{path}: not a Sigstore bundle: not JSON ({err})") from err
    if isinstance(doc, dict) and doc.get("_type") == STATEMENT_TYPE:
        raise VsaRejected(
            f"{path}: an unsigned in-toto statement, not a Sigstore bundle: nothing vouches "
            "for it (sign it with 'bomguard enrich --vsa PATH --sign')"
        )
    if isinstance(doc, dict) and "payloadType" in doc and "signatures" in doc:
        raise VsaRejected(
            f"{path}: a bare DSSE envelope, not a Sigstore bundle: it carries no certificate "
            "or transparency log entry to verify"
        )
    try:
        bundle = Bundle.from_json(raw)
    except Exception as err:
        raise InputError(f"{path}: not a Sigstore bundle: {describe(err)}") from err
    if bundle._dsse_envelope is None:
        raise VsaRejected(f"{path}: the bundle signs no DSSE envelope, so no VSA statement")
    return bundle


def _check_log_key_windows(bundle_path: Path, raw: bytes, root_raw: bytes) -> None:
    """Each log entry of the bundle (``raw``, the bytes verified) must be signed by a log
    key valid at its integrated time (sigstore's keyring holds every key of the root,
    whatever its ``validFor``)."""
    from bomguard.verify.logkeys import LogKeyWindows

    doc = json.loads(raw)
    material = doc.get("verificationMaterial") if isinstance(doc, dict) else None
    entries = material.get("tlogEntries") if isinstance(material, dict) else None
    windows = LogKeyWindows.from_trusted_root(root_raw)
    for entry in entries if isinstance(entries, list) else []:
        problem = windows.problem(str(bundle_path), entry)
        if problem is not None:
            raise VsaRejected(f"{problem}: the VSA does not verify")


def verify_vsa(
    bundle_path: Path,
    sbom: Path,
    *,
    cert_identity: str,
    cert_oidc_issuer: str,
    trust_root: str = "embedded",
    staging: bool = False,
) -> VsaCheck:
    """Verify the VSA in ``bundle_path`` and that it vouches for ``sbom``'s bytes.

    Raises :class:`VsaRejected` (exit 1) when it does not, :class:`InputError` (exit 2)
    for an unreadable file or one that is no Sigstore bundle at all, and
    :class:`~bomguard.errors.OperationalError` (exit 3) when the trust root cannot load.
    """
    from sigstore.errors import VerificationError
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity

    from bomguard.verify import load_trust_root

    if not cert_identity or not cert_oidc_issuer:
        raise InputError("a VSA is verified against an expected identity and OIDC issuer")
    raw = _read(bundle_path, "the VSA bundle")
    bundle = _load_bundle(bundle_path, raw)
    sbom_sha256 = hashlib.sha256(_read(sbom, "the SBOM")).hexdigest()
    root = load_trust_root(trust_root, staging=staging)
    _check_log_key_windows(bundle_path, raw, root.raw)
    verifier = Verifier(trusted_root=root.load())  # type: ignore[arg-type]
    policy = Identity(identity=cert_identity, issuer=cert_oidc_issuer)
    try:
        payload_type, payload = verifier.verify_dsse(bundle, policy)
    except VerificationError as err:
        raise VsaRejected(f"{bundle_path}: the VSA does not verify: {err}") from err
    except Exception as err:  # a malformed certificate or log entry
        raise VsaRejected(f"{bundle_path}: the VSA does not verify: {describe(err)}") from err
    if payload_type != _DSSE_PAYLOAD_TYPE:
        raise VsaRejected(f"{bundle_path}: signs a {payload_type!r} payload, not an in-toto one")
    try:
        statement = check_statement(json.loads(payload))
    except (ValueError, StatementProblem) as err:
        raise VsaRejected(f"{bundle_path}: the signed statement is not a VSA: {err}") from err
    subject = statement["subject"][0]
    vouched = subject["digest"].get("sha256")
    if vouched != sbom_sha256:
        raise VsaRejected(
            f"{sbom}: sha256 {sbom_sha256} is not the {vouched} the VSA vouches for "
            f"({subject['name']}): the SBOM is not the one that was verified"
        )
    return VsaCheck(statement, sbom_sha256, cert_identity, cert_oidc_issuer)
