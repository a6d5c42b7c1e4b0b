"""A Sigstore of our own, for minting PEP 740 attestations in tests and benchmarks.

Like sigstore-go's ``VirtualSigstore`` (``pkg/testing/ca``), a :class:`VirtualSigstore`
holds every key a public-good Sigstore deployment would, and uses them the way the real
services do, so what it mints goes through exactly the checks real attestations go
through (``bomguard.verify.ProvenanceVerifier`` → sigstore-python → cryptography):

- a **Fulcio-style CA** (self-signed root + intermediate, P-384 by default) issuing
  short-lived (10 minute) leaf certificates: empty subject, critical SAN (the workflow
  URI, or an e-mail for Google), ``digitalSignature`` key usage, ``codeSigning`` EKU, the
  legacy Fulcio claims ``1.3.6.1.4.1.57264.1.1`` to ``.6`` (raw bytes) and the claims
  ``.8`` to ``.22`` (DER UTF8String), and an **embedded SCT**;
- a **CT log key**, which signs each SCT over the precertificate as RFC 6962 §3.2 defines it
  (``issuer_key_hash`` = SHA-256 of the intermediate's SubjectPublicKeyInfo, then the
  TBSCertificate without the SCT list extension — what cryptography's
  ``tbs_precertificate_bytes`` hands sigstore to verify);
- a **Rekor v1 log key** and an in-memory RFC 6962 Merkle tree: every attestation becomes a
  ``dsse``/``0.0.1`` entry (canonical JSON body naming the payload hash, the signature and
  the PEM certificate), with a signed entry timestamp (ECDSA over the RFC 8785 JSON
  ``{body, integratedTime, logID, logIndex}``), an inclusion proof against a later tree
  size and a signed checkpoint (note format, key hint = first 4 bytes of the log ID);
- a ``trusted_root.json`` (protobuf-specs JSON) naming the CA, the log and the CT log,
  which :func:`bomguard.verify.load_trust_root` loads from a file.

The log starts with ``log_start_size`` leaves of "other tenants" and ``log_traffic`` more are
appended after each minted entry, so inclusion proofs have both inner and border hashes.

Each defect of :class:`Defect` mints an attestation broken in exactly one way.

Speed: the CA, log and CT keys are made once per instance; a leaf key and certificate are
made once per (identity, curve) and reused while their 10 minutes last (as one signing
session does for all the files of a release); minting then costs three ECDSA P-256
signatures (DSSE, SET, checkpoint) and a few hashes.

Time is virtual: a clock starts at ``epoch`` and each attestation advances it by
``clock_step`` seconds, unless ``signed_at`` is given. With ``seed``, keys, serial
numbers and (RFC 6979) signatures are deterministic, so the same calls mint the same bytes.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import struct
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Final

import jwt
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "DSSE_PAYLOAD_TYPE",
    "LEAF_LIFETIME",
    "PUBLISH_PREDICATE",
    "SLSA_PREDICATE",
    "CertificateAuthority",
    "CircleCIIdentity",
    "Curve",
    "Defect",
    "GitHubIdentity",
    "GitLabIdentity",
    "GoogleIdentity",
    "LeafCertificate",
    "MerkleLog",
    "SigningIdentity",
    "SigningKey",
    "SigningServices",
    "VirtualSigstore",
    "make_provenance",
    "other_filename",
    "pae",
]

PUBLISH_PREDICATE: Final = "https://docs.pypi.org/attestations/publish/v1"
SLSA_PREDICATE: Final = "https://slsa.dev/provenance/v1"
DSSE_PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
STATEMENT_TYPE: Final = "https://in-toto.io/Statement/v1"
TRUSTED_ROOT_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"

FULCIO_URL: Final = "https://fulcio.virtual-sigstore.test"
REKOR_URL: Final = "https://rekor.virtual-sigstore.test"
CT_URL: Final = "https://ctfe.virtual-sigstore.test"
REKOR_NAME: Final = "rekor.virtual-sigstore.test"

DEFAULT_EPOCH: Final = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
CA_NOT_BEFORE: Final = datetime(2020, 1, 1, tzinfo=UTC)
CA_NOT_AFTER: Final = datetime(2099, 12, 31, tzinfo=UTC)
LEAF_LIFETIME: Final = 600
"""Fulcio certificates are valid for ten minutes."""

_FULCIO: Final = "1.3.6.1.4.1.57264.1."
_SCT_LIST_OID: Final = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
_EMPTY_NAME: Final = x509.Name([])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_utf8(value: str) -> bytes:
    raw = value.encode("utf-8")
    return b"\x0c" + _der_length(len(raw)) + raw


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding, what a DSSE signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


# --------------------------------------------------------------------------- keys


class Curve(enum.StrEnum):
    """ECDSA curves for keys the virtual Sigstore makes."""

    P256 = "P-256"
    P384 = "P-384"

    @property
    def ec_curve(self) -> ec.EllipticCurve:
        return ec.SECP256R1() if self is Curve.P256 else ec.SECP384R1()

    @property
    def hash(self) -> hashes.SHA256 | hashes.SHA384:
        """The hash the key signs with (certificates, log signatures)."""
        return hashes.SHA256() if self is Curve.P256 else hashes.SHA384()

    @property
    def key_details(self) -> str:
        """The protobuf-specs ``PublicKeyDetails`` name."""
        return "PKIX_ECDSA_P256_SHA_256" if self is Curve.P256 else "PKIX_ECDSA_P384_SHA_384"

    @property
    def order(self) -> int:
        if self is Curve.P256:
            return 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        return int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
            16,
        )


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An ECDSA key, its SubjectPublicKeyInfo and its RFC 6962 key ID."""

    private: ec.EllipticCurvePrivateKey
    curve: Curve
    spki: bytes
    key_id: bytes
    deterministic: bool

    def sign(self, data: bytes, algorithm: hashes.HashAlgorithm | None = None) -> bytes:
        chosen = algorithm if algorithm is not None else self.curve.hash
        return self.private.sign(data, ec.ECDSA(chosen, deterministic_signing=self.deterministic))

    @property
    def public(self) -> ec.EllipticCurvePublicKey:
        return self.private.public_key()


# --------------------------------------------------------------------------- identities


