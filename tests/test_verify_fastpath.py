"""The verifier's fast path (``bomguard.verify.fast``) against sigstore, its reference.

A fast path that accepts one attestation sigstore rejects would be a forgery waiting to
happen; one that rejects is harmless (sigstore then decides, with its own words). So for
every real fixture, every minted case and every tampering of a few attestations, the
fast path's decision on each log entry is held to that of sigstore-python's own
``Verifier.verify_dsse`` on the bundle pypi-attestations builds (what bomguard verified
with before the fast path): whenever the fast path accepts, sigstore accepts the same
payload from the same certificate. And the common case must really take the fast path,
or none of this would test anything.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from helpers import cdx, enrich_cli, props, pypi, write_json
from indexserver import IndexServer, make_provenance, read_publishers
from virtual_sigstore import (
    CA_NOT_AFTER,
    Curve,
    Defect,
    GitHubIdentity,
    GitLabIdentity,
    GoogleIdentity,
    VirtualSigstore,
    _dsse_body,
)

from bomguard.models import DigestSource, Status
from bomguard.verify import ProvenanceVerifier
from bomguard.verify.trust import TrustRoot, load_trust_root

DATA = Path(__file__).parent / "data" / "provenance"
PUBLISHERS = read_publishers(DATA.parent)

ACME = GitHubIdentity(repository="acme/widget", ref="refs/tags/v1.0", trigger="release")
OTHER = GitHubIdentity(repository="acme/other", ref="refs/tags/v2.0", trigger="push")
LAB = GitLabIdentity(repository="group/widget", ref="refs/tags/v1.0")
LATE = GitHubIdentity(repository="acme/late", ref="refs/tags/v9.9", trigger="release")
GOOGLE = GoogleIdentity(email="builder@project.iam.gserviceaccount.com")


class Judge:
    """One production-like ``ProvenanceVerifier`` (whose fast path keeps its caches across
    every case it is shown, as in a run) and sigstore's plain ``Verifier`` on the same root."""

    def __init__(self, root: TrustRoot) -> None:
        from sigstore.verify import Verifier

        self.verifier = ProvenanceVerifier(root)
        assert self.verifier.fast_path is not None
        self.fast = self.verifier.fast_path
        self.reference = Verifier(trusted_root=root.load())
        self.root = root
        self.missed: list[object] = []
        """Entries sigstore accepted and the fast path left to it (their kindVersion)."""

    def decide(self, attestation: object, publisher: object = None) -> list[bool] | None:
        """Per log entry: did the fast path accept? Fails the test if it accepted anything
        sigstore does not. ``None`` if the attestation is not even well-formed (no path
        verifies it)."""
        from pydantic import ValidationError
        from pypi_attestations import Attestation
        from sigstore.verify.policy import UnsafeNoOp

        from bomguard.verify.verifier import _publisher_adapter, one_entry_bundle

        try:
            model = Attestation.model_validate(attestation)
            policy: Any = (
                _publisher_adapter().validate_python(publisher)._as_policy()
                if publisher is not None
                else UnsafeNoOp()
            )
        except ValidationError:
            return None
        assert isinstance(attestation, dict)
        entries = attestation["verification_material"]["transparency_entries"]
        accepted = []
        for entry in entries:
            got = self.fast.verify_dsse(
                model.verification_material.certificate,
                model.envelope.statement,
                model.envelope.signature,
                entry,
                policy,
            )
            try:
                bundle = one_entry_bundle(model, entry)
                payload_type, payload = self.reference.verify_dsse(bundle, policy)
                expected = (
                    payload_type,
                    payload,
                    bundle.signing_certificate.public_bytes(Encoding.DER),
                )
            except Exception:
                expected = None
            if got is not None:
                assert expected is not None, "the fast path accepted what sigstore rejects"
                assert (got[0], got[1], got[2].public_bytes(Encoding.DER)) == expected
            if got is None and expected is not None:
                self.missed.append(entry.get("kindVersion") if isinstance(entry, dict) else None)
            accepted.append(got is not None)
        return accepted

    def same_verdict(self, provenance: bytes, filename: str, sha256: str) -> Status:
        """The whole file's verdict (status, reason, results, identity) is the same with the
        fast path as through sigstore alone."""
        with_fast = self.verifier.verify(provenance, filename, sha256, DigestSource.INDEX)
        sigstore_only = ProvenanceVerifier(self.root)
        sigstore_only.fast_path = None
        assert sigstore_only.verify(provenance, filename, sha256, DigestSource.INDEX) == with_fast
        return with_fast[0]


