"""Verifying many files: the process pool agrees with in-process, and results are cached."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from indexserver import default_fixtures, read_publishers
from storerows import Rows

from bomguard.models import DigestSource, Status
from bomguard.verify import load_trust_root
from bomguard.verify.batch import POOL_THRESHOLD, VerifyJob, verify_batch

DATA = Path(__file__).parent / "data"


def _real_jobs() -> list[VerifyJob]:
    publishers = read_publishers(DATA)
    jobs = []
    for dist, fixture in default_fixtures(DATA).items():
        raw = (DATA / "provenance" / fixture).read_bytes()
        if not fixture.endswith(".provenance"):
            raw = json.dumps(
                {
                    "version": 1,
                    "attestation_bundles": [
                        {"publisher": publishers[fixture], "attestations": [json.loads(raw)]}
                    ],
                }
            ).encode()
        sha = hashlib.sha256((DATA / "provenance" / "dists" / dist).read_bytes()).hexdigest()
        jobs.append(VerifyJob(raw, dist, sha, DigestSource.INDEX))
    return jobs


def _tampered(job: VerifyJob, byte: int) -> VerifyJob:
    doc = json.loads(job.provenance)
    att = doc["attestation_bundles"][0]["attestations"][0]
    sig = bytearray(base64.b64decode(att["envelope"]["signature"]))
    sig[byte % len(sig)] ^= 0x01
    att["envelope"]["signature"] = base64.b64encode(bytes(sig)).decode()
    return VerifyJob(json.dumps(doc).encode(), job.filename, job.sha256, job.digest_source)


def test_pool_and_in_process_agree(tmp_path):
    root = load_trust_root("embedded")
    good = _real_jobs()
    bad = [_tampered(job, i) for i in range(6) for job in good]
    jobs = good + bad + good  # duplicates are verified once
    assert len({j.key(root) for j in jobs}) >= POOL_THRESHOLD
    in_process = verify_batch(root, jobs, workers=1)
    pooled = verify_batch(root, jobs, workers=2)
    assert pooled == in_process
    statuses = [v[0] for v in pooled]
    assert statuses[: len(good)] == [Status.VERIFIED] * len(good)
    assert set(statuses[len(good) : len(good) + len(bad)]) == {Status.INVALID}


def test_results_are_cached_by_inputs_and_trust_root(tmp_path):
    root = load_trust_root("embedded")
    jobs = _real_jobs()
    verified: list[str] = []
    first = verify_batch(root, jobs, cache_dir=tmp_path, on_done=verified.append)
    assert len(verified) == len(jobs)
    verified.clear()
    second = verify_batch(root, jobs, cache_dir=tmp_path, on_done=verified.append)
    assert verified == []
    assert second == first
    # Another trust root never reuses those results.
    staging = load_trust_root("embedded", staging=True)
    third = verify_batch(staging, jobs, cache_dir=tmp_path, on_done=verified.append)
    assert len(verified) == len(jobs)
    assert {v[0] for v in third} == {Status.INVALID}
    # A corrupt cache entry is ignored and the file verified again.
    with Rows(tmp_path) as rows:
        rows.sql("UPDATE entries SET meta = '{not json' WHERE kind = 'verify'")
    verified.clear()
    assert verify_batch(root, jobs, cache_dir=tmp_path, on_done=verified.append) == first
    assert len(verified) == len(jobs)


def test_a_planted_verified_result_is_not_trusted(tmp_path):
    """Forging a cache entry (without the per-user key) cannot make anything verified."""
    root = load_trust_root("embedded")
    good = _real_jobs()[0]
    bad = _tampered(good, 3)
    verify_batch(root, [good, bad], cache_dir=tmp_path)
    rows = Rows(tmp_path)
    entries = {key: (meta, body) for key, meta, body in rows.entries("verify")}
    good_meta, good_body = entries[good.key(root)]
    assert good_body is not None
    good_entry = {**good_meta, "body": base64.b64encode(good_body).decode()}
    # Copy the good result over the bad one's row, payload and all, and also try a
    # payload rewritten in place.
    rows.put("verify", bad.key(root), good_entry)
    assert verify_batch(root, [bad], cache_dir=tmp_path)[0][0] is Status.INVALID
    forged = json.dumps(json.loads(good_body), sort_keys=True).encode()
    bad_entry = {
        "body": base64.b64encode(forged).decode(),
        "body_sha256": hashlib.sha256(forged).hexdigest(),
        "mac": "00" * 32,
    }
    rows.put("verify", bad.key(root), bad_entry)
    assert verify_batch(root, [bad], cache_dir=tmp_path)[0][0] is Status.INVALID
    rows.close()


def test_verification_while_fetching_agrees_with_one_process(index_server, tmp_path):
    """Enough releases to start the worker pool before fetching: the results are the same."""
    import hashlib as _hashlib

    from helpers import cdx, pypi, write_json
    from virtual_sigstore import Defect, GitHubIdentity, VirtualSigstore

    import bomguard

    sig = VirtualSigstore(seed=11)
    root = sig.write_trusted_root(tmp_path / "root.json")
    names = [f"pkg{i}" for i in range(30)]
    for i, name in enumerate(names):
        for suffix in (".tar.gz", "-py3-none-any.whl"):
            filename = f"{name}-1.0{suffix}"
            sha = _hashlib.sha256(filename.encode()).hexdigest()
            defect = Defect.BAD_SIGNATURE if i % 7 == 3 and suffix == ".tar.gz" else None
            provenance = sig.mint_provenance(
                filename, sha, GitHubIdentity(repository=f"org/{name}"), defect=defect
            )
            index_server.add_file(name, filename, sha256=sha, provenance=provenance)
    sbom = write_json(tmp_path / "in.json", cdx(pypi(n, "1.0") for n in names))
    outcomes = []
    for workers in (2, 1):
        options = bomguard.EnrichOptions(
            trust_root=str(root),
            drift_depth=0,
            workers=workers,
            index=bomguard.IndexOptions(index_url=index_server.index_url),
        )
        result = bomguard.enrich(sbom, options)
        outcomes.append(
            {c.name: result.evidence[c.locator].status for c in result.components}  # type: ignore[union-attr]
        )
    assert outcomes[0] == outcomes[1]
    expected_invalid = {f"pkg{i}" for i in range(30) if i % 7 == 3}
    assert {k for k, v in outcomes[0].items() if v is Status.INVALID} == expected_invalid
    assert {k for k, v in outcomes[0].items() if v is Status.VERIFIED} == set(
        names
    ) - expected_invalid


def test_result_keys_name_the_installed_versions_importlib_names() -> None:
    """The versions a stored result is keyed by are the installed ones (an upgrade of any
    of them never reuses a result)."""
    from importlib.metadata import version

    from bomguard.verify.batch import _installed_version, code_versions

    for dist in ("sigstore", "sigstore-models", "pypi-attestations", "cryptography", "PyYAML"):
        assert _installed_version(dist) == version(dist)
        if dist != "PyYAML":
            assert f"{dist}={version(dist)}" in code_versions()
    assert _installed_version("no-such-distribution-anywhere") is None