class SigningIdentity(ABC):
    """A CI identity Fulcio would certify, and the Trusted Publisher PyPI would name."""

    kind: ClassVar[str]
    """The PEP 740 publisher ``kind``."""
    issuer: ClassVar[str]
    """The OIDC issuer (claims ``.1`` and ``.8``)."""

    @abstractmethod
    def san(self) -> x509.GeneralName:
        """The certificate's subject alternative name."""

    @abstractmethod
    def claims(self) -> dict[str, str]:
        """Fulcio claims ``1.3.6.1.4.1.57264.1.8`` to ``.22`` by dotted OID (DER UTF8String)."""

    def legacy_claims(self) -> dict[str, str]:
        """Deprecated Fulcio claims ``.1`` to ``.6`` by dotted OID (raw bytes in the cert)."""
        return {_FULCIO + "1": self.issuer}

    @abstractmethod
    def publisher(self) -> dict[str, Any]:
        """The PEP 740 publisher object the index serves beside the attestations."""

    @abstractmethod
    def other_publisher(self) -> dict[str, Any]:
        """A publisher of the same kind that this identity's certificate does not satisfy."""

    def extensions(self) -> list[tuple[x509.ObjectIdentifier, bytes]]:
        """The Fulcio extensions as (OID, extnValue), legacy ones first, as Fulcio orders them."""
        out = [
            (x509.ObjectIdentifier(oid), value.encode("utf-8"))
            for oid, value in self.legacy_claims().items()
        ]
        out.extend(
            (x509.ObjectIdentifier(oid), _der_utf8(value)) for oid, value in self.claims().items()
        )
        return out


