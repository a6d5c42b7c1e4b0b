"""``--hash-files``: bind verification to the bytes the index actually serves.

Without the flag an attestation is bound to the sha256 the index *advertises*, so an index
(or a mirror, proxy or CDN in front of it) that serves other bytes under an honest digest
still gets ``verified``. With it, every distribution file is downloaded (streamed into a
sha256, never kept) and the attestation is bound to the digest of the bytes received.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import cdx, enrich_cli, props, pypi, run_cli, write_json
from indexserver import IndexServer
from storerows import Rows
from virtual_sigstore import GitHubIdentity, VirtualSigstore

import bomguard
from bomguard.models import DigestSource, Status

PROJECT, VERSION = "octo-pkg", "1.0"
FILENAME = "octo_pkg-1.0.tar.gz"
CONTENT = b"the honest sdist of octo-pkg 1.0\n" * 64
SHA = hashlib.sha256(CONTENT).hexdigest()
EVIL = b"a backdoored build, served under the honest digest\n" * 64
EVIL_SHA = hashlib.sha256(EVIL).hexdigest()

DOWNLOADED_POLICY = """\
apiVersion: bomguard/v1
kind: Policy
metadata:
  name: downloaded
rules:
  - id: bound-to-the-bytes
    description: every verified file is bound to the bytes bomguard downloaded
    require: >-
      component.provenance.files.all(f,
        f.status != "verified" || f.digest_source == "downloaded")
    message: "{name} {version}: a verified file is not bound to downloaded bytes"
