"""What the index client makes of malformed index data, index URLs and SBOM hashes.

Each case fails closed: an unusable digest is ``unknown`` (never ``invalid`` by accident,
never bound), a malformed index URL is refused before any work, and an SBOM hash that no
file of the release has is ``invalid``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from helpers import cdx, enrich_cli, props, pypi, run_cli, write_json
from virtual_sigstore import GitHubIdentity, VirtualSigstore

PROJECT, VERSION = "octo-pkg", "1.0"
FILENAME = "octo_pkg-1.0.tar.gz"
CONTENT = b"the sdist of octo-pkg 1.0\n"
SHA = hashlib.sha256(CONTENT).hexdigest()
OTHER_SHA = hashlib.sha256(b"some other build\n").hexdigest()


@pytest.fixture
def served(index_server, tmp_path):
    """The index serving octo-pkg 1.0 with real provenance; returns (server, trust root)."""
    sig = VirtualSigstore(seed=503)
    provenance = sig.mint_provenance(FILENAME, SHA, GitHubIdentity(repository="octo/pkg"))
    index_server.add_file(PROJECT, FILENAME, content=CONTENT, provenance=provenance)
    return index_server, sig.write_trusted_root(tmp_path / "trusted_root.json")


def _enrich(server, root, tmp_path, component: dict[str, Any]) -> dict[str, str]:
    sbom = write_json(tmp_path / "in.json", cdx([component]))
    out = tmp_path / "out.json"
    enrich_cli(sbom, out, server.index_url, "--no-cache", "--drift-depth", "0", trust_root=root)
    return props(json.loads(out.read_text())["components"][0])


# -- malformed digests on the index ---------------------------------------------------


@pytest.mark.parametrize(
    ("digest", "problem"),
    [
        ("", "the index gives no sha256"),
        ("zz" * 32, "not hexadecimal"),
        ("ab" * 31, "62 hex digits, not 64"),
        (SHA + "00", "66 hex digits, not 64"),
        (12345, "not a string"),
    ],
)
def test_a_malformed_index_digest_is_unknown_not_invalid(served, tmp_path, digest, problem):
    server, root = served
    server.add_file(
        PROJECT,
        FILENAME,
        content=CONTENT,
        provenance=server.files(PROJECT)[0].provenance,
        extra={"hashes": {"sha256": digest}},
    )
    p = _enrich(server, root, tmp_path, pypi(PROJECT, VERSION))
    assert p["bomguard:provenance:status"] == "unknown"
    assert p["bomguard:provenance:file"] == f"{FILENAME} unknown"
    assert problem in p["bomguard:provenance:reason"]


def test_hashes_that_are_not_an_object_are_unknown(served, tmp_path):
    server, root = served
    server.add_file(
        PROJECT,
        FILENAME,
        content=CONTENT,
        provenance=server.files(PROJECT)[0].provenance,
        extra={"hashes": ["sha256", SHA]},
    )
    p = _enrich(server, root, tmp_path, pypi(PROJECT, VERSION))
    assert p["bomguard:provenance:status"] == "unknown"
    assert "not a JSON object" in p["bomguard:provenance:reason"]


def test_an_empty_digest_in_an_html_page_is_unknown(served, tmp_path):
    server, root = served
    entry = server.files(PROJECT)[0]
    html = (
        f'<html><body><a href="{entry.file_url}#sha256=" '
        f'data-provenance="{entry.provenance_url}">{FILENAME}</a></body></html>'
    ).encode()
    server.fault(f"/simple/{PROJECT}/", body=html, headers={"Content-Type": "text/html"})
    p = _enrich(server, root, tmp_path, pypi(PROJECT, VERSION))
    assert p["bomguard:provenance:status"] == "unknown"
    assert "the index gives no sha256" in p["bomguard:provenance:reason"]


def test_an_upper_case_digest_is_still_a_digest(served, tmp_path):
    server, root = served
    server.add_file(
        PROJECT,
        FILENAME,
        content=CONTENT,
        provenance=server.files(PROJECT)[0].provenance,
        extra={"hashes": {"sha256": SHA.upper()}},
    )
    p = _enrich(server, root, tmp_path, pypi(PROJECT, VERSION))
    assert p["bomguard:provenance:status"] == "verified"


# -- the SBOM's component-level hash ---------------------------------------------------


def _hashed(sha: str) -> dict[str, Any]:
    return pypi(PROJECT, VERSION, hashes=[{"alg": "SHA-256", "content": sha}])


def test_a_component_hash_that_matches_no_file_is_invalid(served, tmp_path):
    server, root = served
    p = _enrich(server, root, tmp_path, _hashed(OTHER_SHA))
    assert p["bomguard:provenance:status"] == "invalid"
    assert f"the SBOM's sha256 {OTHER_SHA} matches no file" in p["bomguard:provenance:reason"]
    # The same hash of a file the release has is that file, verified.
    assert _enrich(server, root, tmp_path, _hashed(SHA))["bomguard:provenance:status"] == (
        "verified"
    )


def test_a_component_hash_is_only_unknown_when_the_index_gives_no_digest(served, tmp_path):
    server, root = served
    server.add_file(
        PROJECT,
        FILENAME,
        content=CONTENT,
        provenance=server.files(PROJECT)[0].provenance,
        extra={"hashes": {}},
    )
    p = _enrich(server, root, tmp_path, _hashed(OTHER_SHA))
    assert p["bomguard:provenance:status"] == "unknown"


def test_an_spdx_package_checksum_that_matches_no_file_is_invalid(served, tmp_path):
    server, root = served
    doc = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "app",
        "documentNamespace": "https://example.com/spdx/app",
        "creationInfo": {"created": "2026-11-25T00:00:00Z", "creators": ["Tool: test"]},
        "packages": [
            {
                "SPDXID": "SPDXRef-octo",
                "name": PROJECT,
                "versionInfo": VERSION,
                "downloadLocation": "NOASSERTION",
                "checksums": [{"algorithm": "SHA256", "checksumValue": OTHER_SHA}],
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": f"pkg:pypi/{PROJECT}@{VERSION}",
                    }
                ],
            }
        ],
    }
    sbom = write_json(tmp_path / "in.spdx.json", doc)
    out, verdict = tmp_path / "out.spdx.json", tmp_path / "verdict.json"
    code = enrich_cli(
        sbom, out, server.index_url, "--no-cache", "--verdict", str(verdict), trust_root=root
    )
    assert code == 1  # the default policy fails on invalid provenance
    assert json.loads(verdict.read_text())["counts"]["invalid"] == 1
    assert "matches no file of this release" in out.read_text()


# -- malformed index URLs --------------------------------------------------------------


BAD_URLS = ["ht!tp://x", "http://[::1", "ftp://host/simple/", "", "http://host:99999/simple/"]


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, naming: str) -> None:
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("bomguard: error: ")
    assert naming in err
    assert "Traceback" not in err


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_malformed_index_url_is_a_one_line_usage_error(served, tmp_path, capsys, url):
    server, _ = served
    sbom = write_json(tmp_path / "in.json", cdx([pypi(PROJECT, VERSION)]))
    code = run_cli(["enrich", str(sbom), "--index-url", url, "--trust-root", "embedded"])
    _one_line_error(capsys, code, "--index-url")
    code = run_cli(["enrich", str(sbom), "--index-url", server.index_url, "--extra-index-url", url])
    _one_line_error(capsys, code, "--extra-index-url")
    code = run_cli(["fetch", str(sbom), "--into", str(tmp_path / "m"), "--index-url", url])
    _one_line_error(capsys, code, "--index-url")
    assert server.requests == []  # refused before any work
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("url", [u for u in BAD_URLS if u])  # an empty variable is unset
def test_a_malformed_index_url_in_the_environment_is_a_usage_error(
    served, tmp_path, capsys, monkeypatch, url
):
    sbom = write_json(tmp_path / "in.json", cdx([pypi(PROJECT, VERSION)]))
    monkeypatch.setenv("BOMGUARD_INDEX_URL", url)
    code = run_cli(["enrich", str(sbom), "--trust-root", "embedded"])
    _one_line_error(capsys, code, "BOMGUARD_INDEX_URL (for --index-url)")


def test_a_malformed_index_url_given_to_the_library_is_an_input_error():
    from bomguard.errors import InputError
    from bomguard.index import IndexOptions

    with pytest.raises(InputError, match="must be an http"):
        IndexOptions(index_url="ftp://host/simple/")
    with pytest.raises(InputError, match="not a valid URL"):
        IndexOptions(extra_index_urls=("http://[::1",))


def test_credentials_in_a_malformed_url_are_not_printed(tmp_path, capsys):
    sbom = write_json(tmp_path / "in.json", cdx([pypi(PROJECT, VERSION)]))
    code = run_cli(["enrich", str(sbom), "--index-url", "http://alice:s3cr3t@[::1/simple/"])
    assert code == 2
    assert "s3cr3t" not in capsys.readouterr().err
