"""Attacks found in review: each test demonstrates a way to get a pass (or hide a
finding) that bomguard should refuse. Through the CLI, against attestations minted by
the virtual Sigstore and served by the loopback index, as in test_forgery.py."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest
from helpers import cdx, enrich_cli, props, pypi, run_cli, write_json
from virtual_sigstore import Defect, GitHubIdentity, VirtualSigstore

ACME = GitHubIdentity(repository="acme/widget", ref="refs/tags/v1.0", trigger="release")
P = "bomguard:provenance:"


@pytest.fixture(scope="module")
def vsig(tmp_path_factory):
    sig = VirtualSigstore(seed=23)
    root = sig.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")
    return sig, root


def _sha(filename: str) -> str:
    return hashlib.sha256(f"{filename} contents".encode()).hexdigest()


def _serve(server, sig, project, version, identity, **mint):
    filename = f"{project}-{version}.tar.gz"
    sha = _sha(filename)
    provenance = sig.mint_provenance(filename, sha, identity, **mint) if identity else None
    server.add_file(project, filename, sha256=sha, provenance=provenance)
    return filename, sha


def _component(data, name):
    return next(c for c in data["components"] if c["name"] == name)


def _verify(path, root, capsys):
    capsys.readouterr()
    code = run_cli(["verify", str(path), "--trust-root", str(root)])
    return code, capsys.readouterr().err


def _tamper(out, data, mutate):
    forged = copy.deepcopy(data)
    mutate(forged)
    path = out.with_name("forged.json")
    path.write_text(json.dumps(forged))
    return path


# -- (c) whoever carries the enriched SBOM ------------------------------------------------


def test_invalid_pypi_component_relabelled_not_applicable_passes_verify(
    index_server, vsig, tmp_path, capsys
):
    """A PyPI component whose provenance is *invalid* (bad signature, evidence still
    embedded) is relabelled ``not-applicable``: reverify skips such records outright, so
    ``bomguard verify`` exits 0 although the component is a PyPI package (it has a
    pkg:pypi purl, so bomguard would never record it not-applicable) and its embedded
    evidence fails."""
    sig, root = vsig
    _serve(index_server, sig, "widget", "1.0", ACME, defect=Defect.BAD_SIGNATURE)
    sbom = write_json(tmp_path / "in.json", cdx([pypi("widget", "1.0")]))
    out = tmp_path / "out.json"
    assert enrich_cli(sbom, out, index_server.index_url, "--no-cache", trust_root=root) == 1
    data = json.loads(out.read_text())
    assert props(_component(data, "widget"))[P + "status"] == "invalid"

    def relabel(d):
        for p in _component(d, "widget")["properties"]:
            if p["name"] == P + "status":
                p["value"] = "not-applicable"

    code, err = _verify(_tamper(out, data, relabel), root, capsys)
    assert code == 1, f"a forged not-applicable on a PyPI component passed verify: {err}"