@pytest.fixture(scope="module")
def vsig(tmp_path_factory: pytest.TempPathFactory) -> tuple[VirtualSigstore, TrustRoot]:
    sig = VirtualSigstore(seed=740)
    path = sig.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")
    return sig, load_trust_root(str(path))


@pytest.fixture(scope="module")
def minted(vsig: tuple[VirtualSigstore, TrustRoot]) -> Judge:
    return Judge(vsig[1])


@pytest.fixture(scope="module")
def production() -> Judge:
    return Judge(load_trust_root("embedded"))


@pytest.fixture(scope="module")
def staging() -> Judge:
    return Judge(load_trust_root("embedded", staging=True))


def _sha(filename: str) -> str:
    return hashlib.sha256(f"{filename} contents".encode()).hexdigest()


def _real_attestations() -> Iterator[tuple[str, dict[str, Any], Any]]:
    """Every attestation of every real fixture, with its Trusted Publisher if known."""
    for path in sorted(DATA.rglob("*")):
        if not path.is_file() or path.parent.name == "dists" or path.suffix == ".tsv":
            continue
        name = str(path.relative_to(DATA))
        doc = json.loads(path.read_text())
        if "attestation_bundles" in doc:
            for bundle in doc["attestation_bundles"]:
                for attestation in bundle.get("attestations", []):
                    yield name, attestation, bundle.get("publisher")
        else:
            yield name, doc, PUBLISHERS.get(name)


def _policy_or_none(publisher: Any) -> Any:
    kinds = {"GitHub", "GitLab", "Google", "CircleCI"}
    return publisher if isinstance(publisher, dict) and publisher.get("kind") in kinds else None


# -- real attestations -----------------------------------------------------------------


def test_every_real_attestation_gets_sigstores_decision(production: Judge, staging: Judge) -> None:
    fast_accepted = 0
    for judge in (production, staging):
        judge.missed.clear()
    for _name, attestation, publisher in _real_attestations():
        for judge in (production, staging):
            known = _policy_or_none(publisher)
            for policy in (None, known) if known else (None,):
                fast_accepted += sum(judge.decide(attestation, policy) or [])
    # Every real attestation sigstore accepts takes the fast path (sigstore accepts
    # none of the Rekor v2 one: its signed timestamp has no place in the attestation).
    assert fast_accepted >= 2 * 13
    assert production.missed == staging.missed == []


def test_real_files_get_the_same_verdict_and_take_the_fast_path(production: Judge) -> None:
    before = production.fast.successes
    verified = 0
    for name, attestation, publisher in _real_attestations():
        if name.startswith(("staging/", "nonstandard/")) or publisher is None:
            continue
        dist = name.split(".provenance")[0].split(".publish")[0].split(".slsa")[0]
        dist = dist.removesuffix(".attestation")
        sha = hashlib.sha256((DATA / "dists" / dist).read_bytes()).hexdigest()
        status = production.same_verdict(make_provenance([attestation], publisher), dist, sha)
        verified += status is Status.VERIFIED
    assert verified >= 12
    assert production.fast.successes - before == verified


# -- minted cases ----------------------------------------------------------------------


def _relog(
    sig: VirtualSigstore,
    attestation: dict[str, Any],
    *,
    body: bytes | None = None,
    integrated_time: int | None = None,
) -> dict[str, Any]:
    """The attestation with a new entry, soundly logged and signed by the test Rekor (so
    only what was changed can make it fail)."""
    out = copy.deepcopy(attestation)
    entry = out["verification_material"]["transparency_entries"][0]
    if body is None:
        body = base64.b64decode(entry["canonicalizedBody"])
    when = int(entry["integratedTime"]) if integrated_time is None else integrated_time
    out["verification_material"]["transparency_entries"] = [sig._log_entry(body, when, None)]
    return out


