"""Verify PEP 740 provenance against the Sigstore trust root and the Trusted Publisher."""

from __future__ import annotations

from bomguard.verify.trust import TrustRoot, load_trust_root
from bomguard.verify.verifier import KNOWN_PUBLISHER_KINDS, FileVerdict, ProvenanceVerifier

__all__ = [
    "KNOWN_PUBLISHER_KINDS",
    "FileVerdict",
    "ProvenanceVerifier",
    "TrustRoot",
    "load_trust_root",
]