"""


@pytest.fixture
def sigstore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[VirtualSigstore, Path]:
    monkeypatch.setenv("BOMGUARD_CACHE_KEY_FILE", str(tmp_path / "config" / "cache-key"))
    sig = VirtualSigstore(seed=691)
    return sig, sig.write_trusted_root(tmp_path / "trusted_root.json")


def _provenance(sig: VirtualSigstore) -> bytes:
    return sig.mint_provenance(FILENAME, SHA, GitHubIdentity(repository="octo/pkg"))


def _enrich(
    server: IndexServer, root: Path, tmp_path: Path, *extra: str, name: str = "out.json"
) -> tuple[int, dict[str, str]]:
    sbom = write_json(tmp_path / "in.json", cdx([pypi(PROJECT, VERSION)]))
    out = tmp_path / name
    code = enrich_cli(sbom, out, server.index_url, "--drift-depth", "0", *extra, trust_root=root)
    return code, props(json.loads(out.read_text())["components"][0])


def test_other_bytes_than_advertised_are_invalid_only_with_hash_files(
    index_server, sigstore, tmp_path
):
    sig, root = sigstore
    index_server.add_file(PROJECT, FILENAME, content=EVIL, sha256=SHA, provenance=_provenance(sig))
    # Why the flag matters: the attestation is for the honest digest the index lists, so
    # without downloading, bomguard cannot see that the bytes served are not those.
    code, blind = _enrich(index_server, root, tmp_path, "--no-cache")
    assert (code, blind["bomguard:provenance:status"]) == (0, "verified")
    assert index_server.count("/files/") == 0

    code, seen = _enrich(index_server, root, tmp_path, "--no-cache", "--hash-files")
    assert code == 1  # the default policy fails on invalid
    assert seen["bomguard:provenance:status"] == "invalid"
    reason = seen["bomguard:provenance:reason"]
    assert "the index serves other bytes than it advertises" in reason
    assert SHA in reason
    assert EVIL_SHA in reason
    assert index_server.count("/files/") == 1


def test_honest_bytes_verify_bound_to_the_download_and_are_cached(index_server, sigstore, tmp_path):
    sig, root = sigstore
    index_server.add_file(PROJECT, FILENAME, content=CONTENT, provenance=_provenance(sig))
    policy = tmp_path / "downloaded.yaml"
    policy.write_text(DOWNLOADED_POLICY)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    args = [*cache, "--hash-files", "--policy", str(policy)]

    code, cold = _enrich(index_server, root, tmp_path, *args)
    assert (code, cold["bomguard:provenance:status"]) == (0, "verified")
    assert index_server.count("/files/") == 1
    # Without --hash-files the same policy fails: the digest is the index's word.
    code, _ = _enrich(index_server, root, tmp_path, "--no-cache", "--policy", str(policy))
    assert code == 1

    # A warm run does not download again: the digest of the bytes is cached (not the bytes).
    index_server.reset_log()
    code, warm = _enrich(index_server, root, tmp_path, *args, name="warm.json")
    assert (code, warm["bomguard:provenance:status"]) == (0, "verified")
    assert index_server.count("/files/") == 0
    with Rows(tmp_path / "cache") as rows:
        ((_, stored, body),) = rows.entries("digests")
    assert stored["sha256"] == SHA
    assert body is None
    assert base64.b64encode(CONTENT[:64]).decode() not in json.dumps(stored)

    # The library reports the digest source too.
    options = bomguard.EnrichOptions(
        trust_root=str(root),
        drift_depth=0,
        index=bomguard.IndexOptions(index_url=index_server.index_url, hash_files=True),
    )
    result = bomguard.enrich(tmp_path / "in.json", options)
    (evidence,) = [e for e in result.evidence.values() if e is not None]
    assert evidence.status is Status.VERIFIED
    assert evidence.files[0].digest_source is DigestSource.DOWNLOADED
    assert evidence.files[0].sha256 == SHA


def test_a_tampered_digest_entry_is_dropped_and_the_file_downloaded_again(
    index_server, sigstore, tmp_path, capsys
):
    sig, root = sigstore
    index_server.add_file(PROJECT, FILENAME, content=EVIL, sha256=SHA, provenance=_provenance(sig))
    cache = ["--cache-dir", str(tmp_path / "cache"), "--hash-files"]
    assert _enrich(index_server, root, tmp_path, *cache)[1]["bomguard:provenance:status"] == (
        "invalid"
    )
    # Nothing was cached for bytes that did not match; plant an entry saying they did.
    key = hashlib.sha256(
        "\0".join((index_server.base_url, index_server.file_url(FILENAME), SHA)).encode()
    ).hexdigest()
    entry: dict[str, Any] = {
        "origin": index_server.base_url,
        "url": index_server.file_url(FILENAME),
        "expected_sha256": SHA,
        "sha256": SHA,
        "size": len(CONTENT),
        "mac": "00" * 32,
    }
    with Rows(tmp_path / "cache") as rows:
        rows.put("digests", key, entry)
    capsys.readouterr()
    index_server.reset_log()
    _, again = _enrich(index_server, root, tmp_path, *cache)
    assert again["bomguard:provenance:status"] == "invalid"
    assert index_server.count("/files/") == 1
    err = capsys.readouterr().err
    assert f"WARNING: cache: the cached file digest {index_server.file_url(FILENAME)}" in err


def test_an_oversize_or_unavailable_file_is_unknown(index_server, sigstore, tmp_path):
    sig, root = sigstore
    index_server.add_file(PROJECT, FILENAME, content=CONTENT, provenance=_provenance(sig))
    args = ["--no-cache", "--hash-files"]
    _, big = _enrich(index_server, root, tmp_path, *args, "--max-file-bytes", "1000")
    assert big["bomguard:provenance:status"] == "unknown"
    assert "1000-byte limit" in big["bomguard:provenance:reason"]
    index_server.fault("/files/", status=404)
    _, gone = _enrich(index_server, root, tmp_path, *args, "--retries", "0")
    assert gone["bomguard:provenance:status"] == "unknown"
    assert "distribution download failed" in gone["bomguard:provenance:reason"]


def test_a_file_without_a_url_is_unknown(index_server, sigstore, tmp_path):
    sig, root = sigstore
    index_server.add_file(
        PROJECT, FILENAME, content=CONTENT, provenance=_provenance(sig), extra={"url": ""}
    )
    _, p = _enrich(index_server, root, tmp_path, "--no-cache", "--hash-files")
    assert p["bomguard:provenance:status"] == "unknown"
    assert "no http(s) URL" in p["bomguard:provenance:reason"]
    assert index_server.count(f"/simple/{PROJECT}/") == 1  # the page was not "downloaded"


def test_a_file_url_off_the_index_origin_is_refused(index_server, sigstore, tmp_path):
    sig, root = sigstore
    with IndexServer() as other:
        other.add_file(PROJECT, FILENAME, content=CONTENT)
        index_server.add_file(
            PROJECT,
            FILENAME,
            content=CONTENT,
            provenance=_provenance(sig),
            extra={"url": other.file_url(FILENAME)},
        )
        _, refused = _enrich(index_server, root, tmp_path, "--no-cache", "--hash-files")
        assert refused["bomguard:provenance:status"] == "unknown"
        assert "not on the index's origin" in refused["bomguard:provenance:reason"]
        assert other.count("/") == 0


def test_hash_files_cannot_be_used_with_a_mirror(tmp_path, capsys):
    sbom = write_json(tmp_path / "in.json", cdx([pypi(PROJECT, VERSION)]))
    (tmp_path / "mirror").mkdir()
    code = run_cli(["enrich", str(sbom), "--mirror", str(tmp_path / "mirror"), "--hash-files"])
    assert code == 2
    assert "--hash-files downloads from the index; it cannot be used with --mirror" in (
        capsys.readouterr().err
    )
