"""A fast path for the common PEP 740 attestation: sigstore's own checks, without
sigstore's object model, and with what depends only on the certificate done once.

sigstore-python's ``Verifier.verify_dsse`` on the bundle pypi-attestations'
``Attestation.to_bundle`` builds is the reference. :class:`FastPath` makes every check
that call makes, each one listed in ``_verify`` with the sigstore code it mirrors, and
calls that very sigstore code wherever it takes plain values (Merkle inclusion, the
checkpoint note, the SCT, the chain, PAE). It gains its speed from:

- reading the one entry form it knows straight from the attestation's JSON (no pydantic
  models, no second parse of the certificate): Rekor v1's ``dsse/0.0.1`` entry with an
  integrated time, an inclusion promise and an inclusion proof with a checkpoint, every
  field present exactly once, in canonical form (decimal integers, canonical base64), and
  nothing else. Any other shape is *declined*;
- the certificate chain to a Fulcio CA of the trust root, the SCT against the CT log
  keys and the key-usage checks depend only on the certificate (and the trust root, fixed
  for the fast path's life). They are made with sigstore's own code the first time a
  certificate is seen, at that attestation's integrated time; a later attestation with
  the same certificate reuses them only if its own integrated time lies strictly inside
  the validity of every certificate of that chain (the only part of the chain check that
  depends on the time) or is a time they were already made at; otherwise they are made
  again at that time;
- a checkpoint's note signature depends only on the note's text and the log key: a note
  verified once is not verified again (its root hash is still compared with each entry's
  inclusion proof);
- the Rekor keyring is built once, and a key is only ever looked up by the log id the
  entry names (sigstore would try every key when none matches; the fast path declines).

It decides only *success*. Every failure, and every bundle it does not fully recognise,
is declined: the caller hands the attestation to sigstore's full verifier, whose decision
and error text are the ones users see. ``tests/test_verify_fastpath.py`` holds the fast
path to sigstore's decision on every fixture, minted case and tampering of the suite.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

__all__ = ["FastPath"]

#: Enough for every leaf certificate of a large run; bounded so memory is too.
MAX_CERTIFICATES = 65536
MAX_NOTES = 65536
#: Edge times remembered per certificate.
MAX_EDGES = 16

#: The payload type ``Attestation.to_bundle`` gives every PEP 740 envelope.
PAYLOAD_TYPE = "application/vnd.in-toto+json"

#: RFC 8785 serialises integers only up to 2**53 - 1 (IEEE 754 doubles).
_MAX_JSON_INT = 2**53 - 1
_U64 = re.compile(r"(?:0|[1-9][0-9]{0,19})")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_ENTRY_KEYS = frozenset(
    {
        "logIndex",
        "logId",
        "kindVersion",
        "integratedTime",
        "inclusionPromise",
        "inclusionProof",
        "canonicalizedBody",
    }
)
_PROOF_KEYS = frozenset({"logIndex", "rootHash", "treeSize", "hashes", "checkpoint"})
_BODY_KEYS = frozenset({"apiVersion", "kind", "spec"})
_SPEC_KEYS = frozenset({"envelopeHash", "payloadHash", "signatures"})
_HASH_KEYS = frozenset({"algorithm", "value"})


class Declined(Exception):
    """The fast path cannot decide this bundle: sigstore will."""


def _u64(value: object) -> int:
    """A protobuf uint64 as sigstore_models reads it, only in its canonical spelling."""
    if not isinstance(value, str) or not _U64.fullmatch(value):
        raise Declined
    n = int(value)
    if n > 2**64 - 1:
        raise Declined
    return n


def _b64(value: object) -> bytes:
    """Protobuf bytes, only in canonical base64 (so every base64 reader agrees)."""
    if not isinstance(value, str):
        raise Declined
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise Declined from err
    if base64.b64encode(raw).decode("ascii") != value:
        raise Declined
    return raw


def _object(value: object, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict) or value.keys() != keys:
        raise Declined
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise Declined
    return out


class _LogEntry:
    """A log entry with the attributes of sigstore's ``TransparencyLogEntry`` that
    ``verify_merkle_inclusion`` reads (so it runs unchanged on it), and its inclusion
    promise check."""

    def _encode_canonical(self) -> bytes:
        """``TransparencyLogEntry._encode_canonical``: the RFC 8785 form of the entry the
        inclusion promise signs. Written out here: its body is canonical base64 and its
        log id hex, neither of which RFC 8785 escapes, and its integers are within the
        range RFC 8785 (and the ``rfc8785`` package sigstore uses) accepts."""
        inner = self._inner
        if max(inner.integrated_time, inner.log_index) > _MAX_JSON_INT:
            raise Declined
        return b'{"body":"%s","integratedTime":%d,"logID":"%s","logIndex":%d}' % (
            self._body_b64,
            inner.integrated_time,
            inner.log_id.key_id.hex().encode("ascii"),
            inner.log_index,
        )

    def _verify_set(self, keyring: Any) -> None:
        """``TransparencyLogEntry._verify_set``: the inclusion promise is the signature of
        the key the log id names over the canonical entry."""
        keyring.verify(
            key_id=self._inner.log_id.key_id,
            signature=self._inner.inclusion_promise.signed_entry_timestamp,
            data=self._encode_canonical(),
        )

    def __init__(self, raw: object) -> None:
        """Read the one entry form the fast path knows, or raise :class:`Declined`."""
        entry = _object(raw, _ENTRY_KEYS)
        log_id = _object(entry["logId"], frozenset({"keyId"}))
        kind_version = _object(entry["kindVersion"], frozenset({"kind", "version"}))
        if kind_version["kind"] != "dsse" or kind_version["version"] != "0.0.1":
            raise Declined
        promise = _object(entry["inclusionPromise"], frozenset({"signedEntryTimestamp"}))
        proof = _object(entry["inclusionProof"], _PROOF_KEYS)
        checkpoint = _object(proof["checkpoint"], frozenset({"envelope"}))
        if not isinstance(checkpoint["envelope"], str) or not isinstance(proof["hashes"], list):
            raise Declined
        log_index = _u64(proof["logIndex"])
        tree_size = _u64(proof["treeSize"])
        if tree_size <= log_index:  # sigstore_models' InclusionProof validator
            raise Declined
        self._inner = SimpleNamespace(
            log_index=_u64(entry["logIndex"]),
            log_id=SimpleNamespace(key_id=_b64(log_id["keyId"])),
            kind_version=SimpleNamespace(kind="dsse", version="0.0.1"),
            integrated_time=_u64(entry["integratedTime"]),
            inclusion_promise=SimpleNamespace(
                signed_entry_timestamp=_b64(promise["signedEntryTimestamp"])
            ),
            inclusion_proof=SimpleNamespace(
                log_index=log_index,
                root_hash=_b64(proof["rootHash"]),
                tree_size=tree_size,
                hashes=[_b64(h) for h in proof["hashes"]],
                checkpoint=SimpleNamespace(envelope=checkpoint["envelope"]),
            ),
            canonicalized_body=_b64(entry["canonicalizedBody"]),
        )
        self._body_b64 = entry["canonicalizedBody"].encode("ascii")


@dataclass(slots=True)
class _CertFacts:
    """A leaf certificate sigstore's chain, SCT and key-usage checks passed, and when."""

    cert: Any
    pem_b64: str
    """``base64_encode_pem_cert(cert)``: the ``verifier`` a DSSE entry body names."""
    not_before: datetime
    """The latest start of validity over the leaf and the chain it was checked with."""
    not_after: datetime
    """The earliest end of validity over the leaf and that chain."""
    edges: set[datetime]
    """Times at an edge of that validity the checks were made at, and passed."""