def _body_variants(attestation: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """Log-entry bodies a log could have signed that differ from the usual one."""
    entry = attestation["verification_material"]["transparency_entries"][0]
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    spec = body["spec"]
    statement = base64.b64decode(attestation["envelope"]["statement"])
    signature = attestation["envelope"]["signature"]
    verifier = spec["signatures"][0]["verifier"]
    yield "usual", _dsse_body(b"{}", statement, signature, verifier)

    def dump(doc: Any) -> bytes:
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()

    variants: dict[str, Any] = {
        "extra spec field": {**body, "spec": {**spec, "extra": 1}},
        "extra top field": {**body, "extra": 1},
        "two signatures": {**body, "spec": {**spec, "signatures": spec["signatures"] * 2}},
        "no signatures": {**body, "spec": {**spec, "signatures": []}},
        "upper-case payload hash": {
            **body,
            "spec": {
                **spec,
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": spec["payloadHash"]["value"].upper(),
                },
            },
        },
        "sha512 envelope hash": {
            **body,
            "spec": {**spec, "envelopeHash": {"algorithm": "sha512", "value": "00"}},
        },
        "no envelope hash": {
            **body,
            "spec": {k: v for k, v in spec.items() if k != "envelopeHash"},
        },
        "api version 0.0.2": {**body, "apiVersion": "0.0.2"},
        "kind hashedrekord": {**body, "kind": "hashedrekord"},
        "proposed content": {
            **body,
            "spec": {**spec, "proposedContent": {"envelope": "{}", "verifiers": [verifier]}},
        },
        "verifier of another certificate": {
            **body,
            "spec": {
                **spec,
                "signatures": [
                    {"signature": signature, "verifier": base64.b64encode(b"x").decode()}
                ],
            },
        },
    }
    for name, doc in variants.items():
        yield name, dump(doc)
    usual = dump(body).decode()
    yield "duplicate key", usual.replace('{"apiVersion"', '{"kind":"dsse","apiVersion"', 1).encode()
    yield "spaced", json.dumps(body, sort_keys=True).encode()
    # JSON escapes: the same body to either reader, or (a lone surrogate) one that only
    # Python's json reads; the fast path reads neither.
    yield "escaped kind", usual.replace('"kind":"dsse"', '"kind":"\\u0064sse"', 1).encode()
    yield "escaped key", usual.replace('"apiVersion"', '"\\u0061piVersion"', 1).encode()
    envelope_hash = spec["envelopeHash"]["value"]
    yield "lone surrogate", usual.replace(envelope_hash, "\\ud800", 1).encode()
    yield "upper-case envelope hash", usual.replace(envelope_hash, envelope_hash.upper()).encode()
    yield "utf-16", usual.encode("utf-16")
    yield "byte-order mark", b"\xef\xbb\xbf" + usual.encode()