def _fake_sha(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()  # a git-like commit id, not security


@dataclass(frozen=True)
class GitHubIdentity(SigningIdentity):
    """A GitHub Actions workflow run (the GitHub Trusted Publisher)."""

    kind: ClassVar[str] = "GitHub"
    issuer: ClassVar[str] = "https://token.actions.githubusercontent.com"

    repository: str
    """``owner/name``."""
    workflow: str = "release.yml"
    """The workflow file name under ``.github/workflows``."""
    ref: str = "refs/heads/main"
    commit: str | None = None
    """The commit SHA; derived from repository and ref when not given."""
    repository_id: str = "100000"
    owner_id: str = "200000"
    trigger: str = "push"
    runner_environment: str = "github-hosted"
    environment: str | None = None
    """The deployment environment: in the publisher object only, never in the certificate."""
    visibility: str = "public"
    workflow_name: str = "Release"
    run_id: str = "9000000000"
    run_attempt: str = "1"
    build_signer: str | None = None
    """``owner/repo/.github/workflows/file.yml@ref`` of a reusable workflow that ran the
    signing job (the SAN and claim ``.9``); the calling workflow when not given."""

    @property
    def sha(self) -> str:
        return self.commit or _fake_sha(self.repository, self.ref)

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def build_config_uri(self) -> str:
        return f"https://github.com/{self.repository}/.github/workflows/{self.workflow}@{self.ref}"

    @property
    def build_signer_uri(self) -> str:
        if self.build_signer:
            return f"https://github.com/{self.build_signer}"
        return self.build_config_uri

    def san(self) -> x509.GeneralName:
        return x509.UniformResourceIdentifier(self.build_signer_uri)

    def legacy_claims(self) -> dict[str, str]:
        return {
            _FULCIO + "1": self.issuer,
            _FULCIO + "2": self.trigger,
            _FULCIO + "3": self.sha,
            _FULCIO + "4": self.workflow_name,
            _FULCIO + "5": self.repository,
            _FULCIO + "6": self.ref,
        }

    def claims(self) -> dict[str, str]:
        signer_digest = self.sha
        return {
            _FULCIO + "8": self.issuer,
            _FULCIO + "9": self.build_signer_uri,
            _FULCIO + "10": signer_digest,
            _FULCIO + "11": self.runner_environment,
            _FULCIO + "12": f"https://github.com/{self.repository}",
            _FULCIO + "13": self.sha,
            _FULCIO + "14": self.ref,
            _FULCIO + "15": self.repository_id,
            _FULCIO + "16": f"https://github.com/{self.owner}",
            _FULCIO + "17": self.owner_id,
            _FULCIO + "18": self.build_config_uri,
            _FULCIO + "19": self.sha,
            _FULCIO + "20": self.trigger,
            _FULCIO + "21": (
                f"https://github.com/{self.repository}/actions/runs/{self.run_id}"
                f"/attempts/{self.run_attempt}"
            ),
            _FULCIO + "22": self.visibility,
        }

    def publisher(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "repository": self.repository,
            "workflow": self.workflow,
            "environment": self.environment,
        }

    def other_publisher(self) -> dict[str, Any]:
        return {**self.publisher(), "workflow": "not-" + self.workflow}


@dataclass(frozen=True)
class GitLabIdentity(SigningIdentity):
    """A GitLab CI/CD pipeline on gitlab.com (the GitLab Trusted Publisher)."""

    kind: ClassVar[str] = "GitLab"
    issuer: ClassVar[str] = "https://gitlab.com"

    repository: str
    """``namespace/project`` (namespaces may nest)."""
    workflow_filepath: str = ".gitlab-ci.yml"
    ref: str = "refs/heads/main"
    commit: str | None = None
    project_id: str = "300000"
    namespace_id: str = "400000"
    trigger: str = "push"
    runner_environment: str = "gitlab-hosted"
    environment: str | None = None
    visibility: str = "public"
    job_id: str = "8000000000"

    @property
    def sha(self) -> str:
        return self.commit or _fake_sha(self.repository, self.ref)

    @property
    def build_config_uri(self) -> str:
        return f"https://gitlab.com/{self.repository}//{self.workflow_filepath}@{self.ref}"

    def san(self) -> x509.GeneralName:
        return x509.UniformResourceIdentifier(self.build_config_uri)

    def claims(self) -> dict[str, str]:
        namespace = self.repository.rsplit("/", 1)[0]
        return {
            _FULCIO + "8": self.issuer,
            _FULCIO + "9": self.build_config_uri,
            _FULCIO + "10": self.sha,
            _FULCIO + "11": self.runner_environment,
            _FULCIO + "12": f"https://gitlab.com/{self.repository}",
            _FULCIO + "13": self.sha,
            _FULCIO + "14": self.ref,
            _FULCIO + "15": self.project_id,
            _FULCIO + "16": f"https://gitlab.com/{namespace}",
            _FULCIO + "17": self.namespace_id,
            _FULCIO + "18": self.build_config_uri,
            _FULCIO + "19": self.sha,
            _FULCIO + "20": self.trigger,
            _FULCIO + "21": f"https://gitlab.com/{self.repository}/-/jobs/{self.job_id}",
            _FULCIO + "22": self.visibility,
        }

    def publisher(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "repository": self.repository,
            "workflow_filepath": self.workflow_filepath,
            "environment": self.environment,
        }

    def other_publisher(self) -> dict[str, Any]:
        return {**self.publisher(), "workflow_filepath": "other/" + self.workflow_filepath}


@dataclass(frozen=True)
class GoogleIdentity(SigningIdentity):
    """A Google Cloud service account (the Google Trusted Publisher); the SAN is its e-mail."""

    kind: ClassVar[str] = "Google"
    issuer: ClassVar[str] = "https://accounts.google.com"

    email: str

    def san(self) -> x509.GeneralName:
        return x509.RFC822Name(self.email)

    def claims(self) -> dict[str, str]:
        return {_FULCIO + "8": self.issuer}

    def publisher(self) -> dict[str, Any]:
        return {"kind": self.kind, "email": self.email}

    def other_publisher(self) -> dict[str, Any]:
        return {"kind": self.kind, "email": "other-" + self.email}


@dataclass(frozen=True)
class CircleCIIdentity(SigningIdentity):
    """A CircleCI pipeline (the CircleCI Trusted Publisher)."""

    kind: ClassVar[str] = "CircleCI"
    issuer: ClassVar[str] = "https://oidc.circleci.com"

    project_id: str
    pipeline_definition_id: str
    vcs_origin: str | None = None
    """``github.com/org/repo`` (no scheme), or ``None`` for a webhook-triggered pipeline."""
    vcs_ref: str | None = None
    pipeline_id: str = "00000000-0000-4000-8000-000000000001"
    workflow_id: str = "00000000-0000-4000-8000-000000000002"
    job_id: str = "00000000-0000-4000-8000-000000000003"

    @property
    def build_signer_uri(self) -> str:
        return (
            f"https://circleci.com/api/v2/projects/{self.project_id}"
            f"/pipeline-definitions/{self.pipeline_definition_id}"
        )

    def san(self) -> x509.GeneralName:
        return x509.UniformResourceIdentifier(self.build_signer_uri)

    def claims(self) -> dict[str, str]:
        out = {_FULCIO + "8": self.issuer, _FULCIO + "9": self.build_signer_uri}
        if self.vcs_origin is not None:
            out[_FULCIO + "12"] = self.vcs_origin
        if self.vcs_ref is not None:
            out[_FULCIO + "14"] = self.vcs_ref
        out[_FULCIO + "18"] = f"https://circleci.com/api/v2/pipeline/{self.pipeline_id}/config"
        out[_FULCIO + "21"] = (
            f"https://app.circleci.com//workflow/{self.workflow_id}/job/{self.job_id}"
        )
        return out

    def publisher(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "project_id": self.project_id,
            "pipeline_definition_id": self.pipeline_definition_id,
            "vcs_origin": self.vcs_origin,
            "vcs_ref": self.vcs_ref,
        }

    def other_publisher(self) -> dict[str, Any]:
        return {**self.publisher(), "pipeline_definition_id": "0" + self.pipeline_definition_id}


# --------------------------------------------------------------------------- defects


class Defect(enum.StrEnum):
    """One way to break a minted attestation; everything else about it stays valid."""

    EXPIRED_CERTIFICATE = "expired-certificate"
    """The log integrated the entry after the leaf certificate expired."""
    CERTIFICATE_NOT_YET_VALID = "certificate-not-yet-valid"
    """The log integrated the entry before the leaf certificate's validity began."""
    UNTRUSTED_CA = "untrusted-ca"
    """The leaf was issued by a second CA that the trusted root does not name."""
    BAD_SCT = "bad-sct"
    """The embedded SCT's signature is not the CT log's."""
    BAD_SET = "bad-set"
    """The signed entry timestamp (inclusion promise) is signed by a key not the log's."""
    BAD_CHECKPOINT = "bad-checkpoint"
    """The inclusion proof's checkpoint is signed by a key not the log's."""
    BAD_INCLUSION_PROOF = "bad-inclusion-proof"
    """A hash of the inclusion proof is wrong, so it does not lead to the signed root."""
    BAD_SIGNATURE = "bad-signature"
    """The DSSE signature (also in the log entry) is over another statement."""
    WRONG_SUBJECT_NAME = "wrong-subject-name"
    """The statement's subject names another distribution file of the same project."""
    WRONG_SUBJECT_DIGEST = "wrong-subject-digest"
    """The statement's subject digest is not the file's sha256."""
    WRONG_PUBLISHER = "wrong-publisher"
    """The provenance names a Trusted Publisher the certificate does not satisfy
    (provenance only: the attestation itself is sound)."""


def other_filename(filename: str) -> str:
    """Another well-formed distribution filename of the same project (a later version)."""
    if filename.endswith(".whl"):
        parts = filename.split("-")
        parts[1] += ".post9999"
        return "-".join(parts)
    for ext in (".tar.gz", ".zip"):
        if filename.endswith(ext):
            stem, version = filename[: -len(ext)].rsplit("-", 1)
            return f"{stem}-{version}.post9999{ext}"
    return "x" + filename


def _other_digest(sha256: str) -> str:
    last = "0" if sha256[-1:] != "0" else "1"
    return sha256[:-1] + last


# --------------------------------------------------------------------------- Merkle tree


def _hash_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _hash_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


class MerkleLog:
    """An append-only RFC 6962 Merkle tree; complete subtrees are kept, the rest computed."""

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf_hash: bytes) -> int:
        """Add a leaf (its hash) and return its index."""
        levels = self._levels
        index = len(levels[0])
        levels[0].append(leaf_hash)
        level = 0
        while len(levels[level]) % 2 == 0:
            row = levels[level]
            if level + 1 == len(levels):
                levels.append([])
            levels[level + 1].append(_hash_node(row[-2], row[-1]))
            level += 1
        return index

    def _subtree(self, start: int, n: int) -> bytes:
        if (n & (n - 1)) == 0 and start % n == 0:
            return self._levels[n.bit_length() - 1][start // n]
        k = 1 << ((n - 1).bit_length() - 1)
        return _hash_node(self._subtree(start, k), self._subtree(start + k, n - k))

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[0:size]) (RFC 6962 §2.1)."""
        size = self.size if size is None else size
        if not 0 < size <= self.size:
            raise ValueError(f"no tree of size {size} (the log has {self.size} leaves)")
        return self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) (RFC 6962 §2.1.1), leaf level first."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ValueError(f"leaf {index} is not in a tree of size {size}")
        path: list[bytes] = []
        start, n, m = 0, size, index
        while n > 1:
            k = 1 << ((n - 1).bit_length() - 1)
            if m < k:
                path.append(self._subtree(start + k, n - k))
                n = k
            else:
                path.append(self._subtree(start, k))
                start, m, n = start + k, m - k, n - k
        path.reverse()
        return path


# --------------------------------------------------------------------------- CA


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A Fulcio-style CA: a self-signed root and the intermediate that issues leaves."""

    name: str
    root: x509.Certificate
    intermediate: x509.Certificate
    key: SigningKey
    """The intermediate's key, which signs leaves."""
    aki: x509.AuthorityKeyIdentifier
    issuer_key_hash: bytes
    """SHA-256 of the intermediate's SubjectPublicKeyInfo (RFC 6962 ``issuer_key_hash``)."""