class _StrictKeyring:
    """A sigstore keyring that uses only the key the log id names (never "try them all")."""

    def __init__(self, keyring: Any) -> None:
        self._keys: dict[bytes, Any] = dict(keyring._keyring)

    def verify(self, *, key_id: bytes, signature: bytes, data: bytes) -> None:
        from cryptography.exceptions import InvalidSignature
        from sigstore.errors import VerificationError

        key = self._keys.get(bytes(key_id))
        if key is None:
            raise Declined
        try:
            key.verify(signature, data)
        except InvalidSignature as err:
            raise VerificationError("keyring: invalid signature") from err


class FastPath:
    """Decides the success of sigstore's ``verify_dsse`` for the common PEP 740 attestation.

    ``verifier`` is the sigstore ``Verifier`` over the same trust root: its
    ``_verify_chain_at_time`` builds and checks each certificate's chain. Not thread-safe.
    """

    def __init__(self, trusted_root: Any, verifier: Any) -> None:
        from sigstore._internal.trust import KeyringPurpose

        self._trusted_root = trusted_root
        self._verifier = verifier
        self._rekor = _StrictKeyring(trusted_root.rekor_keyring(KeyringPurpose.VERIFY))
        self._certs: dict[bytes, _CertFacts] = {}
        self._notes: set[tuple[str, bytes]] = set()
        self.successes = 0
        """Attestations the fast path verified."""
        self.declined = 0
        """Attestations it handed to sigstore."""

    def verify_dsse(
        self, certificate: bytes, statement: bytes, signature: bytes, entry: object, policy: Any
    ) -> tuple[str, bytes, Any] | None:
        """``(payload_type, payload, certificate)`` as sigstore's ``verify_dsse`` would
        return them for the attestation with these parts and this one log entry, if every
        one of its checks passes; ``None`` when any fails or the form is not one known
        here (sigstore then decides)."""
        try:
            cert = self._verify(certificate, statement, signature, entry, policy)
        except Exception:
            self.declined += 1
            return None
        self.successes += 1
        return PAYLOAD_TYPE, statement, cert

    def _verify(
        self, der: bytes, statement: bytes, signature: bytes, raw_entry: object, policy: Any
    ) -> Any:
        # Each step names what it mirrors in sigstore.verify.verifier.Verifier.verify_dsse
        # (steps (0)-(8) as numbered there) and in the bundle pypi-attestations'
        # Attestation.to_bundle builds (sigstore.models.Bundle._verify).
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from sigstore import dsse
        from sigstore._internal.merkle import verify_merkle_inclusion

        # The bundle: one log entry, with an inclusion proof carrying a checkpoint and an
        # inclusion promise (TransparencyLogEntry._validate, Bundle._verify); the entry
        # read as sigstore_models reads it (_LogEntry declines every other shape).
        entry = _LogEntry(raw_entry)
        inner = entry._inner

        # (0) Verifier._establish_time: no signed timestamps (to_bundle carries none),
        # so the one verified time is the integrated time of a dsse/0.0.1 entry with an
        # inclusion promise.
        if not inner.integrated_time:
            raise Declined
        time = datetime.fromtimestamp(inner.integrated_time, tz=UTC)

        # (1) Verifier._verify_chain_at_time, (2) verify_sct, (3) the key-usage and
        # extended-key-usage checks: sigstore's code, once per certificate.
        facts = self._certificate(der, time)
        cert = facts.cert
        # (3) VerificationPolicy.verify: the Trusted Publisher's policy, every time.
        policy.verify(cert)

        # (4) TransparencyLogEntry._verify: verify_merkle_inclusion, then
        # verify_checkpoint (its note's signature once per note), (5) then the inclusion
        # promise (TransparencyLogEntry._verify_set over _encode_canonical).
        verify_merkle_inclusion(entry)  # type: ignore[arg-type]
        self._checkpoint(inner)
        entry._verify_set(self._rekor)

        # (6) the integrated time within the signing certificate's validity.
        if not (cert.not_valid_before_utc <= time <= cert.not_valid_after_utc):
            raise Declined

        # (7) sigstore.dsse._verify: one signature, by the certificate's key, over PAE.
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise Declined
        key.verify(signature, dsse._pae(PAYLOAD_TYPE, statement), ec.ECDSA(hashes.SHA256()))

        # (8) _validate_dsse_v001_entry_body: the entry's body is a dsse entry whose
        # SHA-256 payload hash is this statement's and whose signature list is exactly
        # this signature by this certificate. The fast path requires the body to be
        # exactly that JSON (no duplicate or other keys), which rekor_types reads the same.
        # (UTF-8 only: json.loads would also read UTF-16 or a byte-order mark. And no
        # escape at all: json.loads reads a lone surrogate "\ud800" that pydantic's
        # reader, sigstore's, refuses; a log's body has no reason to escape anything.)
        if b"\\" in inner.canonicalized_body:
            raise Declined
        text = inner.canonicalized_body.decode("utf-8")
        body = json.loads(text, object_pairs_hook=_unique_keys)
        spec = _object(_object(body, _BODY_KEYS)["spec"], _SPEC_KEYS)
        envelope_hash = _object(spec["envelopeHash"], _HASH_KEYS)
        if envelope_hash["algorithm"] != "sha256" or not isinstance(envelope_hash["value"], str):
            raise Declined  # what rekor_types requires of it (sigstore cannot check its value)
        if not _SHA256_HEX.fullmatch(envelope_hash["value"]):
            raise Declined  # what Rekor writes there (the one value no check here compares)
        payload_hash = hashlib.sha256(statement).hexdigest()
        expected = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": envelope_hash,
                "payloadHash": {"algorithm": "sha256", "value": payload_hash},
                "signatures": [
                    {"signature": base64.b64encode(signature).decode(), "verifier": facts.pem_b64}
                ],
            },
        }
        if body != expected:
            raise Declined
        return cert

    def _certificate(self, der: bytes, time: datetime) -> _CertFacts:
        """Steps (1)-(3) of sigstore's checks (less the policy), remembered per certificate."""
        facts = self._certs.get(der)
        # Reused only strictly inside the validity of every certificate of the chain it
        # was checked with, or at a time it was checked at; else checked at this time.
        if facts is not None and (facts.not_before < time < facts.not_after or time in facts.edges):
            return facts
        checked = self._check_certificate(der, time)
        if facts is None:
            if len(self._certs) >= MAX_CERTIFICATES:
                self._certs.clear()
            self._certs[der] = facts = checked
        if not checked.not_before < time < checked.not_after and len(facts.edges) < MAX_EDGES:
            # Real leaves are often logged in the very second they are issued.
            facts.edges.add(time)
        return facts

    def _check_certificate(self, der: bytes, time: datetime) -> _CertFacts:
        """sigstore's own chain, SCT and key-usage checks (raises on failure)."""
        from cryptography import x509
        from cryptography.x509.oid import ExtendedKeyUsageOID
        from sigstore._internal.sct import verify_sct
        from sigstore._internal.timestamp import TimestampSource, TimestampVerificationResult
        from sigstore._internal.trust import KeyringPurpose
        from sigstore._utils import base64_encode_pem_cert

        cert = x509.load_der_x509_certificate(der)  # as to_bundle and Bundle._verify do
        chain = self._verifier._verify_chain_at_time(
            cert,
            TimestampVerificationResult(source=TimestampSource.TRANSPARENCY_SERVICE, time=time),
        )
        verify_sct(cert, chain, self._trusted_root.ct_keyring(KeyringPurpose.VERIFY))
        if not cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            raise Declined
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CODE_SIGNING not in usage:
            raise Declined
        path = [cert, *chain]
        return _CertFacts(
            cert=cert,
            pem_b64=base64_encode_pem_cert(cert),
            not_before=max(c.not_valid_before_utc for c in path),
            not_after=min(c.not_valid_after_utc for c in path),
            edges=set(),
        )

    def _checkpoint(self, inner: Any) -> None:
        """sigstore's ``verify_checkpoint``, the note's signature checked once per note."""
        from sigstore._internal.rekor.checkpoint import SignedNote
        from sigstore._utils import KeyID

        text = inner.inclusion_proof.checkpoint.envelope
        signed_note = SignedNote.from_text(text)
        log_hash = _checkpoint_log_hash(signed_note.note)
        key = (text, inner.log_id.key_id)
        if key not in self._notes:
            signed_note.verify(self._rekor, KeyID(inner.log_id.key_id))  # type: ignore[arg-type]
            if len(self._notes) >= MAX_NOTES:
                self._notes.clear()
            self._notes.add(key)
        if log_hash != inner.inclusion_proof.root_hash.hex():
            raise Declined


def _checkpoint_log_hash(note: str) -> str:
    """``LogCheckpoint.from_text(note).log_hash``: the root hash a checkpoint note states
    (hex), parsed exactly as sigstore does; :class:`Declined` where it would raise."""
    lines = note.strip().split("\n")
    if len(lines) < 3 or not lines[0]:
        raise Declined
    try:
        int(lines[1])
        return base64.b64decode(lines[2]).hex()
    except (ValueError, binascii.Error) as err:
        raise Declined from err
