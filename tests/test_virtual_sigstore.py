"""The virtual Sigstore mints attestations that verify, and broken ones that fail by name.

Everything goes through ``ProvenanceVerifier`` (and, end to end, the CLI against the
loopback index): the same code path real PyPI attestations take.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.certificate_transparency import LogEntryType
from helpers import by_name, cdx, props, pypi, run_cli, write_json
from indexserver import IndexServer
from sigstore._internal.merkle import (
    _chain_border_right,
    _chain_inner,
    _decomp_inclusion_proof,
)
from virtual_sigstore import (
    LEAF_LIFETIME,
    PUBLISH_PREDICATE,
    SLSA_PREDICATE,
    CircleCIIdentity,
    Curve,
    Defect,
    GitHubIdentity,
    GitLabIdentity,
    GoogleIdentity,
    MerkleLog,
    SigningIdentity,
    VirtualSigstore,
)

from bomguard.models import DigestSource, Identity, Status
from bomguard.verify import ProvenanceVerifier, load_trust_root

LOG_OFFSET = 150_000_000
FILENAME = "octo_pkg-1.2.3-py3-none-any.whl"
SHA256 = hashlib.sha256(b"octo_pkg 1.2.3 wheel").hexdigest()
GITHUB = GitHubIdentity("octo-org/octo-pkg", workflow="publish.yml", ref="refs/tags/v1.2.3")


@pytest.fixture(scope="module")
def vsig() -> VirtualSigstore:
    return VirtualSigstore(log_index_offset=LOG_OFFSET)


@pytest.fixture(scope="module")
def trust_root_path(vsig: VirtualSigstore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vsig.write_trusted_root(tmp_path_factory.mktemp("vsig") / "trusted_root.json")


@pytest.fixture(scope="module")
def verifier(trust_root_path: Path) -> ProvenanceVerifier:
    return ProvenanceVerifier(load_trust_root(str(trust_root_path)))


def _attestations(provenance: bytes) -> list[dict[str, Any]]:
    doc = json.loads(provenance)
    return [a for bundle in doc["attestation_bundles"] for a in bundle["attestations"]]


def _entry(provenance: bytes) -> dict[str, Any]:
    entry: dict[str, Any] = _attestations(provenance)[0]["verification_material"][
        "transparency_entries"
    ][0]
    return entry


def _certificate(provenance: bytes) -> x509.Certificate:
    raw = _attestations(provenance)[0]["verification_material"]["certificate"]
    return x509.load_der_x509_certificate(base64.b64decode(raw))


def test_good_attestation_verifies_with_its_identity(
    vsig: VirtualSigstore, verifier: ProvenanceVerifier
) -> None:
    identity = GitHubIdentity(
        "octo-org/octo-pkg",
        workflow="publish.yml",
        ref="refs/tags/v1.2.3",
        commit="0f" * 20,
        repository_id="123456789",
        owner_id="987654",
        trigger="release",
        runner_environment="self-hosted",
        environment="pypi",
        visibility="private",
        run_id="4242",
        run_attempt="3",
    )
    signed_at = datetime(2025, 7, 1, 8, 30, tzinfo=UTC)
    provenance = vsig.mint_provenance(FILENAME, SHA256, identity, signed_at=signed_at)
    entry = _entry(provenance)

    status, reason, results, got = verifier.verify(provenance, FILENAME, SHA256, DigestSource.INDEX)

    assert (status, reason) == (Status.VERIFIED, "")
    assert [(r.predicate_type, r.status) for r in results] == [(PUBLISH_PREDICATE, Status.VERIFIED)]
    assert got is not None
    workflow_uri = (
        "https://github.com/octo-org/octo-pkg/.github/workflows/publish.yml@refs/tags/v1.2.3"
    )
    expected = Identity(
        kind="GitHub",
        issuer="https://token.actions.githubusercontent.com",
        repository="octo-org/octo-pkg",
        repository_uri="https://github.com/octo-org/octo-pkg",
        repository_id="123456789",
        owner_uri="https://github.com/octo-org",
        owner_id="987654",
        workflow="publish.yml",
        ref="refs/tags/v1.2.3",
        commit="0f" * 20,
        build_signer_uri=workflow_uri,
        build_config_uri=workflow_uri,
        build_config_digest="0f" * 20,
        trigger="release",
        runner_environment="self-hosted",
        run_invocation_uri="https://github.com/octo-org/octo-pkg/actions/runs/4242/attempts/3",
        visibility="private",
        san=workflow_uri,
        environment="pypi",
        log_id=vsig.log_id.hex(),
        log_index=int(entry["inclusionProof"]["logIndex"]) + LOG_OFFSET,
        integrated_time=int(signed_at.timestamp()),
        claims=got.claims,
        trusted_publisher={
            "kind": "GitHub",
            "repository": "octo-org/octo-pkg",
            "workflow": "publish.yml",
            "environment": "pypi",
        },
    )
    assert got == expected
    assert got.log_index == int(entry["logIndex"])
    assert dict(got.claims) == {
        "1.3.6.1.4.1.57264.1.1": identity.issuer,
        **identity.claims(),
    }


@pytest.mark.parametrize(
    ("identity", "san", "workflow"),
    [
        pytest.param(
            GitLabIdentity("octo-group/sub/octo-pkg", environment="release"),
            "https://gitlab.com/octo-group/sub/octo-pkg//.gitlab-ci.yml@refs/heads/main",
            ".gitlab-ci.yml",
            id="gitlab",
        ),
        pytest.param(
            GoogleIdentity("publisher@octo-project.iam.gserviceaccount.com"),
            "publisher@octo-project.iam.gserviceaccount.com",
            None,
            id="google",
        ),
        pytest.param(
            CircleCIIdentity(
                "5e4d1c3b-0000-4000-8000-00000000000a",
                "5e4d1c3b-0000-4000-8000-00000000000b",
                vcs_origin="github.com/octo-org/octo-pkg",
                vcs_ref="refs/heads/main",
            ),
            "https://circleci.com/api/v2/projects/5e4d1c3b-0000-4000-8000-00000000000a"
            "/pipeline-definitions/5e4d1c3b-0000-4000-8000-00000000000b",
            None,
            id="circleci",
        ),
        pytest.param(
            GitHubIdentity(
                "octo-org/octo-pkg",
                build_signer="octo-org/shared/.github/workflows/pypi.yml@refs/heads/main",
            ),
            "https://github.com/octo-org/shared/.github/workflows/pypi.yml@refs/heads/main",
            "release.yml",
            id="github-reusable-workflow",
        ),
    ],
)
@pytest.mark.parametrize("curve", list(Curve))
def test_every_publisher_kind_and_leaf_curve_verifies(
    vsig: VirtualSigstore,
    verifier: ProvenanceVerifier,
    identity: SigningIdentity,
    san: str,
    workflow: str | None,
    curve: Curve,
) -> None:
    provenance = vsig.mint_provenance(
        "octo_pkg-1.2.3.tar.gz",
        SHA256,
        identity,
        curve=curve,
        predicate_types=(PUBLISH_PREDICATE, SLSA_PREDICATE),
    )
    cert = _certificate(provenance)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == curve.ec_curve.name  # type: ignore[union-attr]

    status, reason, results, got = verifier.verify(
        provenance, "octo_pkg-1.2.3.tar.gz", SHA256, DigestSource.INDEX
    )

    assert (status, reason) == (Status.VERIFIED, "")
    assert [r.predicate_type for r in results] == [PUBLISH_PREDICATE, SLSA_PREDICATE]
    assert got is not None
    assert (got.kind, got.issuer, got.san, got.workflow) == (
        identity.kind,
        identity.issuer,
        san,
        workflow,
    )
    assert got.environment == identity.publisher().get("environment")


# What each defect must be rejected for (a fragment of the reason).
DEFECT_REASONS = {
    Defect.EXPIRED_CERTIFICATE: "not valid at validation time",
    Defect.CERTIFICATE_NOT_YET_VALID: "not valid at validation time",
    Defect.UNTRUSTED_CA: "failed to build timestamp certificate chain",
    Defect.BAD_SCT: "failed to verify SCT on signing certificate",
    Defect.BAD_SET: "SET: invalid inclusion promise",
    Defect.BAD_CHECKPOINT: "checkpoint: invalid signature",
    Defect.BAD_INCLUSION_PROOF: "inclusion proof contains invalid root hash",
    Defect.BAD_SIGNATURE: "DSSE: invalid signature",
    Defect.WRONG_SUBJECT_NAME: (
        "subject name 'octo_pkg-1.2.3.post9999-py3-none-any.whl' does not match the file"
    ),
    Defect.WRONG_SUBJECT_DIGEST: f"does not match the file's {SHA256}",
    Defect.WRONG_PUBLISHER: "does not match expected Trusted Publisher (not-publish.yml",
}


def test_every_defect_has_an_expected_reason() -> None:
    assert set(DEFECT_REASONS) == set(Defect)


@pytest.mark.parametrize("defect", list(Defect))
def test_each_defect_is_invalid_for_its_reason(
    vsig: VirtualSigstore, verifier: ProvenanceVerifier, defect: Defect
) -> None:
    provenance = vsig.mint_provenance(FILENAME, SHA256, GITHUB, defect=defect)

    status, reason, results, got = verifier.verify(provenance, FILENAME, SHA256, DigestSource.INDEX)

    assert status is Status.INVALID
    assert DEFECT_REASONS[defect] in reason
    assert got is None
    assert [r.status for r in results] == [Status.INVALID]
    # The defect spoils nothing else: the next attestation of the same identity is fine.
    good = vsig.mint_provenance(FILENAME, SHA256, GITHUB)
    assert verifier.verify(good, FILENAME, SHA256, DigestSource.INDEX)[:2] == (
        Status.VERIFIED,
        "",
    )


def test_defects_are_what_they_say(vsig: VirtualSigstore) -> None:
    expired = vsig.mint_provenance(FILENAME, SHA256, GITHUB, defect=Defect.EXPIRED_CERTIFICATE)
    cert = _certificate(expired)
    assert int(_entry(expired)["integratedTime"]) > cert.not_valid_after_utc.timestamp()

    early = vsig.mint_provenance(FILENAME, SHA256, GITHUB, defect=Defect.CERTIFICATE_NOT_YET_VALID)
    cert = _certificate(early)
    assert int(_entry(early)["integratedTime"]) < cert.not_valid_before_utc.timestamp()

    rogue = _certificate(vsig.mint_provenance(FILENAME, SHA256, GITHUB, defect=Defect.UNTRUSTED_CA))
    assert rogue.issuer != vsig.ca.intermediate.subject

    name = json.loads(
        base64.b64decode(
            _attestations(
                vsig.mint_provenance(FILENAME, SHA256, GITHUB, defect=Defect.WRONG_SUBJECT_NAME)
            )[0]["envelope"]["statement"]
        )
    )["subject"][0]
    assert name["digest"] == {"sha256": SHA256}
    assert name["name"] != FILENAME

    wrong_publisher = json.loads(
        vsig.mint_provenance(FILENAME, SHA256, GITHUB, defect=Defect.WRONG_PUBLISHER)
    )
    assert wrong_publisher["attestation_bundles"][0]["publisher"] == {
        **GITHUB.publisher(),
        "workflow": "not-publish.yml",
    }


@pytest.mark.parametrize(
    ("identity", "fragment"),
    [
        (GitLabIdentity("octo-group/octo-pkg"), "Trusted Publisher (other/.gitlab-ci.yml"),
        (GoogleIdentity("sa@octo.iam.gserviceaccount.com"), "SANs do not match other-sa@"),
        (CircleCIIdentity("p-1", "d-1"), "does not match expected Trusted Publisher"),
    ],
)
def test_wrong_publisher_of_every_kind(
    vsig: VirtualSigstore, verifier: ProvenanceVerifier, identity: SigningIdentity, fragment: str
) -> None:
    provenance = vsig.mint_provenance(FILENAME, SHA256, identity, defect=Defect.WRONG_PUBLISHER)
    status, reason, _, _ = verifier.verify(provenance, FILENAME, SHA256, DigestSource.INDEX)
    assert status is Status.INVALID
    assert fragment in reason


def test_production_trust_root_rejects_minted_attestations(vsig: VirtualSigstore) -> None:
    provenance = vsig.mint_provenance(FILENAME, SHA256, GITHUB)
    production = ProvenanceVerifier(load_trust_root("embedded"))

    status, reason, _, identity = production.verify(
        provenance, FILENAME, SHA256, DigestSource.INDEX
    )

    assert status is Status.INVALID
    assert "failed to build timestamp certificate chain" in reason
    assert identity is None


def test_another_virtual_sigstore_is_not_trusted(
    verifier: ProvenanceVerifier, tmp_path: Path
) -> None:
    other = VirtualSigstore()
    provenance = other.mint_provenance(FILENAME, SHA256, GITHUB)
    status, reason, _, _ = verifier.verify(provenance, FILENAME, SHA256, DigestSource.INDEX)
    assert status is Status.INVALID
    assert "failed to build timestamp certificate chain" in reason
    # ... but it trusts itself.
    own = ProvenanceVerifier(load_trust_root(str(other.write_trusted_root(tmp_path / "r.json"))))
    assert own.verify(provenance, FILENAME, SHA256, DigestSource.INDEX)[0] is Status.VERIFIED


def test_embedded_sct_is_a_precertificate_sct_by_the_ct_log(vsig: VirtualSigstore) -> None:
    cert = _certificate(vsig.mint_provenance(FILENAME, SHA256, GITHUB))
    scts = cert.extensions.get_extension_for_class(
        x509.PrecertificateSignedCertificateTimestamps
    ).value
    assert len(scts) == 1
    sct = scts[0]
    assert sct.entry_type is LogEntryType.PRE_CERTIFICATE
    assert sct.log_id == vsig.ct_key.key_id
    tbs = cert.tbs_precertificate_bytes
    signed = (
        b"\x00\x00"
        + int(sct.timestamp.replace(tzinfo=UTC).timestamp() * 1000).to_bytes(8, "big")
        + b"\x00\x01"
        + vsig.ca.issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + b"\x00\x00"
    )
    vsig.ct_key.public.verify(sct.signature, signed, ec.ECDSA(hashes.SHA256()))
    assert sct.timestamp.replace(tzinfo=UTC) == cert.not_valid_before_utc


def test_leaf_certificates_last_one_signing_session(
    vsig: VirtualSigstore, verifier: ProvenanceVerifier
) -> None:
    identity = GitHubIdentity("octo-org/session", ref="refs/tags/v9")
    start = datetime(2025, 8, 1, tzinfo=UTC).timestamp()
    first = vsig.mint_provenance(FILENAME, SHA256, identity, signed_at=int(start))
    same = vsig.mint_provenance(FILENAME, SHA256, identity, signed_at=int(start) + 60)
    later = vsig.mint_provenance(
        FILENAME, SHA256, identity, signed_at=int(start) + LEAF_LIFETIME + 5
    )
    assert _certificate(first) == _certificate(same)
    assert _certificate(later) != _certificate(first)
    for provenance in (first, same, later):
        assert verifier.verify(provenance, FILENAME, SHA256, DigestSource.INDEX)[0] is (
            Status.VERIFIED
        )

    fresh = VirtualSigstore(reuse_leaf=False)
    a = fresh.mint_provenance(FILENAME, SHA256, identity)
    b = fresh.mint_provenance(FILENAME, SHA256, identity)
    assert _certificate(a) != _certificate(b)


def test_seed_makes_minting_reproducible() -> None:
    one, two = VirtualSigstore(seed=740), VirtualSigstore(seed=740)
    assert one.trusted_root_bytes() == two.trusted_root_bytes()
    assert one.mint_provenance(FILENAME, SHA256, GITHUB) == two.mint_provenance(
        FILENAME, SHA256, GITHUB
    )
    assert VirtualSigstore(seed=741).trusted_root_bytes() != one.trusted_root_bytes()


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH, the slow way."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def test_merkle_log_roots_and_inclusion_proofs() -> None:
    log = MerkleLog()
    leaves = [hashlib.sha256(b"%d" % i).digest() for i in range(70)]
    for i, leaf in enumerate(leaves):
        assert log.append(leaf) == i
    for size in range(1, len(leaves) + 1):
        root = log.root(size)
        assert root == _mth(leaves[:size])
        for index in range(size):
            proof = log.inclusion_proof(index, size)
            # sigstore's own checking, as verify_merkle_inclusion does it
            inner, border = _decomp_inclusion_proof(index, size)
            assert len(proof) == inner + border
            seed = _chain_inner(leaves[index], proof[:inner], index)
            assert _chain_border_right(seed, proof[inner:]) == root


def test_minted_proofs_have_inner_and_border_hashes(vsig: VirtualSigstore) -> None:
    proof = _entry(vsig.mint_provenance(FILENAME, SHA256, GITHUB))["inclusionProof"]
    inner, border = _decomp_inclusion_proof(int(proof["logIndex"]), int(proof["treeSize"]))
    assert inner > 0
    assert border > 0
    assert int(proof["treeSize"]) == int(proof["logIndex"]) + 1 + vsig.log_traffic


def test_minting_is_fast() -> None:
    vsig = VirtualSigstore()
    identities = [GitHubIdentity(f"octo-org/pkg{i}", ref=f"refs/tags/v{i}") for i in range(20)]
    count = 200
    started = time.perf_counter()
    for i in range(count):
        vsig.mint_provenance(f"pkg{i % 20}-{i}.0.tar.gz", SHA256, identities[i % 20])
    per_attestation = (time.perf_counter() - started) / count
    assert per_attestation < 0.005, f"{per_attestation * 1000:.2f} ms per attestation"


def _add(
    server: IndexServer,
    vsig: VirtualSigstore,
    project: str,
    filename: str,
    identity: SigningIdentity,
    defect: Defect | None = None,
) -> None:
    sha256 = hashlib.sha256(filename.encode()).hexdigest()
    provenance = vsig.mint_provenance(filename, sha256, identity, defect=defect)
    server.add_file(project, filename, sha256=sha256, provenance=provenance)


def test_minted_provenance_through_the_index_and_the_cli(
    index_server: IndexServer, tmp_path: Path
) -> None:
    vsig = VirtualSigstore(log_index_offset=LOG_OFFSET)
    trust_root = vsig.write_trusted_root(tmp_path / "trusted_root.json")
    good = GitHubIdentity(
        "octo-org/good-pkg", ref="refs/tags/v1.0.0", environment="pypi", commit="ab" * 20
    )
    _add(index_server, vsig, "good-pkg", "good_pkg-1.0.0.tar.gz", good)
    _add(index_server, vsig, "good-pkg", "good_pkg-1.0.0-py3-none-any.whl", good)
    gitlab = GitLabIdentity("octo-group/lab-pkg", ref="refs/tags/v2.0")
    _add(index_server, vsig, "lab-pkg", "lab_pkg-2.0.tar.gz", gitlab)
    bad = GitHubIdentity("octo-org/bad-pkg", ref="refs/tags/v0.1")
    _add(index_server, vsig, "bad-pkg", "bad_pkg-0.1.tar.gz", bad, Defect.BAD_SET)

    sbom = write_json(
        tmp_path / "in.cdx.json",
        cdx([pypi("good-pkg", "1.0.0"), pypi("lab-pkg", "2.0"), pypi("bad-pkg", "0.1")]),
    )
    out = tmp_path / "out.cdx.json"
    verdict_path = tmp_path / "verdict.json"
    code = run_cli(
        [
            "enrich",
            str(sbom),
            "-o",
            str(out),
            "--verdict",
            str(verdict_path),
            "--index-url",
            index_server.index_url,
            "--trust-root",
            str(trust_root),
        ]
    )

    components = by_name(json.loads(out.read_text()))
    verdict = json.loads(verdict_path.read_text())
    p = props(components["good-pkg"])
    assert p["bomguard:provenance:status"] == "verified", p
    assert p["bomguard:provenance:files:verified"] == "2"
    assert p["bomguard:provenance:publisher:kind"] == "GitHub"
    assert p["bomguard:provenance:publisher:repository"] == "octo-org/good-pkg"
    assert p["bomguard:provenance:publisher:workflow"] == "release.yml"
    assert p["bomguard:provenance:publisher:environment"] == "pypi"
    assert p["bomguard:provenance:publisher:ref"] == "refs/tags/v1.0.0"
    assert p["bomguard:provenance:publisher:commit"] == "ab" * 20
    assert p["bomguard:provenance:publisher:identity"] == good.build_config_uri
    assert int(p["bomguard:provenance:log:index"]) > LOG_OFFSET
    lab = props(components["lab-pkg"])
    assert lab["bomguard:provenance:status"] == "verified", lab
    assert lab["bomguard:provenance:publisher:workflow"] == ".gitlab-ci.yml"
    broken = props(components["bad-pkg"])
    assert broken["bomguard:provenance:status"] == "invalid"
    assert "SET: invalid inclusion promise" in broken["bomguard:provenance:reason"]
    # The default policy fails on invalid provenance, and only on it.
    assert code == 1
    assert verdict["counts"]["verified"] == 2
    assert {v["component"] for v in verdict["violations"]} == {"pkg:pypi/bad-pkg@0.1"}
