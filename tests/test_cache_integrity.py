"""The store is authenticated: whoever can write the store's database but not the key
cannot change a result, and is noticed.

Each attack edits the store's rows directly, as someone with write access to the store
would (a shared or restored CI cache), through ``bomguard enrich`` as a user runs it,
against the loopback index, with attestations minted by the virtual Sigstore.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers import cdx, enrich_cli, file_statuses, props, pypi, write_json
from indexserver import IndexServer
from storerows import Rows
from virtual_sigstore import Defect, GitHubIdentity, VirtualSigstore

from bomguard.index import StoreCache
from bomguard.index.cache import row_key
from bomguard.store import open_store

PROJECT, VERSION = "octo-pkg", "1.0"
FILENAME = "octo_pkg-1.0.tar.gz"
CONTENT = b"the honest sdist of octo-pkg 1.0\n"
SHA = hashlib.sha256(CONTENT).hexdigest()
HONEST = GitHubIdentity(repository="octo/pkg")
MALLORY = GitHubIdentity(repository="mallory/evil")
TEN_YEARS = 10 * 365 * 24 * 3600


@pytest.fixture
def sigstore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[VirtualSigstore, Path]:
    """A virtual Sigstore, its trust root file, and a per-test cache key file."""
    monkeypatch.setenv("BOMGUARD_CACHE_KEY_FILE", str(tmp_path / "config" / "cache-key"))
    sig = VirtualSigstore(seed=740)
    return sig, sig.write_trusted_root(tmp_path / "trusted_root.json")


def _enrich(server: IndexServer, root: Path, tmp_path: Path, *extra: str) -> dict[str, str]:
    sbom = write_json(tmp_path / "in.json", cdx([pypi(PROJECT, VERSION)]))
    out = tmp_path / "out.json"
    cache = ["--cache-dir", str(tmp_path / "cache"), "--drift-depth", "0"]
    enrich_cli(sbom, out, server.index_url, *cache, *extra, trust_root=root)
    return props(json.loads(out.read_text())["components"][0])


def _entry(cache: Path, kind: str) -> tuple[str, dict[str, Any]]:
    with Rows(cache) as rows:
        return rows.entry(kind)


def _put(cache: Path, kind: str, key: str, entry: dict[str, Any]) -> None:
    with Rows(cache) as rows:
        rows.put(kind, key, entry)


def _with_body(entry: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The entry with ``body`` and its sha256 recomputed (all one can do without the key)."""
    return {
        **entry,
        "body": base64.b64encode(body).decode(),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }


def _edit_page(cache: Path, edit: Any, fresh_until: float | None = None) -> None:
    key, entry = _entry(cache, "pages")
    page = json.loads(base64.b64decode(entry["body"]))
    edit(page["files"][0])
    body = json.dumps(page).encode()
    _put(cache, "pages", key, _with_body(entry, body))
    if fresh_until is not None:
        # And the page's freshness row, bound to the new body, "fresh" for years.
        fresh = {
            "url": entry["url"],
            "body_of": hashlib.sha256(body).hexdigest(),
            "fresh_until": fresh_until,
            "stored_at": time.time(),
            "mac": "00" * 32,
        }
        _put(cache, "fresh", key, fresh)


def _plant_provenance(cache: Path, origin: str, sha256: str, provenance: bytes) -> None:
    """Copy the real provenance row and make it another file's, with other provenance.

    The row key is no secret: anyone can compute it from the index, file name and digest.
    """
    with Rows(cache) as rows:
        ((_, template, body),) = [
            r for r in rows.entries("provenance") if r[0] == row_key(origin, FILENAME, SHA)
        ]
        entry = {**template, "body": base64.b64encode(body or b"").decode()}
        planted = {**_with_body(entry, provenance), "sha256": sha256}
        rows.put("provenance", row_key(origin, FILENAME, sha256), planted)