@dataclass(frozen=True, slots=True)
class LeafCertificate:
    """A short-lived signing certificate and its key."""

    key: SigningKey
    cert: x509.Certificate
    der_b64: str
    verifier_b64: str
    """base64 of the PEM certificate, as a Rekor ``dsse`` entry names its verifier."""
    not_before: int
    not_after: int


def _sct_signed_data(timestamp_ms: int, issuer_key_hash: bytes, tbs: bytes) -> bytes:
    """RFC 6962 §3.2 ``digitally-signed`` input of a precert SCT (no SCT extensions)."""
    return (
        struct.pack("!BBQH", 0, 0, timestamp_ms, 1)  # v1, certificate_timestamp, precert_entry
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + b"\x00\x00"
    )


def _sct_list_extension(log_id: bytes, timestamp_ms: int, signature: bytes) -> bytes:
    """The extnValue of the SCT list extension: OCTET STRING { SignedCertificateTimestampList }."""
    sct = (
        b"\x00"  # v1
        + log_id
        + struct.pack("!QH", timestamp_ms, 0)  # timestamp, no extensions
        + bytes([4, 3])  # sha256, ecdsa
        + struct.pack("!H", len(signature))
        + signature
    )
    entries = struct.pack("!H", len(sct)) + sct
    sct_list = struct.pack("!H", len(entries)) + entries
    return b"\x04" + _der_length(len(sct_list)) + sct_list


# --------------------------------------------------------------------------- the Sigstore


