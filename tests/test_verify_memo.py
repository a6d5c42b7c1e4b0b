"""One verifier checks each signing certificate's chain once per run; nothing else about
an attestation is taken from an earlier one signed with the same certificate."""

from __future__ import annotations

import hashlib

import pytest
from virtual_sigstore import Defect, GitHubIdentity, VirtualSigstore

from bomguard.models import Status
from bomguard.verify.trust import load_trust_root
from bomguard.verify.verifier import ProvenanceVerifier

ACME = GitHubIdentity(repository="acme/widget", ref="refs/tags/v1.0", trigger="release")
# Defects that keep the leaf certificate of a good attestation: the tampering is elsewhere.
SAME_CERTIFICATE = [
    Defect.BAD_SIGNATURE,
    Defect.BAD_SET,
    Defect.BAD_CHECKPOINT,
    Defect.BAD_INCLUSION_PROOF,
    Defect.WRONG_SUBJECT_NAME,
    Defect.WRONG_SUBJECT_DIGEST,
    Defect.WRONG_PUBLISHER,
    Defect.EXPIRED_CERTIFICATE,
    Defect.CERTIFICATE_NOT_YET_VALID,
]


def _sha(filename: str) -> str:
    return hashlib.sha256(filename.encode()).hexdigest()


@pytest.fixture(scope="module")
def minted(tmp_path_factory):
    sig = VirtualSigstore(seed=23)
    root = sig.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")
    return sig, ProvenanceVerifier(load_trust_root(str(root)))


@pytest.mark.parametrize("defect", SAME_CERTIFICATE, ids=lambda d: d.value)
def test_a_tampered_file_signed_with_an_already_verified_certificate_is_invalid(minted, defect):
    sig, verifier = minted
    good = "widget-1.0.tar.gz"
    bad = "widget-1.0-py3-none-any.whl"
    status, reason, _, identity = verifier.verify(
        sig.mint_provenance(good, _sha(good), ACME), good, _sha(good)
    )
    assert (status, reason) == (Status.VERIFIED, "")
    assert identity is not None and identity.repository == "acme/widget"

    tampered = sig.mint_provenance(bad, _sha(bad), ACME, defect=defect)
    status, reason, _, _ = verifier.verify(tampered, bad, _sha(bad))
    assert status is Status.INVALID, (defect, reason)
    assert reason

    # ... and the good file still verifies after it.
    status, _, _, _ = verifier.verify(sig.mint_provenance(good, _sha(good), ACME), good, _sha(good))
    assert status is Status.VERIFIED