def test_forged_page_and_planted_provenance_cannot_swap_the_publisher(
    index_server, sigstore, tmp_path, capsys
):
    """Attack 1: a forged fresh page points at a planted provenance entry of another repo."""
    sig, root = sigstore
    cache = tmp_path / "cache"
    index_server.add_file(
        PROJECT, FILENAME, content=CONTENT, provenance=sig.mint_provenance(FILENAME, SHA, HONEST)
    )
    first = _enrich(index_server, root, tmp_path)
    assert first["bomguard:provenance:status"] == "verified"
    assert first["bomguard:provenance:publisher:repository"] == "octo/pkg"

    # Mallory builds other bytes in her own repository and attests them (that is allowed:
    # Sigstore says who signed, not whose package it is), then edits the cached page to
    # list her digest, far fresher than any index allows, and plants her provenance.
    evil_sha = hashlib.sha256(b"mallory's build\n").hexdigest()
    origin = index_server.base_url
    _plant_provenance(cache, origin, evil_sha, sig.mint_provenance(FILENAME, evil_sha, MALLORY))

    def to_evil(file: dict[str, Any]) -> None:
        file["hashes"]["sha256"] = evil_sha

    _edit_page(cache, to_evil, fresh_until=time.time() + TEN_YEARS)
    capsys.readouterr()
    index_server.reset_log()

    second = _enrich(index_server, root, tmp_path)
    assert second["bomguard:provenance:status"] == "verified"
    assert second["bomguard:provenance:publisher:repository"] == "octo/pkg"
    assert index_server.count(f"/simple/{PROJECT}/") == 1  # the index was asked again
    page_request = next(r for r in index_server.requests if r.path.startswith("/simple/"))
    assert "if-none-match" not in page_request.headers  # the forged entry was dropped
    err = capsys.readouterr().err
    assert (
        f"WARNING: cache: the cached project page {index_server.project_url(PROJECT)} has a MAC"
        in err
    )


def test_provenance_planted_for_the_honest_digest_cannot_swap_the_publisher(
    index_server, sigstore, tmp_path, capsys
):
    """Attack 1, provenance only: another repository's attestation of the honest digest."""
    sig, root = sigstore
    cache = tmp_path / "cache"
    index_server.add_file(
        PROJECT, FILENAME, content=CONTENT, provenance=sig.mint_provenance(FILENAME, SHA, HONEST)
    )
    assert _enrich(index_server, root, tmp_path)["bomguard:provenance:status"] == "verified"
    origin = index_server.base_url
    # Mallory attests the honest digest from her own repository and plants it in the cache.
    _plant_provenance(cache, origin, SHA, sig.mint_provenance(FILENAME, SHA, MALLORY))
    capsys.readouterr()
    index_server.reset_log()

    again = _enrich(index_server, root, tmp_path)
    assert again["bomguard:provenance:status"] == "verified"
    assert again["bomguard:provenance:publisher:repository"] == "octo/pkg"
    assert index_server.count("/integrity/") == 1  # asked again
    err = capsys.readouterr().err
    assert f"WARNING: cache: the cached provenance for {FILENAME} (from {origin})" in err
    # The run after that trusts its own, re-written entry again: no request, no warning.
    index_server.reset_log()
    _enrich(index_server, root, tmp_path)
    assert index_server.count("/integrity/") == 0
    assert "WARNING" not in capsys.readouterr().err


def test_page_edited_to_say_no_provenance_does_not_hide_an_invalid_file(
    index_server, sigstore, tmp_path, capsys
):
    """Attack 2: ``provenance: null`` in the cached page while the index answers 304."""
    sig, root = sigstore
    cache = tmp_path / "cache"
    bad = sig.mint_provenance(FILENAME, SHA, HONEST, defect=Defect.BAD_SIGNATURE)
    index_server.add_file(PROJECT, FILENAME, content=CONTENT, provenance=bad)
    first = _enrich(index_server, root, tmp_path)
    assert first["bomguard:provenance:status"] == "invalid"

    def no_provenance(file: dict[str, Any]) -> None:
        file["provenance"] = None

    _edit_page(cache, no_provenance)
    capsys.readouterr()
    index_server.reset_log()

    second = _enrich(index_server, root, tmp_path)
    assert second["bomguard:provenance:status"] == "invalid"
    page_requests = [r for r in index_server.requests if r.path.startswith("/simple/")]
    assert len(page_requests) == 1
    assert "if-none-match" not in page_requests[0].headers  # asked whole, not revalidated
    err = capsys.readouterr().err
    assert f"WARNING: cache: the cached project page {index_server.project_url(PROJECT)}" in err
    assert "dropped and fetched again" in err