class VirtualSigstore:
    """A CA, a CT log and a Rekor log of our own, and what they would sign.

    Public state: ``ca`` (the trusted :class:`CertificateAuthority`), ``untrusted_ca``,
    ``ct_key``, ``rekor_key``/``log_id``, ``log`` (the :class:`MerkleLog`), ``origin``
    (the checkpoint origin line). Not thread-safe: mint from one thread.
    """

    def __init__(
        self,
        *,
        seed: int | bytes | None = None,
        epoch: datetime = DEFAULT_EPOCH,
        clock_step: int = 1,
        ca_curve: Curve = Curve.P384,
        leaf_curve: Curve = Curve.P256,
        reuse_leaf: bool = True,
        log_start_size: int = 1000,
        log_traffic: int = 2,
        log_index_offset: int = 0,
    ) -> None:
        """Make the keys and the CA.

        - ``seed``: derive every key, serial and signature from it (reproducible output).
        - ``epoch``/``clock_step``: the virtual clock minted attestations are signed at.
        - ``ca_curve``: the root/intermediate key (Fulcio's is P-384); ``leaf_curve``: the
          default for leaf keys (``mint_*`` can override it).
        - ``reuse_leaf``: keep one certificate per identity while it is valid (a signing
          session); ``False`` issues a fresh certificate per attestation.
        - ``log_start_size``: leaves already in the log; ``log_traffic``: leaves other
          tenants add after each minted entry, before the checkpoint its proof is against.
        - ``log_index_offset``: added to the tree index for the entry's ``logIndex``
          (Rekor's global index across shards), not to the inclusion proof's.
        """
        if isinstance(seed, int):
            seed = str(seed).encode()
        self._seed = seed
        self._clock = int(epoch.timestamp())
        self._clock_step = clock_step
        self.leaf_curve = leaf_curve
        self.reuse_leaf = reuse_leaf
        self.log_traffic = log_traffic
        self.log_index_offset = log_index_offset
        self._counter = 0
        self._filler = 0
        self._ca_curve = ca_curve

        self.ca = self._make_ca("virtual-sigstore", ca_curve)
        self.ct_key = self._key(Curve.P256, "ctlog")
        self.rekor_key = self._key(Curve.P256, "rekor")
        self.log = MerkleLog()
        tree_id = int.from_bytes(self.rekor_key.key_id[:8], "big") >> 1
        self.origin = f"{REKOR_NAME} - {tree_id}"
        self._tbs_key = self._key(Curve.P256, "tbs-scratch")
        self._leaves: dict[tuple[Any, ...], LeafCertificate] = {}
        self._rogue: dict[str, Any] = {}
        for _ in range(log_start_size):
            self._add_filler()

    # ------------------------------------------------------------------ keys & certs

    def _key(self, curve: Curve, label: str) -> SigningKey:
        if self._seed is None:
            private = ec.generate_private_key(curve.ec_curve)
        else:
            digest = hashlib.sha512(self._seed + b"\0key\0" + label.encode()).digest()
            scalar = int.from_bytes(digest, "big") % (curve.order - 1) + 1
            private = ec.derive_private_key(scalar, curve.ec_curve)
        spki = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return SigningKey(
            private, curve, spki, hashlib.sha256(spki).digest(), self._seed is not None
        )

    def _serial(self, label: str) -> int:
        if self._seed is None:
            return x509.random_serial_number()
        digest = hashlib.sha256(self._seed + b"\0serial\0" + label.encode()).digest()
        return (int.from_bytes(digest[:20], "big") >> 1) | 1

    def _make_ca(self, name: str, curve: Curve) -> CertificateAuthority:
        root_key = self._key(curve, f"{name}/root")
        inter_key = self._key(curve, f"{name}/intermediate")
        org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "virtual-sigstore.test")
        root_name = x509.Name([org, x509.NameAttribute(NameOID.COMMON_NAME, name)])
        inter_name = x509.Name(
            [org, x509.NameAttribute(NameOID.COMMON_NAME, f"{name}-intermediate")]
        )
        ca_usage = x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public)
        root = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(root_key.public)
            .serial_number(self._serial(f"{name}/root"))
            .not_valid_before(CA_NOT_BEFORE)
            .not_valid_after(CA_NOT_AFTER)
            .add_extension(ca_usage, critical=True)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(root_ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
                critical=False,
            )
            .sign(root_key.private, curve.hash, ecdsa_deterministic=root_key.deterministic)
        )
        inter_ski = x509.SubjectKeyIdentifier.from_public_key(inter_key.public)
        intermediate = (
            x509.CertificateBuilder()
            .subject_name(inter_name)
            .issuer_name(root_name)
            .public_key(inter_key.public)
            .serial_number(self._serial(f"{name}/intermediate"))
            .not_valid_before(CA_NOT_BEFORE)
            .not_valid_after(CA_NOT_AFTER)
            .add_extension(ca_usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(inter_ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
                critical=False,
            )
            .sign(root_key.private, curve.hash, ecdsa_deterministic=root_key.deterministic)
        )
        return CertificateAuthority(
            name=name,
            root=root,
            intermediate=intermediate,
            key=inter_key,
            aki=x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(inter_ski),
            issuer_key_hash=inter_key.key_id,
        )

    def _rogue_key(self, label: str) -> SigningKey:
        key = self._rogue.get(label)
        if key is None:
            key = self._rogue[label] = self._key(Curve.P256, f"rogue/{label}")
        assert isinstance(key, SigningKey)
        return key

    @property
    def untrusted_ca(self) -> CertificateAuthority:
        """A second CA, made on first use, that the trusted root does not name."""
        ca = self._rogue.get("ca")
        if ca is None:
            ca = self._rogue["ca"] = self._make_ca("untrusted-sigstore", self._ca_curve)
        assert isinstance(ca, CertificateAuthority)
        return ca

    def _issue_leaf(
        self,
        identity: SigningIdentity,
        curve: Curve,
        ca: CertificateAuthority,
        *,
        good_sct: bool,
        at: int,
    ) -> LeafCertificate:
        self._counter += 1
        label = f"leaf/{self._counter}"
        key = self._key(curve, label)
        cert = self._leaf_certificate(
            key.public, identity, ca, good_sct=good_sct, at=at, label=label
        )
        return LeafCertificate(
            key=key,
            cert=cert,
            der_b64=_b64(cert.public_bytes(serialization.Encoding.DER)),
            verifier_b64=_b64(cert.public_bytes(serialization.Encoding.PEM)),
            not_before=at,
            not_after=at + LEAF_LIFETIME,
        )

    def _leaf_certificate(
        self,
        public: ec.EllipticCurvePublicKey,
        identity: SigningIdentity,
        ca: CertificateAuthority,
        *,
        good_sct: bool,
        at: int,
        label: str,
    ) -> x509.Certificate:
        """A Fulcio leaf for ``public`` certifying ``identity``, valid from ``at``, with an SCT."""
        not_before = datetime.fromtimestamp(at, UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_EMPTY_NAME)
            .issuer_name(ca.intermediate.subject)
            .public_key(public)
            .serial_number(self._serial(label))
            .not_valid_before(not_before)
            .not_valid_after(not_before + timedelta(seconds=LEAF_LIFETIME))
            .add_extension(_LEAF_USAGE, critical=True)
            .add_extension(_CODE_SIGNING, critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(ca.aki, critical=False)
            .add_extension(x509.SubjectAlternativeName([identity.san()]), critical=True)
        )
        for oid, value in identity.extensions():
            builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
        # The precertificate's TBS is the final TBS without the SCT list. A signature's
        # AlgorithmIdentifier names only the hash, so a scratch key of any curve gives the
        # very TBS the intermediate's signature will cover.
        tbs = builder.sign(self._tbs_key.private, ca.key.curve.hash).tbs_certificate_bytes
        timestamp_ms = at * 1000
        ct = self.ct_key if good_sct else self._rogue_key("ctlog")
        signature = ct.sign(
            _sct_signed_data(timestamp_ms, ca.issuer_key_hash, tbs), hashes.SHA256()
        )
        sct = _sct_list_extension(self.ct_key.key_id, timestamp_ms, signature)
        return builder.add_extension(
            x509.UnrecognizedExtension(_SCT_LIST_OID, sct), critical=False
        ).sign(ca.key.private, ca.key.curve.hash, ecdsa_deterministic=ca.key.deterministic)

    def certify(
        self, public: ec.EllipticCurvePublicKey, identity: SigningIdentity, *, at: int
    ) -> x509.Certificate:
        """What the Fulcio endpoint issues: a leaf for a CSR's key (valid from ``at - 1``)."""
        self._counter += 1
        return self._leaf_certificate(
            public, identity, self.ca, good_sct=True, at=at - 1, label=f"leaf/{self._counter}"
        )

    def leaf(
        self,
        identity: SigningIdentity,
        *,
        at: int,
        curve: Curve | None = None,
        ca: CertificateAuthority | None = None,
        good_sct: bool = True,
    ) -> LeafCertificate:
        """The certificate ``identity`` signs with at ``at`` (reused while still valid)."""
        curve = curve or self.leaf_curve
        ca = ca or self.ca
        cache_key = (identity, curve, ca.name, good_sct)
        leaf = self._leaves.get(cache_key) if self.reuse_leaf else None
        if leaf is None or not leaf.not_before <= at < leaf.not_after:
            leaf = self._issue_leaf(identity, curve, ca, good_sct=good_sct, at=at - 1)
            if self.reuse_leaf:
                self._leaves[cache_key] = leaf
        return leaf

    # ------------------------------------------------------------------ log

    def _add_filler(self) -> None:
        self._filler += 1
        self.log.append(hashlib.sha256(b"tenant\0%d" % self._filler).digest())

    @property
    def log_id(self) -> bytes:
        """The Rekor log ID (SHA-256 of its key's SubjectPublicKeyInfo)."""
        return self.rekor_key.key_id

    def _checkpoint(self, size: int, root: bytes, key: SigningKey) -> str:
        note = f"{self.origin}\n{size}\n{_b64(root)}\n"
        signature = key.sign(note.encode("utf-8"))
        return f"{note}\n\u2014 {REKOR_NAME} {_b64(self.log_id[:4] + signature)}\n"

    def _log_entry(
        self, body: bytes, integrated_time: int, defect: Defect | None
    ) -> dict[str, Any]:
        index = self.log.append(_hash_leaf(body))
        for _ in range(self.log_traffic):
            self._add_filler()
        size = self.log.size
        root = self.log.root(size)
        proof = self.log.inclusion_proof(index, size)
        log_index = index + self.log_index_offset
        body_b64 = _b64(body)
        set_payload = rfc8785.dumps(
            {
                "body": body_b64,
                "integratedTime": integrated_time,
                "logID": self.log_id.hex(),
                "logIndex": log_index,
            }
        )
        set_key = self._rogue_key("rekor") if defect is Defect.BAD_SET else self.rekor_key
        checkpoint_key = (
            self._rogue_key("rekor") if defect is Defect.BAD_CHECKPOINT else self.rekor_key
        )
        if defect is Defect.BAD_INCLUSION_PROOF:
            if proof:
                proof[0] = hashlib.sha256(proof[0]).digest()
            else:
                proof.append(hashlib.sha256(root).digest())
        return {
            "logIndex": str(log_index),
            "logId": {"keyId": _b64(self.log_id)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": str(integrated_time),
            "inclusionPromise": {"signedEntryTimestamp": _b64(set_key.sign(set_payload))},
            "inclusionProof": {
                "logIndex": str(index),
                "rootHash": _b64(root),
                "treeSize": str(size),
                "hashes": [_b64(h) for h in proof],
                "checkpoint": {"envelope": self._checkpoint(size, root, checkpoint_key)},
            },
            "canonicalizedBody": body_b64,
        }

    # ------------------------------------------------------------------ minting

    def now(self) -> int:
        """The virtual clock (Unix seconds) the next attestation is signed at by default."""
        return self._clock

    def _tick(self) -> int:
        at = self._clock
        self._clock += self._clock_step
        return at

    def mint_attestation(
        self,
        filename: str,
        sha256: str,
        identity: SigningIdentity,
        *,
        defect: Defect | None = None,
        predicate_type: str = PUBLISH_PREDICATE,
        predicate: Mapping[str, Any] | None = None,
        subject_name: str | None = None,
        subject_sha256: str | None = None,
        signed_at: datetime | int | None = None,
        curve: Curve | None = None,
    ) -> dict[str, Any]:
        """A PEP 740 attestation object for ``filename`` with ``sha256``, signed as ``identity``.

        ``subject_name``/``subject_sha256`` override what the statement claims (defaults:
        the file's). ``signed_at`` is when the log integrates it (default: the virtual
        clock, which then advances). ``curve``: the leaf key's (default ``leaf_curve``).
        ``Defect.WRONG_PUBLISHER`` does nothing here (see :meth:`mint_provenance`).
        """
        if signed_at is None:
            at = self._tick()
        elif isinstance(signed_at, datetime):
            at = int(signed_at.timestamp())
        else:
            at = signed_at
        name = subject_name if subject_name is not None else filename
        digest = subject_sha256 if subject_sha256 is not None else sha256
        if defect is Defect.WRONG_SUBJECT_NAME:
            name = other_filename(name)
        elif defect is Defect.WRONG_SUBJECT_DIGEST:
            digest = _other_digest(digest)

        leaf = self.leaf(
            identity,
            at=at,
            curve=curve,
            ca=self.untrusted_ca if defect is Defect.UNTRUSTED_CA else None,
            good_sct=defect is not Defect.BAD_SCT,
        )
        integrated_time = at
        if defect is Defect.EXPIRED_CERTIFICATE:
            integrated_time = leaf.not_after + 3600
        elif defect is Defect.CERTIFICATE_NOT_YET_VALID:
            integrated_time = leaf.not_before - 3600

        statement = json.dumps(
            {
                "_type": STATEMENT_TYPE,
                "subject": [{"name": name, "digest": {"sha256": digest}}],
                "predicateType": predicate_type,
                "predicate": None if predicate is None else dict(predicate),
            },
            separators=(",", ":"),
        ).encode("utf-8")
        signed = statement
        if defect is Defect.BAD_SIGNATURE:
            signed = statement.replace(b'"subject"', b'"subject" ', 1)
        # DSSE signatures are ECDSA over SHA-256 whatever the curve (as sigstore checks them).
        signature = leaf.key.sign(pae(DSSE_PAYLOAD_TYPE, signed), hashes.SHA256())
        signature_b64 = _b64(signature)
        statement_b64 = _b64(statement)
        envelope = json.dumps(
            {
                "payload": statement_b64,
                "payloadType": DSSE_PAYLOAD_TYPE,
                "signatures": [{"keyid": "", "sig": signature_b64}],
            },
            separators=(",", ":"),
        ).encode("utf-8")
        body = _dsse_body(envelope, statement, signature_b64, leaf.verifier_b64)
        return {
            "version": 1,
            "verification_material": {
                "certificate": leaf.der_b64,
                "transparency_entries": [self._log_entry(body, integrated_time, defect)],
            },
            "envelope": {"statement": statement_b64, "signature": signature_b64},
        }

    def log_dsse(
        self, envelope: bytes, verifier_b64: str, *, integrated_time: int
    ) -> dict[str, Any]:
        """What the Rekor v1 endpoint answers to a ``dsse`` entry: ``{uuid: entry}``.

        ``envelope`` is the DSSE envelope's JSON as proposed; ``verifier_b64`` the base64
        PEM certificate. The entry carries a signed entry timestamp and an inclusion proof
        with a signed checkpoint, in the Rekor v1 API's encoding (hex hashes).
        """
        doc = json.loads(envelope)
        statement = base64.b64decode(doc["payload"])
        signature_b64 = doc["signatures"][0]["sig"]
        body = _dsse_body(envelope, statement, signature_b64, verifier_b64)
        entry = self._log_entry(body, integrated_time, None)
        proof = entry["inclusionProof"]
        return {
            _hash_leaf(body).hex(): {
                "body": entry["canonicalizedBody"],
                "integratedTime": integrated_time,
                "logID": self.log_id.hex(),
                "logIndex": int(entry["logIndex"]),
                "verification": {
                    "signedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
                    "inclusionProof": {
                        "checkpoint": proof["checkpoint"]["envelope"],
                        "hashes": [base64.b64decode(h).hex() for h in proof["hashes"]],
                        "logIndex": int(proof["logIndex"]),
                        "rootHash": base64.b64decode(proof["rootHash"]).hex(),
                        "treeSize": int(proof["treeSize"]),
                    },
                },
            }
        }

    def mint_provenance(
        self,
        filename: str,
        sha256: str,
        identity: SigningIdentity,
        *,
        defect: Defect | None = None,
        publisher: Mapping[str, Any] | None = None,
        predicate_types: Sequence[str] = (PUBLISH_PREDICATE,),
        **attestation_options: Any,
    ) -> bytes:
        """A PEP 740 provenance object (JSON bytes, as the Integrity API serves it).

        One bundle, whose publisher is ``publisher`` or the identity's own (another one
        for ``Defect.WRONG_PUBLISHER``), holding one attestation per predicate type, each
        carrying ``defect``. Other keywords go to :meth:`mint_attestation`.
        """
        attestations = [
            self.mint_attestation(
                filename,
                sha256,
                identity,
                defect=defect,
                predicate_type=predicate_type,
                **attestation_options,
            )
            for predicate_type in predicate_types
        ]
        if publisher is None:
            publisher = (
                identity.other_publisher()
                if defect is Defect.WRONG_PUBLISHER
                else identity.publisher()
            )
        return make_provenance(attestations, publisher)

    # ------------------------------------------------------------------ trust root

    def trusted_root(
        self, *, rekor_valid_for: tuple[datetime, datetime | None] | None = None
    ) -> dict[str, Any]:
        """The ``trusted_root.json`` document (protobuf-specs JSON) naming this instance.

        ``rekor_valid_for``: the Rekor key's ``validFor`` (``start``, ``end`` or ``None``)
        instead of the CA's (open-ended from ``CA_NOT_BEFORE``).
        """
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        valid_for = {"start": CA_NOT_BEFORE.strftime(stamp)}
        rekor_window = valid_for
        if rekor_valid_for is not None:
            start, end = rekor_valid_for
            rekor_window = {"start": start.strftime(stamp)}
            if end is not None:
                rekor_window["end"] = end.strftime(stamp)

        def log(url: str, key: SigningKey) -> dict[str, Any]:
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(key.spki),
                    "keyDetails": key.curve.key_details,
                    "validFor": rekor_window if key is self.rekor_key else valid_for,
                },
                "logId": {"keyId": _b64(key.key_id)},
            }

        chain = [self.ca.intermediate, self.ca.root]
        return {
            "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
            "tlogs": [log(REKOR_URL, self.rekor_key)],
            "certificateAuthorities": [
                {
                    "subject": {
                        "organization": "virtual-sigstore.test",
                        "commonName": self.ca.name,
                    },
                    "uri": FULCIO_URL,
                    "certChain": {
                        "certificates": [
                            {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))}
                            for c in chain
                        ]
                    },
                    "validFor": valid_for,
                }
            ],
            "ctlogs": [log(CT_URL, self.ct_key)],
            "timestampAuthorities": [],
        }

    def trusted_root_bytes(self, **options: Any) -> bytes:
        return json.dumps(self.trusted_root(**options), indent=2).encode("utf-8")

    def write_trusted_root(self, path: str | Path, **options: Any) -> Path:
        """Write ``trusted_root.json`` to ``path`` (a file) and return the path (``options``
        go to :meth:`trusted_root`)."""
        path = Path(path)
        path.write_bytes(self.trusted_root_bytes(**options))
        return path


