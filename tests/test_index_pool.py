"""The HTTP client's small connection pools: ``--concurrency`` bounds the connections the
index sees, however they are split, and every request is still answered and verified."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
from helpers import cdx, enrich_cli, props, pypi, write_json
from virtual_sigstore import GitHubIdentity, VirtualSigstore

PROJECTS = 24


@pytest.fixture(scope="module")
def vsig(tmp_path_factory):
    sig = VirtualSigstore(seed=31)
    return sig, sig.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")


def _peak_connections(server):
    """Count the connections open at once on ``server`` (the most seen is returned live)."""
    seen = {"open": 0, "peak": 0}
    lock = threading.Lock()
    track, untrack = server._track_connection, server._untrack_connection

    def tracked(sock, thread):
        with lock:
            seen["open"] += 1
            seen["peak"] = max(seen["peak"], seen["open"])
        return track(sock, thread)

    def untracked(sock):
        with lock:
            seen["open"] -= 1
        return untrack(sock)

    server._track_connection, server._untrack_connection = tracked, untracked
    return seen


@pytest.mark.parametrize("concurrency", [1, 6, None])
def test_concurrency_bounds_the_connections_and_every_file_verifies(
    index_server, vsig, tmp_path, concurrency
):
    sig, root = vsig
    components = []
    for i in range(PROJECTS):
        project = f"pool-{i}"
        identity = GitHubIdentity(repository=f"acme/{project}", ref="refs/tags/v1.0")
        for suffix in (".tar.gz", "-py3-none-any.whl"):
            filename = f"{project.replace('-', '_')}-1.0{suffix}"
            sha = hashlib.sha256(filename.encode()).hexdigest()
            provenance = sig.mint_provenance(filename, sha, identity)
            index_server.add_file(project, filename, sha256=sha, provenance=provenance)
        components.append(pypi(project, "1.0"))
    index_server.latency = 0.02  # requests overlap, so the pools are really used
    seen = _peak_connections(index_server)
    sbom = write_json(tmp_path / "in.json", cdx(components))
    out = tmp_path / "out.json"
    extra = ["--no-cache"] + (["--concurrency", str(concurrency)] if concurrency else [])
    assert enrich_cli(sbom, out, index_server.index_url, *extra, trust_root=root) == 0
    statuses = [
        props(c)["bomguard:provenance:status"] for c in json.loads(out.read_text())["components"]
    ]
    assert statuses == ["verified"] * PROJECTS
    limit = concurrency or 64
    assert 1 <= seen["peak"] <= limit
    if concurrency == 6:
        assert seen["peak"] > 4  # more than one 4-connection pool was used