def test_minted_cases_get_sigstores_decision(
    vsig: tuple[VirtualSigstore, TrustRoot], minted: Judge
) -> None:
    sig, _ = vsig
    fast_valid = 0
    valid = 0
    # Sound attestations of every publisher kind and both leaf curves: the fast path.
    for identity in (ACME, OTHER, LAB, GOOGLE):
        for curve in (Curve.P256, Curve.P384):
            for n in range(3):  # one certificate, three attestations (as a release)
                filename = f"widget-1.{n}.tar.gz"
                attestation = sig.mint_attestation(filename, _sha(filename), identity, curve=curve)
                assert minted.decide(attestation, identity.publisher()) == [True]
                assert minted.decide(attestation, identity.other_publisher()) == [False]
                valid += 1
                fast_valid += 1
    # Every defect the test Sigstore can mint: never accepted by the fast path, except the
    # subject defects, which are not the signature's business (the verifier checks them).
    for defect in Defect:
        for identity in (ACME, LAB):
            filename = "widget-2.0.tar.gz"
            attestation = sig.mint_attestation(filename, _sha(filename), identity, defect=defect)
            decided = minted.decide(attestation, identity.publisher())
            if defect in (
                Defect.WRONG_SUBJECT_NAME,
                Defect.WRONG_SUBJECT_DIGEST,
                Defect.WRONG_PUBLISHER,
            ):
                assert decided == [True]
            else:
                assert decided == [False], defect
    # Entry bodies a log could have signed: only the usual one takes the fast path.
    base = sig.mint_attestation("widget-3.0.tar.gz", _sha("widget-3.0.tar.gz"), ACME)
    for name, body in _body_variants(base):
        decided = minted.decide(_relog(sig, base, body=body), ACME.publisher())
        # (Only the JSON spacing may differ: it is the same body to sigstore's reader.)
        assert decided == [name in ("usual", "spaced")], name
    # One certificate, logged at every edge of its validity (soundly signed entries): the
    # certificate's checks are remembered, but never beyond the time they hold for.
    signed_at = int(base["verification_material"]["transparency_entries"][0]["integratedTime"])
    leaf = sig.leaf(ACME, at=signed_at)
    for when in (
        leaf.not_before - 1,
        leaf.not_before,
        leaf.not_before + 1,
        leaf.not_after - 1,
        leaf.not_after,
        leaf.not_after + 1,
        leaf.not_after + 86400 * 3650,
        0,
    ):
        decided = minted.decide(_relog(sig, base, integrated_time=when), ACME.publisher())
        assert decided is not None
        if leaf.not_before < when < leaf.not_after:
            assert decided == [True], when
        if not leaf.not_before <= when <= leaf.not_after:
            assert decided == [False], when
    # A certificate whose CA expires while it is still valid: its checks, remembered from
    # an entry logged before, do not carry over to one logged after the CA's end.
    ca_end = int(CA_NOT_AFTER.timestamp())
    late = sig.mint_attestation(
        "widget-4.0.tar.gz", _sha("widget-4.0.tar.gz"), LATE, signed_at=ca_end - 200
    )
    assert minted.decide(late, LATE.publisher()) == [True]
    late_leaf = sig.leaf(LATE, at=ca_end - 200)
    at_edge = _relog(sig, late, integrated_time=late_leaf.not_before)
    assert minted.decide(at_edge, LATE.publisher()) == [True]
    assert minted.decide(_relog(sig, late, integrated_time=ca_end + 100), LATE.publisher()) == [
        False
    ]
    # An inclusion proof for another tree (the entry alone), beside the real checkpoint:
    # the proof holds and the checkpoint is the log's, but they are not about one tree.
    alone = copy.deepcopy(base)
    proof = alone["verification_material"]["transparency_entries"][0]["inclusionProof"]
    body = base64.b64decode(
        alone["verification_material"]["transparency_entries"][0]["canonicalizedBody"]
    )
    proof.update(
        logIndex="0",
        treeSize="1",
        hashes=[],
        rootHash=base64.b64encode(hashlib.sha256(b"\0" + body).digest()).decode(),
    )
    assert minted.decide(alone, ACME.publisher()) == [False]
    # Two log entries, each judged on its own; other entry forms go to sigstore.
    two = copy.deepcopy(base)
    entries = two["verification_material"]["transparency_entries"]
    entries.append(_relog(sig, base)["verification_material"]["transparency_entries"][0])
    assert minted.decide(two, ACME.publisher()) == [True, True]
    rekor2 = copy.deepcopy(base)
    entry = rekor2["verification_material"]["transparency_entries"][0]
    entry["kindVersion"] = {"kind": "hashedrekord", "version": "0.0.2"}
    entry.pop("inclusionPromise")
    assert minted.decide(rekor2, ACME.publisher()) == [False]
    for kind, version in (("hashedrekord", "0.0.1"), ("intoto", "0.0.2"), ("dsse", "0.0.2")):
        other = copy.deepcopy(base)
        other["verification_material"]["transparency_entries"][0]["kindVersion"] = {
            "kind": kind,
            "version": version,
        }
        assert minted.decide(other, ACME.publisher()) == [False]
    assert valid == fast_valid