_LEAF_USAGE: Final = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)
_CODE_SIGNING: Final = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING])


def _dsse_body(envelope: bytes, statement: bytes, signature_b64: str, verifier_b64: str) -> bytes:
    """The canonical body of a Rekor ``dsse``/``0.0.1`` entry."""
    return rfc8785.dumps(
        {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(envelope).hexdigest(),
                },
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(statement).hexdigest(),
                },
                "signatures": [{"signature": signature_b64, "verifier": verifier_b64}],
            },
        }
    )


def make_provenance(
    attestations: Sequence[Mapping[str, Any]], publisher: Mapping[str, Any]
) -> bytes:
    """A PEP 740 provenance object with one bundle, as JSON bytes."""
    doc = {
        "version": 1,
        "attestation_bundles": [
            {"publisher": dict(publisher), "attestations": [dict(a) for a in attestations]}
        ],
    }
    return json.dumps(doc).encode("utf-8")


# --------------------------------------------------------------------------- signing services

SIGNING_CONFIG_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
CLIENT_TRUST_CONFIG_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
_AMBIENT_REQUEST_TOKEN: Final = "virtual-actions-request-token"
TOKEN_AUDIENCE: Final = "sigstore"
"""The ``aud`` sigstore-python's ``IdentityToken`` requires (its default client ID)."""


