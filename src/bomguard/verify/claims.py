"""Read the publisher identity out of a verified Fulcio certificate and its log entry."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bomguard.models import Identity

if TYPE_CHECKING:
    # Imported where a certificate is read: a warm run, which verifies nothing, never is.
    from cryptography import x509

__all__ = ["CLAIM_NAMES", "identity_from_certificate"]

_PREFIX = "1.3.6.1.4.1.57264.1."
#: Fulcio extension OIDs 1.3.6.1.4.1.57264.1.8 to .22, by the names bomguard records them as.
CLAIM_NAMES: Mapping[str, str] = {
    _PREFIX + "8": "issuer",
    _PREFIX + "9": "build_signer_uri",
    _PREFIX + "10": "build_signer_digest",
    _PREFIX + "11": "runner_environment",
    _PREFIX + "12": "source_repository_uri",
    _PREFIX + "13": "source_repository_digest",
    _PREFIX + "14": "source_repository_ref",
    _PREFIX + "15": "source_repository_identifier",
    _PREFIX + "16": "source_repository_owner_uri",
    _PREFIX + "17": "source_repository_owner_identifier",
    _PREFIX + "18": "build_config_uri",
    _PREFIX + "19": "build_config_digest",
    _PREFIX + "20": "build_trigger",
    _PREFIX + "21": "run_invocation_uri",
    _PREFIX + "22": "source_repository_visibility_at_signing",
}
_LEGACY_ISSUER = _PREFIX + "1"


def _der_utf8(value: bytes) -> str | None:
    """Decode a DER UTF8String (tag 0x0C) with a short or long length."""
    if len(value) < 2 or value[0] != 0x0C:
        return None
    length = value[1]
    offset = 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(value[2 : 2 + n], "big")
        offset = 2 + n
    try:
        return value[offset : offset + length].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _claims(cert: x509.Certificate) -> dict[str, str]:
    from cryptography import x509

    out: dict[str, str] = {}
    for ext in cert.extensions:
        oid = ext.oid.dotted_string
        if oid in CLAIM_NAMES and isinstance(ext.value, x509.UnrecognizedExtension):
            decoded = _der_utf8(ext.value.value)
            if decoded is not None:
                out[oid] = decoded
        elif oid == _LEGACY_ISSUER and isinstance(ext.value, x509.UnrecognizedExtension):
            out.setdefault(oid, ext.value.value.decode("utf-8", "replace"))
    return out


def _san(cert: x509.Certificate) -> str | None:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for kind in (x509.UniformResourceIdentifier, x509.RFC822Name, x509.OtherName):
        values = san.get_values_for_type(kind)
        if values:
            value = values[0]
            return value if isinstance(value, str) else None
    return None


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def identity_from_certificate(
    cert: x509.Certificate,
    *,
    kind: str | None,
    repository: str | None,
    workflow: str | None,
    environment: str | None,
    log_entry: Mapping[str, Any] | None,
    trusted_publisher: Mapping[str, str] | None = None,
) -> Identity:
    """Build the :class:`Identity` from a certificate that has already verified.

    ``kind``, ``repository`` and ``workflow`` are the Trusted Publisher's, which the
    certificate was checked against; ``environment`` is only asserted by the index.
    """
    claims = _claims(cert)
    named = {CLAIM_NAMES[k]: v for k, v in claims.items() if k in CLAIM_NAMES}
    log_id = None
    if log_entry:
        raw_id = (log_entry.get("logId") or log_entry.get("log_id") or {}).get("keyId")
        if isinstance(raw_id, str):
            try:
                log_id = base64.b64decode(raw_id).hex()
            except ValueError:
                log_id = raw_id
    return Identity(
        kind=kind,
        issuer=named.get("issuer") or claims.get(_LEGACY_ISSUER),
        repository=repository,
        repository_uri=named.get("source_repository_uri"),
        repository_id=named.get("source_repository_identifier"),
        owner_uri=named.get("source_repository_owner_uri"),
        owner_id=named.get("source_repository_owner_identifier"),
        workflow=workflow,
        ref=named.get("source_repository_ref"),
        commit=named.get("source_repository_digest"),
        build_signer_uri=named.get("build_signer_uri"),
        build_config_uri=named.get("build_config_uri"),
        build_config_digest=named.get("build_config_digest"),
        trigger=named.get("build_trigger"),
        runner_environment=named.get("runner_environment"),
        run_invocation_uri=named.get("run_invocation_uri"),
        visibility=named.get("source_repository_visibility_at_signing"),
        san=_san(cert),
        environment=environment,
        log_id=log_id,
        log_index=_int(log_entry.get("logIndex")) if log_entry else None,
        integrated_time=_int(log_entry.get("integratedTime")) if log_entry else None,
        claims=claims,
        trusted_publisher=dict(trusted_publisher or {}),
    )
