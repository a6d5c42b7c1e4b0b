"""HTTPS to the index: a certificate the client trusts works, any other is refused.

The index is the test suite's loopback server speaking TLS with a certificate from a CA
minted here, which no system store trusts: ``--cert`` or ``SSL_CERT_FILE`` must name it,
and the certificate must be for the host in the index URL. A refused connection carries
no request at all (nothing is sent before the server is authenticated).
"""

from __future__ import annotations

import hashlib
import json

import pytest
from helpers import cdx, enrich_cli, props, pypi, write_json
from indexserver import IndexServer
from tlsca import TestCA
from virtual_sigstore import GitHubIdentity, VirtualSigstore

PROJECT = "tls-demo"


@pytest.fixture(scope="module")
def vsig(tmp_path_factory):
    sig = VirtualSigstore(seed=41)
    return sig, sig.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return TestCA(tmp_path_factory.mktemp("ca"))


def _serve(server: IndexServer, sig: VirtualSigstore) -> None:
    identity = GitHubIdentity(repository=f"acme/{PROJECT}", ref="refs/tags/v1.0")
    for suffix in (".tar.gz", "-py3-none-any.whl"):
        filename = f"{PROJECT.replace('-', '_')}-1.0{suffix}"
        sha = hashlib.sha256(filename.encode()).hexdigest()
        server.add_file(
            PROJECT, filename, sha256=sha, provenance=sig.mint_provenance(filename, sha, identity)
        )


def _enrich(server: IndexServer, root, tmp_path, *extra: str) -> dict[str, str]:
    sbom = write_json(tmp_path / "in.json", cdx([pypi(PROJECT, "1.0")]))
    out = tmp_path / "out.json"
    args = ["--no-cache", "--retries", "0", "--drift-depth", "0", *extra]
    assert enrich_cli(sbom, out, server.index_url, *args, trust_root=root) == 0
    return props(json.loads(out.read_text())["components"][0])


def test_a_certificate_from_the_ca_given_with_cert_is_trusted(vsig, ca, tmp_path):
    sig, root = vsig
    with IndexServer(tls=ca.server_context("127.0.0.1")) as server:
        _serve(server, sig)
        assert server.index_url.startswith("https://")
        found = _enrich(server, root, tmp_path, "--cert", str(ca.ca_pem))
        assert found["bomguard:provenance:status"] == "verified"
        assert server.count("/integrity/") == 2


def test_ssl_cert_file_is_honoured(vsig, ca, tmp_path, monkeypatch):
    sig, root = vsig
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_pem))
    with IndexServer(tls=ca.server_context("127.0.0.1")) as server:
        _serve(server, sig)
        found = _enrich(server, root, tmp_path)
        assert found["bomguard:provenance:status"] == "verified"


def test_a_certificate_no_trusted_ca_issued_is_refused(vsig, ca, tmp_path):
    sig, root = vsig
    with IndexServer(tls=ca.server_context("127.0.0.1")) as server:
        _serve(server, sig)
        found = _enrich(server, root, tmp_path)  # the system store does not know the CA
        assert found["bomguard:provenance:status"] == "unknown"
        assert "certificate verify failed" in found["bomguard:provenance:reason"]
        assert server.requests == []  # not one request went over the unverified connection


def test_a_trusted_certificate_for_another_host_is_refused(vsig, ca, tmp_path):
    sig, root = vsig
    with IndexServer(tls=ca.server_context("index.example")) as server:
        _serve(server, sig)
        found = _enrich(server, root, tmp_path, "--cert", str(ca.ca_pem))
        assert found["bomguard:provenance:status"] == "unknown"
        reason = found["bomguard:provenance:reason"]
        assert "certificate verify failed" in reason
        assert "127.0.0.1" in reason  # the mismatch: the certificate is not for this host
        assert server.requests == []


def test_a_certificate_from_another_trusted_ca_is_refused(vsig, ca, tmp_path):
    """``--cert`` names one CA; a server presenting another CA's certificate is refused."""
    sig, root = vsig
    other = TestCA(tmp_path, name="another test CA")
    with IndexServer(tls=other.server_context("127.0.0.1")) as server:
        _serve(server, sig)
        found = _enrich(server, root, tmp_path, "--cert", str(ca.ca_pem))
        assert found["bomguard:provenance:status"] == "unknown"
        assert "certificate verify failed" in found["bomguard:provenance:reason"]
        assert server.requests == []