def test_freshness_beyond_the_cap_is_not_honoured(index_server, sigstore, tmp_path):
    """An authentic page entry that claims to be fresh for years is revalidated anyway."""
    sig, root = sigstore
    cache = tmp_path / "cache"
    index_server.add_file(
        PROJECT, FILENAME, content=CONTENT, provenance=sig.mint_provenance(FILENAME, SHA, HONEST)
    )
    assert _enrich(index_server, root, tmp_path)["bomguard:provenance:status"] == "verified"
    # Written with the key (a clock that was years ahead, an older bomguard, a bug): the
    # entry is authentic, but no page is used unasked for longer than a day.
    store = open_store(str(cache / "bomguard.sqlite3"))
    assert store is not None
    disk = StoreCache(store)
    url = index_server.project_url(PROJECT)
    page = disk.get_page(url)
    assert page is not None
    disk.put_page(replace(page, fresh_until=time.time() + TEN_YEARS))
    store.close()
    # Meanwhile the index stopped advertising provenance for the file.
    index_server.add_file(PROJECT, FILENAME, content=CONTENT, provenance_key=False)
    index_server.reset_log()

    again = _enrich(index_server, root, tmp_path)
    assert index_server.count(f"/simple/{PROJECT}/") == 1
    assert again["bomguard:provenance:status"] == "unknown"


def test_without_a_key_the_index_cache_is_not_used(index_server, sigstore, tmp_path, monkeypatch):
    sig, root = sigstore
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("BOMGUARD_CACHE_KEY_FILE", str(blocker / "cache-key"))
    index_server.add_file(
        PROJECT, FILENAME, content=CONTENT, provenance=sig.mint_provenance(FILENAME, SHA, HONEST)
    )
    for _ in range(2):
        assert _enrich(index_server, root, tmp_path)["bomguard:provenance:status"] == "verified"
    assert index_server.count("/integrity/") == 2
    assert not (tmp_path / "cache").exists()


def test_a_verified_result_copied_over_an_invalid_one_is_dropped_with_a_warning(
    index_server, sigstore, tmp_path, capsys
):
    """The verification-result cache: a ``verified`` entry copied onto an ``invalid`` file's."""
    sig, root = sigstore
    cache = tmp_path / "cache"
    wheel = "octo_pkg-1.0-py3-none-any.whl"
    wheel_bytes = b"the honest wheel of octo-pkg 1.0\n"
    wheel_sha = hashlib.sha256(wheel_bytes).hexdigest()
    index_server.add_file(
        PROJECT, FILENAME, content=CONTENT, provenance=sig.mint_provenance(FILENAME, SHA, HONEST)
    )
    bad = sig.mint_provenance(wheel, wheel_sha, HONEST, defect=Defect.BAD_SIGNATURE)
    index_server.add_file(PROJECT, wheel, content=wheel_bytes, provenance=bad)
    assert _enrich(index_server, root, tmp_path)["bomguard:provenance:status"] == "invalid"

    with Rows(cache) as rows:
        entries = {}
        for key, meta, body in rows.entries("verify"):
            assert body is not None
            entry = {**meta, "body": base64.b64encode(body).decode()}
            entries[json.loads(body)["status"]] = (key, entry)
        rows.put("verify", entries["invalid"][0], entries["verified"][1])
    capsys.readouterr()

    again = _enrich(index_server, root, tmp_path)
    assert again["bomguard:provenance:status"] == "invalid"
    out = json.loads((tmp_path / "out.json").read_text())
    assert file_statuses(out["components"][0])[wheel] == "invalid"
    err = capsys.readouterr().err
    assert f"WARNING: cache: the cached verification result for {wheel} has a MAC" in err
