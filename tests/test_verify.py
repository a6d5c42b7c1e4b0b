"""Verification of real attestations, and every tampering of them, through the product's path."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
from pathlib import Path

import pytest
from indexserver import read_publishers

from bomguard.errors import InputError
from bomguard.models import DigestSource, Status
from bomguard.verify import ProvenanceVerifier, load_trust_root

DATA = Path(__file__).parent / "data" / "provenance"
PUBLISHERS = read_publishers(DATA.parent)


def _manifest() -> list[dict[str, str]]:
    with (DATA / "MANIFEST.tsv").open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _sha(dist: str) -> str:
    return hashlib.sha256((DATA / "dists" / dist).read_bytes()).hexdigest()


def _wrap(attestations: list[dict], publisher: dict) -> bytes:
    bundle = {"publisher": publisher, "attestations": attestations}
    return json.dumps({"version": 1, "attestation_bundles": [bundle]}).encode()


def _provenance(fixture: str) -> bytes:
    raw = (DATA / fixture).read_bytes()
    if fixture.endswith(".provenance"):
        return raw
    return _wrap([json.loads(raw)], PUBLISHERS[fixture])


@pytest.fixture(scope="module")
def production() -> ProvenanceVerifier:
    return ProvenanceVerifier(load_trust_root("embedded"))


@pytest.fixture(scope="module")
def staging() -> ProvenanceVerifier:
    return ProvenanceVerifier(load_trust_root("embedded", staging=True))


TRUSTED_PUBLISHER_FIXTURES = [
    row
    for row in _manifest()
    if row["trust_root"] == "production"
    and row["dist_in_dists"] == "yes"
    and (row["file"].endswith(".provenance") or row["file"] in PUBLISHERS)
]


@pytest.mark.parametrize("row", TRUSTED_PUBLISHER_FIXTURES, ids=lambda r: r["file"])
def test_every_real_fixture_verifies_with_its_manifest_identity(production, row):
    status, reason, results, identity = production.verify(
        _provenance(row["file"]),
        row["dist_filename"],
        _sha(row["dist_filename"]),
        DigestSource.INDEX,
    )
    assert status is Status.VERIFIED, reason
    assert identity is not None
    assert row["signer_identity"] in (identity.san, identity.build_signer_uri)
    assert all(r.status is Status.VERIFIED for r in results)
    assert identity.log_index is not None and identity.integrated_time is not None
    if row["publisher_kind"]:
        assert identity.kind == row["publisher_kind"]


def test_both_predicate_types_are_understood(production):
    dist = "pypi_attestations-0.0.19.tar.gz"
    publisher = PUBLISHERS["pypi_attestations-0.0.16.tar.gz.attestation"]
    both = [
        json.loads((DATA / f"{dist}.publish.attestation").read_text()),
        json.loads((DATA / f"{dist}.slsa.attestation").read_text()),
    ]
    status, reason, results, _ = production.verify(
        _wrap(both, publisher), dist, _sha(dist), DigestSource.INDEX
    )
    assert status is Status.VERIFIED, reason
    assert [r.predicate_type for r in results] == [
        "https://docs.pypi.org/attestations/publish/v1",
        "https://slsa.dev/provenance/v1",
    ]


def test_one_bad_attestation_among_good_ones_makes_the_file_invalid(production):
    dist = "pypi_attestations-0.0.19.tar.gz"
    publisher = PUBLISHERS["pypi_attestations-0.0.16.tar.gz.attestation"]
    good = json.loads((DATA / f"{dist}.publish.attestation").read_text())
    other = json.loads((DATA / "pypi_attestations-0.0.16.tar.gz.attestation").read_text())
    status, reason, results, _ = production.verify(
        _wrap([good, other], publisher), dist, _sha(dist), DigestSource.INDEX
    )
    assert status is Status.INVALID
    assert [r.status for r in results] == [Status.VERIFIED, Status.INVALID]
    assert "attestations[1]" in reason and "subject" in reason


def _tamper(fixture: str, mutate) -> bytes:
    doc = json.loads(_provenance(fixture))
    mutate(doc["attestation_bundles"][0]["attestations"][0], doc)
    return json.dumps(doc).encode()


def _flip_b64(value: str, index: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[index % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _swap_certificate(att, _doc):
    other = json.loads((DATA / "pypi_attestations-0.0.16.tar.gz.attestation").read_text())
    att["verification_material"]["certificate"] = other["verification_material"]["certificate"]


def _edit_statement(att, _doc):
    statement = json.loads(base64.b64decode(att["envelope"]["statement"]))
    statement["predicate"] = {"tampered": True}
    att["envelope"]["statement"] = base64.b64encode(json.dumps(statement).encode()).decode()


def _edit_log_index(att, _doc):
    entry = att["verification_material"]["transparency_entries"][0]
    entry["logIndex"] = str(int(entry["logIndex"]) + 1)


def _edit_log_body(att, _doc):
    entry = att["verification_material"]["transparency_entries"][0]
    entry["canonicalizedBody"] = _flip_b64(entry["canonicalizedBody"], 40)


def _edit_inclusion_proof(att, _doc):
    proof = att["verification_material"]["transparency_entries"][0]["inclusionProof"]
    proof["hashes"][0] = _flip_b64(proof["hashes"][0], 3)


TAMPERINGS = {
    "signature byte": (
        lambda a, d: a["envelope"].update(signature=_flip_b64(a["envelope"]["signature"], 7)),
        "signature",
    ),
    "statement": (_edit_statement, "verification failed"),
    "certificate swap": (_swap_certificate, "verification failed"),
    "log entry index": (_edit_log_index, "verification failed"),
    "log entry body": (_edit_log_body, "verification failed"),
    "inclusion proof": (_edit_inclusion_proof, "verification failed"),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_every_tampering_is_invalid_with_a_reason(production, name):
    mutate, fragment = TAMPERINGS[name]
    dist = "sigstore-3.6.1.tar.gz"
    status, reason, _, identity = production.verify(
        _tamper(f"{dist}.provenance", mutate), dist, _sha(dist), DigestSource.INDEX
    )
    assert status is Status.INVALID
    assert fragment in reason.lower() or fragment in reason
    assert identity is None


def test_subject_name_and_digest_must_match_the_file(production):
    dist = "sigstore-3.6.1.tar.gz"
    raw = _provenance(f"{dist}.provenance")
    status, reason, _, _ = production.verify(
        raw, "sigstore-3.6.0.tar.gz", _sha(dist), DigestSource.INDEX
    )
    assert status is Status.INVALID and "subject name" in reason
    status, reason, _, _ = production.verify(raw, dist, "ab" * 32, DigestSource.INDEX)
    assert status is Status.INVALID and "sha256" in reason
    status, reason, _, _ = production.verify(raw, dist, None, None)
    assert status is Status.UNKNOWN and "sha256" in reason


def test_publisher_that_does_not_match_the_certificate_is_invalid(production):
    dist = "sigstore-3.6.1.tar.gz"
    for publisher in (
        {"kind": "GitHub", "repository": "sigstore/sigstore-python", "workflow": "other.yml"},
        {"kind": "GitHub", "repository": "attacker/sigstore-python", "workflow": "release.yml"},
        {
            "kind": "GitLab",
            "repository": "sigstore/sigstore-python",
            "workflow_filepath": "release.yml",
        },
        {"kind": "Google", "email": "someone@example.iam.gserviceaccount.com"},
    ):
        doc = json.loads(_provenance(f"{dist}.provenance"))
        doc["attestation_bundles"][0]["publisher"] = publisher
        status, reason, _, _ = production.verify(
            json.dumps(doc).encode(), dist, _sha(dist), DigestSource.INDEX
        )
        assert status is Status.INVALID, publisher
        assert "verification failed" in reason


def test_malformed_provenance_is_invalid_never_a_crash(production):
    dist = "sigstore-3.6.1.tar.gz"
    for raw, fragment in (
        (b"not json", "not JSON"),
        (b"[]", "version 1"),
        (b'{"version": 1, "attestation_bundles": []}', "no attestation bundles"),
        (
            _wrap([{"version": 1}], {"kind": "GitHub", "repository": "a/b", "workflow": "c"}),
            "malformed",
        ),
        (_wrap([], {"kind": "GitHub", "repository": "a/b", "workflow": "c"}), "no attestations"),
        (_wrap([{}], {"kind": "GitHub"}), "publisher is malformed"),
    ):
        status, reason, _, _ = production.verify(raw, dist, _sha(dist), DigestSource.INDEX)
        assert status is Status.INVALID, raw
        assert fragment in reason


def test_unsupported_only_after_every_check_that_can_be_made(production, staging):
    # Red Hat's Pulp index serves attestations in a shape that is not Sigstore's, under
    # a publisher kind bomguard does not know: nothing about it can be checked, so it is
    # invalid (an unknown kind must not shield whatever comes with it).
    amqp = (
        DATA / "nonstandard" / "redhat-trusted-libraries_amqp-5.3.1-0-py3-none-any.whl.provenance"
    )
    sha = "034b93b6620dd4db0899c5299ed8fb11b60d2cd6fbfb3d271bedbf9f62dc2a9d"
    status, reason, _, _ = production.verify(
        amqp.read_bytes(), "amqp-5.3.1-0-py3-none-any.whl", sha, DigestSource.INDEX
    )
    assert status is Status.INVALID and "malformed" in reason
    # A real Rekor v2 entry: its timestamps do not travel in a PEP 740 attestation, so the
    # log cannot be checked. Under the staging root (whose CA issued the certificate) the
    # chain, signature and subject check out: unsupported. Under production's the chain
    # does not: invalid.
    dist = "pypi_attestations-0.0.19.tar.gz"
    rekor2 = json.loads(
        (DATA / "staging" / f"{dist}.publish.attestation.with_rekor2_timestamp").read_text()
    )
    publisher = PUBLISHERS["pypi_attestations-0.0.16.tar.gz.attestation"]
    status, reason, _, _ = staging.verify(
        _wrap([rekor2], publisher), dist, _sha(dist), DigestSource.INDEX
    )
    assert status is Status.UNSUPPORTED
    assert "dsse/0.0.2" in reason
    status, reason, _, _ = production.verify(
        _wrap([rekor2], publisher), dist, _sha(dist), DigestSource.INDEX
    )
    assert status is Status.INVALID
    assert "does not chain" in reason


def test_staging_attestation_verifies_only_under_the_staging_root(production, staging):
    fixture = "staging/rfc8785-0.1.2-py3-none-any.whl.publish.attestation"
    dist = "rfc8785-0.1.2-py3-none-any.whl"
    # An e-mail identity has no Trusted Publisher; check the chain with a publisher it fails.
    raw = _wrap(
        [json.loads((DATA / fixture).read_text())],
        {"kind": "Google", "email": "william@yossarian.net"},
    )
    status, reason, _, _ = production.verify(raw, dist, _sha(dist), DigestSource.INDEX)
    assert status is Status.INVALID
    status, reason, _, _ = staging.verify(raw, dist, _sha(dist), DigestSource.INDEX)
    # Under the staging root the chain verifies; the issuer is not Google's, so the
    # Trusted Publisher check (not the chain) is what fails.
    assert status is Status.INVALID
    assert "issuer" in reason.lower() or "identity" in reason.lower() or "san" in reason.lower()


def test_planted_sigstore_cache_changes_nothing(tmp_path, monkeypatch, production):
    # A stale or planted sigstore-python TUF cache (here: the staging root where the
    # production one should be) must not change what --trust-root embedded verifies.
    home = Path.home()
    for base in (
        home / ".cache" / "sigstore-python" / "tuf",
        home / ".local" / "share" / "sigstore-python" / "tuf",
    ):
        folder = base / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
        folder.mkdir(parents=True)
        staging_root = load_trust_root("embedded", staging=True).raw
        (folder / "trusted_root.json").write_bytes(staging_root)
        (folder / "root.json").write_text("{}")
    planted = ProvenanceVerifier(load_trust_root("embedded"))
    dist = "sigstore-3.6.1.tar.gz"
    raw = _provenance(f"{dist}.provenance")
    assert planted.verify(raw, dist, _sha(dist), DigestSource.INDEX)[0] is Status.VERIFIED
    assert planted.trust_root.sha256 == production.trust_root.sha256


def test_trust_root_file_and_its_errors(tmp_path):
    good = tmp_path / "trusted_root.json"
    good.write_bytes(load_trust_root("embedded").raw)
    root = load_trust_root(str(good))
    assert root.source == str(good) and root.sha256 == load_trust_root("embedded").sha256
    bad = tmp_path / "bad.json"
    bad.write_text('{"mediaType": "nope"}')
    with pytest.raises(InputError, match=r"bad\.json"):
        load_trust_root(str(bad))
    with pytest.raises(InputError, match=r"missing\.json"):
        load_trust_root(str(tmp_path / "missing.json"))


def test_a_failed_tuf_refresh_names_the_underlying_cause(monkeypatch):
    """TUF wraps a DNS failure in an exception with no message of its own: the error
    carries the cause, not 'SlowRetrievalError: '."""
    import socket

    from bomguard.errors import OperationalError

    def no_dns(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setenv("BOMGUARD_TUF_URL", "http://tuf.example.invalid")
    with pytest.raises(OperationalError) as info:
        load_trust_root("tuf")
    message = info.value.message
    assert "Name or service not known" in message, message
    assert not message.rstrip().endswith(":"), message


def test_describe_walks_the_cause_chain():
    from bomguard.errors import describe

    class Wrapper(Exception):
        pass

    try:
        try:
            raise OSError("[Errno -2] Name or service not known")
        except OSError as inner:
            raise Wrapper() from inner
    except Wrapper as err:
        assert describe(err) == "Wrapper: OSError: [Errno -2] Name or service not known"
    assert describe(ValueError("plain")) == "ValueError: plain"
    assert describe(ValueError()) == "ValueError"