def _github_token_claims(identity: GitHubIdentity) -> dict[str, Any]:
    """The claims of a GitHub Actions OIDC token for ``identity`` (those Fulcio maps)."""
    workflow_ref = f"{identity.repository}/.github/workflows/{identity.workflow}@{identity.ref}"
    return {
        "sub": f"repo:{identity.repository}:ref:{identity.ref}",
        "repository": identity.repository,
        "repository_owner": identity.owner,
        "repository_id": identity.repository_id,
        "repository_owner_id": identity.owner_id,
        "repository_visibility": identity.visibility,
        "ref": identity.ref,
        "sha": identity.sha,
        "workflow": identity.workflow_name,
        "workflow_ref": workflow_ref,
        "job_workflow_ref": identity.build_signer or workflow_ref,
        "event_name": identity.trigger,
        "run_id": identity.run_id,
        "run_attempt": identity.run_attempt,
        "runner_environment": identity.runner_environment,
    }


def _github_identity(claims: Mapping[str, Any]) -> GitHubIdentity:
    """The identity Fulcio certifies for a GitHub Actions token (its claim mapping)."""
    workflow_ref = str(claims["workflow_ref"])
    path = workflow_ref.split("@", 1)[0]
    job_ref = str(claims.get("job_workflow_ref") or workflow_ref)
    return GitHubIdentity(
        repository=str(claims["repository"]),
        workflow=path.rsplit("/", 1)[-1],
        ref=str(claims["ref"]),
        commit=str(claims["sha"]),
        repository_id=str(claims["repository_id"]),
        owner_id=str(claims["repository_owner_id"]),
        trigger=str(claims["event_name"]),
        runner_environment=str(claims["runner_environment"]),
        visibility=str(claims["repository_visibility"]),
        workflow_name=str(claims["workflow"]),
        run_id=str(claims["run_id"]),
        run_attempt=str(claims["run_attempt"]),
        build_signer=None if job_ref == workflow_ref else job_ref,
    )