def test_minted_files_get_the_same_verdict(
    vsig: tuple[VirtualSigstore, TrustRoot], minted: Judge
) -> None:
    sig, _ = vsig
    before = (minted.fast.successes, minted.fast.declined)
    statuses = []
    for defect in (None, *Defect):
        filename = "gadget-1.0-py3-none-any.whl"
        provenance = sig.mint_provenance(
            filename,
            _sha(filename),
            ACME,
            defect=defect,
            predicate_types=(
                "https://docs.pypi.org/attestations/publish/v1",
                "https://slsa.dev/provenance/v1",
            ),
        )
        statuses.append(minted.same_verdict(provenance, filename, _sha(filename)))
    assert statuses[0] is Status.VERIFIED
    assert all(s is Status.INVALID for s in statuses[1:])
    # The sound file and the two whose flaw is the subject took the fast path;
    # every other one was declined by it and decided (and worded) by sigstore.
    successes, declined = minted.fast.successes - before[0], minted.fast.declined - before[1]
    assert successes == 2 * 3
    assert declined == 2 * (len(Defect) - 2)


# -- tampering sweep -------------------------------------------------------------------


def _is_b64(value: str) -> bytes | None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if raw and base64.b64encode(raw).decode() == value else None


def _string_variants(value: str) -> Iterator[Any]:
    yield value + "A"
    yield value[:-1]
    yield ""
    yield None
    yield 7
    if value.isdigit():
        n = int(value)
        yield from (str(n + 1), str(max(n - 1, 0) if n else 1), "0" + value, "+" + value)
        yield from (f" {value}", n, str(2**64), "-1")
    raw = _is_b64(value)
    if raw is not None:
        for at in {0, len(raw) // 2, len(raw) - 1}:
            flipped = bytearray(raw)
            flipped[at] ^= 0x01
            yield base64.b64encode(bytes(flipped)).decode()
        yield base64.urlsafe_b64encode(raw).decode()
        yield value[:4] + "\n" + value[4:]
        yield value.rstrip("=")
    else:
        middle = len(value) // 2
        if value:
            yield value[:middle] + chr(ord(value[middle]) ^ 1) + value[middle + 1 :]


def _mutations(node: Any) -> Iterator[tuple[str, Any]]:
    """``(where, mutated copy)`` for every leaf and every object of ``node``: changed,
    removed, duplicated or extended; base64 JSON (the entry body, the statement) is
    opened and mutated inside too."""
    if isinstance(node, dict):
        for key, value in node.items():
            for where, mutated in _mutations(value):
                yield f"{key}/{where}", {**node, key: mutated}
            yield f"-{key}", {k: v for k, v in node.items() if k != key}
            if isinstance(value, str) and (raw := _is_b64(value)) is not None and raw[:1] == b"{":
                inner = json.loads(raw)
                for where, mutated in _mutations(inner):
                    text = json.dumps(mutated, separators=(",", ":"), sort_keys=True)
                    yield (
                        f"{key}:json/{where}",
                        {**node, key: base64.b64encode(text.encode()).decode()},
                    )
        yield "+extra", {**node, "extra": "x"}
        yield "+snake", {**node, "log_index": "1"}
    elif isinstance(node, list):
        for i, value in enumerate(node):
            for where, mutated in _mutations(value):
                yield f"{i}/{where}", [*node[:i], mutated, *node[i + 1 :]]
        if node:
            yield "+dup", [*node, node[-1]]
            yield "-last", node[:-1]
            yield "reversed", node[::-1]
    elif isinstance(node, str):
        for variant in _string_variants(node):
            if variant != node:
                yield "~", variant
        if "\n" in node:  # the checkpoint note
            yield "~line", node.replace("\n", "\n\n", 1)
            yield "~sig", node.replace("\u2014 ", "\u2014 x", 1)
    elif isinstance(node, int) and not isinstance(node, bool):
        yield "~", node + 1
        yield "~", str(node)


def _sweep(judge: Judge, attestation: dict[str, Any], publisher: Any) -> int:
    assert judge.decide(attestation, publisher) == [True], "the untouched one takes the fast path"
    tried = 0
    for _where, mutated in _mutations(attestation):
        # decide() fails the test if the fast path accepts what sigstore rejects.
        judge.decide(mutated, publisher)
        tried += 1
    # What the fast path remembered from all that does not change its decision.
    assert judge.decide(attestation, publisher) == [True]
    return tried


def test_tampering_with_a_minted_attestation(
    vsig: tuple[VirtualSigstore, TrustRoot], minted: Judge
) -> None:
    sig, _ = vsig
    filename = "sweep-1.0.tar.gz"
    attestation = sig.mint_attestation(filename, _sha(filename), ACME)
    assert _sweep(minted, attestation, ACME.publisher()) > 300


@pytest.mark.parametrize(
    "fixture",
    [
        "pypi_attestations-0.0.19.tar.gz.publish.attestation",
        "gitlab_oidc_project-0.0.3.tar.gz.publish.attestation",
    ],
)
def test_tampering_with_a_real_attestation(production: Judge, fixture: str) -> None:
    attestation = json.loads((DATA / fixture).read_text())
    assert _sweep(production, attestation, PUBLISHERS[fixture]) > 300


# -- the test can fail -----------------------------------------------------------------


def test_a_fast_path_that_skipped_a_check_would_be_caught(
    vsig: tuple[VirtualSigstore, TrustRoot], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fast path without the inclusion-promise check accepts a promise signed by a key
    # not the log's; the judge refuses it, so the tests above would fail on such a bug.
    from bomguard.verify import fast

    sig, root = vsig
    monkeypatch.setattr(fast._LogEntry, "_verify_set", lambda self, keyring: None)
    judge = Judge(root)
    filename = "widget-9.0.tar.gz"
    forged = sig.mint_attestation(filename, _sha(filename), ACME, defect=Defect.BAD_SET)
    with pytest.raises(AssertionError, match="accepted what sigstore rejects"):
        judge.decide(forged, ACME.publisher())


# -- attacks on the fast path --------------------------------------------------------


def _lone_surrogate_body(attestation: dict[str, Any]) -> bytes:
    """The attestation's entry body with its envelope hash spelled ``"\\ud800"``: Python's
    JSON reader takes the lone surrogate escape, pydantic's (sigstore's) refuses it."""
    entry = attestation["verification_material"]["transparency_entries"][0]
    text = base64.b64decode(entry["canonicalizedBody"]).decode()
    value = json.loads(text)["spec"]["envelopeHash"]["value"]
    assert value in text
    return text.replace(value, "\\ud800", 1).encode()


def test_an_entry_body_only_pythons_json_reader_reads_is_left_to_sigstore(
    vsig: tuple[VirtualSigstore, TrustRoot], minted: Judge
) -> None:
    # A log entry whose body sigstore cannot read (invalid DSSE log entry) but that
    # json.loads reads as the expected body: the fast path must not accept it.
    sig, _ = vsig
    filename = "surrogate-1.0.tar.gz"
    base = sig.mint_attestation(filename, _sha(filename), ACME)
    forged = _relog(sig, base, body=_lone_surrogate_body(base))
    assert minted.decide(forged, ACME.publisher()) == [False]
    # The file's verdict: invalid, in sigstore's words, with or without the fast path.
    provenance = make_provenance([forged], ACME.publisher())
    assert minted.same_verdict(provenance, filename, _sha(filename)) is Status.INVALID


def _enrich_one(
    server: IndexServer, root: TrustRoot, tmp_path: Path, name: str, version: str
) -> tuple[int, dict[str, str]]:
    """``bomguard enrich`` on an SBOM of one PyPI component: exit code and its properties."""
    sbom = write_json(tmp_path / f"{name}-{version}.cdx.json", cdx([pypi(name, version)]))
    out = tmp_path / f"{name}-{version}.out.json"
    code = enrich_cli(sbom, out, server.index_url, "--no-cache", trust_root=root.source)
    return code, props(json.loads(out.read_text())["components"][0])


def test_an_entry_body_only_pythons_json_reader_reads_is_invalid_through_the_cli(
    vsig: tuple[VirtualSigstore, TrustRoot], index_server: IndexServer, tmp_path: Path
) -> None:
    sig, root = vsig
    filename = "surrogate-2.0.tar.gz"
    base = sig.mint_attestation(filename, _sha(filename), ACME)
    forged = _relog(sig, base, body=_lone_surrogate_body(base))
    provenance = make_provenance([forged], ACME.publisher())
    index_server.add_file("surrogate", filename, sha256=_sha(filename), provenance=provenance)
    code, p = _enrich_one(index_server, root, tmp_path, "surrogate", "2.0")
    assert p["bomguard:provenance:status"] == "invalid", p
    assert "invalid DSSE log entry" in p["bomguard:provenance:reason"]
    assert code == 1
