"""Warm runs: what the store answers is reused, and nothing it cannot vouch for is.

A run whose pages are fresh and whose provenance and results are stored asks the index
nothing, starts no worker pool and does not parse the trust root; these tests check,
through ``bomguard enrich`` as a user runs it, that such a run still reports exactly
what a cold one does, that results are never reused under another trust root, that a
malformed trust root is still refused, and that runs from a mirror keep (and check)
their verification results too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import PYPI_CACHE_CONTROL, cdx, enrich_cli, props, pypi, run_cli, write_json
from indexserver import IndexServer
from storerows import Rows, pg_database
from virtual_sigstore import Defect, GitHubIdentity, VirtualSigstore

from bomguard.store import _close_all
from bomguard.verify.batch import POOL_THRESHOLD, code_versions

pytestmark = pytest.mark.usefixtures("fresh_stores")


@pytest.fixture
def sig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[VirtualSigstore, Path]:
    monkeypatch.setenv("BOMGUARD_CACHE_KEY_FILE", str(tmp_path / "config" / "cache-key"))
    sigstore = VirtualSigstore(seed=4242)
    return sigstore, sigstore.write_trusted_root(tmp_path / "trusted_root.json")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """An empty store of each backend (PostgreSQL with a fleet key)."""
    if request.param == "sqlite":
        yield str(tmp_path / "cache" / "bomguard.sqlite3")
    else:
        key = tmp_path / "fleet-key"
        key.write_text(os.urandom(32).hex())
        monkeypatch.setenv("BOMGUARD_STORE_KEY_FILE", str(key))
        yield from pg_database()


def _publish(server: IndexServer, sigstore: VirtualSigstore, count: int, bad: int) -> list[str]:
    """``count`` projects with an sdist and a wheel each; project ``bad``'s sdist is forged."""
    names = [f"warm-pkg-{i}" for i in range(count)]
    for i, name in enumerate(names):
        for suffix in (".tar.gz", "-py3-none-any.whl"):
            filename = f"{name.replace('-', '_')}-1.0{suffix}"
            sha = hashlib.sha256(filename.encode()).hexdigest()
            defect = Defect.BAD_SIGNATURE if i == bad and suffix == ".tar.gz" else None
            provenance = sigstore.mint_provenance(
                filename, sha, GitHubIdentity(repository=f"warm/{name}"), defect=defect
            )
            server.add_file(name, filename, sha256=sha, provenance=provenance)
    return names


def _statuses(out: Path) -> dict[str, str]:
    doc = json.loads(out.read_text())
    return {c["name"]: props(c)["bomguard:provenance:status"] for c in doc["components"]}


def test_a_warm_run_asks_nothing_and_reports_what_the_cold_run_did(
    index_server, sig, store, tmp_path
):

    sigstore, root = sig
    names = _publish(index_server, sigstore, 30, bad=4)
    assert 2 * len(names) >= POOL_THRESHOLD  # enough files that a cold run verifies in a pool
    index_server.fault("/simple/", headers=PYPI_CACHE_CONTROL)  # as PyPI sends
    sbom = write_json(tmp_path / "in.json", cdx(pypi(n, "1.0") for n in names))
    cache = ["--store", store, "--drift-depth", "0"]
    expected = {n: "invalid" if n == "warm-pkg-4" else "verified" for n in names}

    assert (
        enrich_cli(sbom, tmp_path / "cold.json", index_server.index_url, *cache, trust_root=root)
        == 1
    )
    assert _statuses(tmp_path / "cold.json") == expected
    index_server.reset_log()
    assert (
        enrich_cli(sbom, tmp_path / "warm.json", index_server.index_url, *cache, trust_root=root)
        == 1
    )
    assert index_server.requests == []  # fresh pages, stored provenance: nothing to ask
    assert _statuses(tmp_path / "warm.json") == expected

    # Results gone (as after an upgrade, which keys them afresh), pages and provenance
    # still stored: every file is verified again, after fetching, and still comes out
    # as it did (the forged one invalid), without a request.
    with Rows(store) as rows:
        assert rows.count("verify") == 2 * len(names)
        rows.sql("DELETE FROM entries WHERE kind = ?", ("verify",))
    assert (
        enrich_cli(sbom, tmp_path / "again.json", index_server.index_url, *cache, trust_root=root)
        == 1
    )
    assert index_server.requests == []
    assert _statuses(tmp_path / "again.json") == expected
    _close_all()  # commit what the run queued
    with Rows(store) as rows:
        assert rows.count("verify") == 2 * len(names)