class SigningServices:
    """Loopback Fulcio and Rekor v1 endpoints over a :class:`VirtualSigstore`, and an OIDC
    issuer's signing key, so sigstore-python's own signing client runs end to end.

    - ``POST /api/v2/signingCert`` (Fulcio v2): checks the bearer token's signature (made
      by :meth:`mint_token`), audience and lifetime, and the CSR's self-signature; issues
      a leaf for the CSR's key certifying the token's identity (GitHub Actions claims),
      with an embedded SCT, valid from now for ten minutes; answers the PEM chain.
    - ``POST /api/v1/log/entries`` (Rekor v1): takes a ``dsse`` proposal, checks its DSSE
      signature against the proposed certificate, and logs it in the virtual log: the
      answer carries a signed entry timestamp and an inclusion proof with a checkpoint.

    :meth:`trust_config` is a sigstore ``ClientTrustConfig`` naming the virtual trusted root
    and these endpoints. Time is the real clock here (sigstore-python checks the
    certificate against it). Use as a context manager; ``requests`` logs every call.
    """

    def __init__(self, sigstore: VirtualSigstore | None = None) -> None:
        self.sigstore = sigstore or VirtualSigstore()
        self.oidc_key = self.sigstore._key(Curve.P256, "oidc")
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.ambient: GitHubIdentity | None = None
        """Whose token the GitHub Actions token endpoint hands out (see :meth:`github_env`)."""
        self._lock = threading.Lock()
        services = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                services.requests.append(self.path)
                try:
                    with services._lock:
                        status, answer = services._route(self.path, dict(self.headers), body)
                except Exception as err:  # a bug in the test service: fail the request loudly
                    services.errors.append(f"{self.path}: {type(err).__name__}: {err}")
                    status, answer = 500, {"code": 500, "message": str(err)}
                data = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> SigningServices:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ OIDC

    def mint_token(
        self,
        identity: GitHubIdentity,
        *,
        audience: str = TOKEN_AUDIENCE,
        lifetime: int = 300,
        key: SigningKey | None = None,
    ) -> str:
        """A GitHub Actions OIDC token for ``identity``, signed by this issuer's key (or
        ``key``: a token this Fulcio must refuse)."""
        now = int(time.time())
        claims = {
            "iss": identity.issuer,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            **_github_token_claims(identity),
        }
        return jwt.encode(claims, (key or self.oidc_key).private, algorithm="ES256")

    def github_env(self, identity: GitHubIdentity) -> dict[str, str]:
        """The environment of a GitHub Actions job with ``id-token: write`` whose token
        endpoint (``ACTIONS_ID_TOKEN_REQUEST_URL``) is this server, handing out tokens for
        ``identity``: what sigstore-python's ambient credential detection reads."""
        self.ambient = identity
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}/github-actions/token?api-version=2",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": _AMBIENT_REQUEST_TOKEN,
        }

    # ------------------------------------------------------------------ endpoints

    def _github_token(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        if headers.get("Authorization", "").lower() != f"bearer {_AMBIENT_REQUEST_TOKEN}":
            return 401, {"message": "bad request token"}
        if self.ambient is None:
            return 403, {"message": "no id-token permission"}
        audience = path.split("audience=", 1)[1].split("&", 1)[0] if "audience=" in path else ""
        return 200, {"value": self.mint_token(self.ambient, audience=audience)}

    def _route(
        self, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        if path.startswith("/github-actions/token"):
            return self._github_token(path, headers)
        if path == "/api/v2/signingCert":
            return self._signing_cert(headers, body)
        if path == "/api/v1/log/entries":
            return self._log_entry_v1(body)
        return 404, {"code": 404, "message": f"no such endpoint: {path}"}

    def _signing_cert(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return 401, {"code": 401, "message": "no bearer token"}
        try:
            claims = jwt.decode(
                auth[len("Bearer ") :],
                self.oidc_key.public,
                algorithms=["ES256"],
                audience=TOKEN_AUDIENCE,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.PyJWTError as err:
            return 401, {"code": 401, "message": f"invalid identity token: {err}"}
        if claims["iss"] != GitHubIdentity.issuer:
            return 400, {"code": 400, "message": f"unsupported issuer {claims['iss']}"}
        request = json.loads(body)
        pem = base64.b64decode(request["certificateSigningRequest"])
        csr = x509.load_pem_x509_csr(pem)
        if not csr.is_signature_valid:
            return 400, {"code": 400, "message": "the CSR's signature is not valid"}
        public = csr.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            return 400, {"code": 400, "message": "unsupported key type"}
        cert = self.sigstore.certify(public, _github_identity(claims), at=int(time.time()))
        chain = [cert, self.sigstore.ca.intermediate, self.sigstore.ca.root]
        pems = [c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in chain]
        return 201, {"signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}}

    def _log_entry_v1(self, body: bytes) -> tuple[int, dict[str, Any]]:
        proposal = json.loads(body)
        if proposal.get("kind") != "dsse":
            return 400, {"code": 400, "message": "this log takes dsse entries only"}
        content = proposal["spec"]["proposedContent"]
        envelope = content["envelope"].encode("utf-8")
        verifier_b64 = content["verifiers"][0]
        cert = x509.load_pem_x509_certificate(base64.b64decode(verifier_b64))
        doc = json.loads(envelope)
        payload = base64.b64decode(doc["payload"])
        signature = base64.b64decode(doc["signatures"][0]["sig"])
        public = cert.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        try:
            public.verify(signature, pae(doc["payloadType"], payload), ec.ECDSA(hashes.SHA256()))
        except Exception:
            return 400, {"code": 400, "message": "the DSSE signature does not verify"}
        entry = self.sigstore.log_dsse(envelope, verifier_b64, integrated_time=int(time.time()))
        return 201, entry

    # ------------------------------------------------------------------ configuration

    def signing_config(self) -> dict[str, Any]:
        """A signing config (v0.2) naming these endpoints (Fulcio v1 API, Rekor v1)."""

        def service(url: str) -> dict[str, Any]:
            return {
                "url": url,
                "majorApiVersion": 1,
                "validFor": {"start": CA_NOT_BEFORE.strftime("%Y-%m-%dT%H:%M:%SZ")},
                "operator": "virtual-sigstore.test",
            }

        return {
            "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
            "caUrls": [service(self.url)],
            "oidcUrls": [],
            "rekorTlogUrls": [service(self.url)],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        }

    def trust_config(self) -> dict[str, Any]:
        """sigstore-python's ``ClientTrustConfig``: the trusted root and the signing config."""
        return {
            "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
            "trustedRoot": self.sigstore.trusted_root(),
            "signingConfig": self.signing_config(),
        }

    def write_trust_config(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.trust_config(), indent=2))
        return path
