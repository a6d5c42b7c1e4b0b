"""A warm run reads its pages and provenance from the store in batches: every row of a
batch is still authenticated on its own, and a bad row drops only itself.

Through ``bomguard enrich`` against the loopback index, with attestations minted by the
virtual Sigstore; the store's rows are edited directly, as someone with write access to
the store (not its key) would.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from helpers import cdx, enrich_cli, props, pypi, write_json
from storerows import Rows
from virtual_sigstore import GitHubIdentity, VirtualSigstore

from bomguard.index.cache import row_key

PROJECTS = [f"batch-pkg{i}" for i in range(8)]


def test_one_tampered_row_in_a_batch_is_dropped_and_the_rest_used(
    index_server, tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.setenv("BOMGUARD_CACHE_KEY_FILE", str(tmp_path / "config" / "cache-key"))
    sig = VirtualSigstore(seed=741)
    root = sig.write_trusted_root(tmp_path / "trusted_root.json")
    files = {}
    for project in PROJECTS:
        name = f"{project.replace('-', '_')}-1.0.tar.gz"
        content = f"the sdist of {project}\n".encode()
        sha = hashlib.sha256(content).hexdigest()
        identity = GitHubIdentity(repository=f"octo/{project}")
        index_server.add_file(
            project, name, content=content, provenance=sig.mint_provenance(name, sha, identity)
        )
        files[project] = (name, sha)
    sbom = write_json(tmp_path / "in.json", cdx([pypi(p, "1.0") for p in PROJECTS]))
    out = tmp_path / "out.json"
    args = ["--cache-dir", str(tmp_path / "cache"), "--drift-depth", "0"]
    assert enrich_cli(sbom, out, index_server.index_url, *args, trust_root=root) == 0

    origin = f"http://127.0.0.1:{index_server.port}"
    victim, other = PROJECTS[3], PROJECTS[5]
    with Rows(tmp_path / "cache") as rows:
        # The victim's provenance: another body under the same (now wrong) digest.
        key = row_key(origin, *files[victim])
        ((_, meta, _),) = [r for r in rows.entries("provenance") if r[0] == key]
        rows.put("provenance", key, {**meta, "body": "eyJ4IjogMX0="})  # {"x": 1}
        # The other project's page row copied onto the victim's page key (the MAC
        # covers the row key: it no longer matches).
        pages = {m["url"]: (k, m, b) for k, m, b in rows.entries("pages")}
        victim_page = next(u for u in pages if u.rstrip("/").endswith(victim))
        other_page = next(u for u in pages if u.rstrip("/").endswith(other))

        _, meta, body = pages[other_page]
        moved = {**meta, "body": base64.b64encode(body or b"").decode()}
        rows.put("pages", pages[victim_page][0], moved)
    capsys.readouterr()
    before = index_server.count("/integrity/")

    assert enrich_cli(sbom, out, index_server.index_url, *args, trust_root=root) == 0
    err = capsys.readouterr().err
    name = files[victim][0]
    assert f"the cached provenance for {name}" in err
    assert "does not match" in err
    assert f"the cached project page {victim_page} has a MAC that does not" in err
    # Only the tampered provenance is fetched again; every other one came from the store.
    assert index_server.count("/integrity/") - before == 1
    doc = json.loads(out.read_text())
    statuses = {c["name"]: props(c)["bomguard:provenance:status"] for c in doc["components"]}
    assert statuses == dict.fromkeys(PROJECTS, "verified")