def test_results_under_one_trust_root_are_not_reused_under_another(index_server, sig, tmp_path):
    sigstore, root = sig
    names = _publish(index_server, sigstore, 2, bad=-1)
    sbom = write_json(tmp_path / "in.json", cdx(pypi(n, "1.0") for n in names))
    cache = ["--cache-dir", str(tmp_path / "cache"), "--drift-depth", "0"]
    out = tmp_path / "out.json"

    enrich_cli(sbom, out, index_server.index_url, *cache, trust_root=root)
    assert set(_statuses(out).values()) == {"verified"}
    # The same store, Sigstore's production root: the test Sigstore's attestations do
    # not chain to it, so nothing may come out verified from the stored results.
    enrich_cli(sbom, out, index_server.index_url, *cache, trust_root="embedded")
    assert set(_statuses(out).values()) == {"invalid"}
    # And back: the first root's results are still there and still right.
    index_server.reset_log()
    enrich_cli(sbom, out, index_server.index_url, *cache, trust_root=root)
    assert set(_statuses(out).values()) == {"verified"}
    assert index_server.count("/integrity/") == 0


def _trust_root_row_key(raw: bytes) -> str:
    """The store key of the record that a trust root parses (anyone can compute it)."""
    sha = hashlib.sha256(raw).hexdigest()
    return hashlib.sha256(f"{sha}\0{code_versions()}".encode()).hexdigest()


def test_a_malformed_trust_root_is_refused_even_when_every_result_is_stored(
    index_server, sig, tmp_path, capsys
):
    sigstore, root = sig
    names = _publish(index_server, sigstore, 2, bad=-1)
    sbom = write_json(tmp_path / "in.json", cdx(pypi(n, "1.0") for n in names))
    cache = ["--cache-dir", str(tmp_path / "cache"), "--drift-depth", "0"]
    assert (
        enrich_cli(sbom, tmp_path / "out.json", index_server.index_url, *cache, trust_root=root)
        == 0
    )

    malformed = tmp_path / "malformed_root.json"
    doc = json.loads(root.read_text())
    doc["certificateAuthorities"] = "not a list"
    malformed.write_text(json.dumps(doc))
    capsys.readouterr()
    code = enrich_cli(
        sbom, tmp_path / "bad.json", index_server.index_url, *cache, trust_root=malformed
    )
    assert code == 2
    assert "not a valid Sigstore trusted_root.json" in capsys.readouterr().err
    assert not (tmp_path / "bad.json").exists()

    # The record that the good root parses, copied under the malformed root's key (what
    # someone with write access to the store but not the key can do): not trusted.
    with Rows(tmp_path / "cache") as rows:
        ((_, meta, _),) = rows.entries("trust-root")
        forged = {**meta, "sha256": hashlib.sha256(malformed.read_bytes()).hexdigest()}
        rows.put("trust-root", _trust_root_row_key(malformed.read_bytes()), forged)
    code = enrich_cli(
        sbom, tmp_path / "bad.json", index_server.index_url, *cache, trust_root=malformed
    )
    assert code == 2
    err = capsys.readouterr().err
    assert f"the record that the trust root {malformed} parses has a MAC" in err
    assert "not a valid Sigstore trusted_root.json" in err
    assert not (tmp_path / "bad.json").exists()


def test_a_mirror_run_keeps_its_verification_results_and_checks_them(
    index_server, sig, tmp_path, capsys
):
    sigstore, root = sig
    names = _publish(index_server, sigstore, 3, bad=1)
    sbom = write_json(tmp_path / "in.json", cdx(pypi(n, "1.0") for n in names))
    mirror = tmp_path / "mirror"
    fetched = ["fetch", str(sbom), "--into", str(mirror), "--index-url", index_server.index_url]
    assert run_cli([*fetched, "--drift-depth", "0"]) == 0
    cache = tmp_path / "cache"
    args = ["--mirror", str(mirror), "--cache-dir", str(cache), "--drift-depth", "0"]
    out = tmp_path / "out.json"
    expected = {n: "invalid" if n == "warm-pkg-1" else "verified" for n in names}

    index_server.reset_log()
    assert enrich_cli(sbom, out, "http://127.0.0.1:9/simple/", *args, trust_root=root) == 1
    assert _statuses(out) == expected
    assert index_server.requests == []
    with Rows(cache) as rows:
        # Results are kept; what the mirror holds is not copied into the store.
        assert rows.count("verify") == 2 * len(names)
        assert rows.count("pages") == rows.count("provenance") == 0
        results = {
            json.loads(b)["status"]: (k, {**m, "body": base64.b64encode(b).decode()})
            for k, m, b in rows.entries("verify")
        }
        rows.put("verify", results["invalid"][0], results["verified"][1])
    capsys.readouterr()

    assert enrich_cli(sbom, out, "http://127.0.0.1:9/simple/", *args, trust_root=root) == 1
    assert _statuses(out) == expected
    err = capsys.readouterr().err
    assert "WARNING: cache: the cached verification result for warm_pkg_1-1.0.tar.gz" in err
