"""CycloneDX 1.6 declarations carry the evidence; 'bomguard verify' re-checks it offline."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from helpers import by_name, cdx, enrich_cli, props, pypi, run_cli, strip_additions, write_json

from bomguard.sbom import parse_sbom

ROOT = Path(__file__).parent.parent


@pytest.fixture
def enriched(real_index, tmp_path):
    """An enriched CycloneDX 1.6 SBOM over real provenance, and its input."""
    server, registered = real_index
    server.add_file("cryptography", "cryptography-50.0.2.tar.gz", sha256="ab" * 32, provenance=None)
    doc = cdx(
        [*(pypi(r.project, r.version) for r in registered.values()), pypi("cryptography", "50.0.2")]
    )
    sbom = write_json(tmp_path / "in.json", doc)
    out = tmp_path / "out.json"
    code = enrich_cli(
        sbom,
        out,
        server.index_url,
        "--no-cache",
        "--policy",
        str(ROOT / "policies" / "trusted-publisher-critical.yaml"),
    )
    assert code == 1  # cryptography is critical and not attested
    return doc, out, server


def _verify(path, capsys):
    code = run_cli(["verify", str(path), "--trust-root", "embedded"])
    return code, capsys.readouterr().err


def test_declarations_carry_the_evidence_and_validate(enriched):
    original, out, _ = enriched
    data = json.loads(out.read_text())
    assert parse_sbom(out.read_bytes(), out).validate() is None
    assert strip_additions(data, original) == original
    declarations = data["declarations"]
    assert declarations["assessors"][0]["bom-ref"] == "bomguard:assessor"
    claims = {c["target"]: c for c in declarations["claims"]}
    claim = claims["pkg:pypi/sigstore@3.6.1"]
    assert (
        "Trusted Publisher GitHub from workflow release.yml of sigstore/sigstore-python"
        in claim["predicate"]
    )
    evidence = {e["bom-ref"]: e for e in declarations["evidence"]}
    [item] = evidence[claim["evidence"][0]]["data"]
    assert item["name"].startswith("sigstore-3.6.1.tar.gz sha256:")
    attached = base64.b64decode(item["contents"]["attachment"]["content"])
    assert json.loads(attached)["attestation_bundles"]
    standards = data["definitions"]["standards"]
    assert standards[0]["name"] == "trusted-publisher-critical"
    requirement = next(
        m
        for m in declarations["attestations"][0]["map"]
        if m["requirement"].endswith(":critical-attested")
    )
    assert claims["pkg:pypi/cryptography@50.0.2"]["bom-ref"] in requirement["counterClaims"]
    assert claim["bom-ref"] in requirement["claims"]
    assert 0 < requirement["conformance"]["score"] < 1


def test_untouched_sbom_reverifies_offline(enriched, capsys):
    _, out, server = enriched
    server.close()  # nothing from the index is needed
    code, err = _verify(out, capsys)
    assert code == 0, err
    assert "0 differ from the record" in err


def _edit(out: Path, mutate) -> Path:
    data = json.loads(out.read_text())
    mutate(data)
    out.write_text(json.dumps(data))
    return out


def _sigstore_item(data):
    claim = next(
        c for c in data["declarations"]["claims"] if c.get("target") == "pkg:pypi/sigstore@3.6.1"
    )
    evidence = next(
        e for e in data["declarations"]["evidence"] if e["bom-ref"] == claim["evidence"][0]
    )
    return evidence["data"][0]


def test_altered_embedded_evidence_fails(enriched, capsys):
    _, out, _ = enriched

    def flip(data):
        item = _sigstore_item(data)
        prov = json.loads(base64.b64decode(item["contents"]["attachment"]["content"]))
        att = prov["attestation_bundles"][0]["attestations"][0]
        sig = bytearray(base64.b64decode(att["envelope"]["signature"]))
        sig[5] ^= 1
        att["envelope"]["signature"] = base64.b64encode(bytes(sig)).decode()
        item["contents"]["attachment"]["content"] = base64.b64encode(
            json.dumps(prov).encode()
        ).decode()

    code, err = _verify(_edit(out, flip), capsys)
    assert code == 1
    assert "FAIL: pkg:pypi/sigstore@3.6.1: recorded verified, now invalid" in err


def test_altered_recorded_digest_fails(enriched, capsys):
    _, out, _ = enriched

    def redigest(data):
        item = _sigstore_item(data)
        item["name"] = item["name"].rsplit("sha256:", 1)[0] + "sha256:" + "0" * 64

    code, err = _verify(_edit(out, redigest), capsys)
    assert code == 1
    assert "pkg:pypi/sigstore@3.6.1: recorded verified, now invalid" in err


def test_verified_without_embedded_evidence_cannot_prove_itself(enriched, capsys):
    _, out, _ = enriched
    code, err = _verify(_edit(out, lambda d: d.pop("declarations")), capsys)
    assert code == 1
    assert "no provenance is embedded" in err


def test_no_embed_links_instead(real_index, tmp_path, capsys):
    server, _ = real_index
    sbom = write_json(tmp_path / "in.json", cdx([pypi("sigstore", "3.6.1")]))
    out = tmp_path / "out.json"
    enrich_cli(sbom, out, server.index_url, "--no-cache", "--no-embed-evidence")
    data = json.loads(out.read_text())
    [item] = data["declarations"]["evidence"][0]["data"]
    assert item["contents"] == {
        "url": server.provenance_url("sigstore", "3.6.1", "sigstore-3.6.1.tar.gz")
    }
    assert parse_sbom(out.read_bytes(), out).validate() is None
    code, _ = _verify(out, capsys)
    assert code == 1


def test_re_enrichment_replaces_its_own_declarations(enriched, real_index, tmp_path):
    original, out, server = enriched
    again = tmp_path / "again.json"
    enrich_cli(out, again, server.index_url, "--no-cache")
    first, second = json.loads(out.read_text()), json.loads(again.read_text())
    assert len(second["declarations"]["claims"]) == len(first["declarations"]["claims"])
    assert len(second["declarations"]["assessors"]) == 1
    assert strip_additions(second, original, runs=2) == original
    assert props(by_name(second)["sigstore"])["bomguard:provenance:status"] == "verified"


def test_older_spec_versions_get_no_declarations(real_index, tmp_path):
    server, _ = real_index
    sbom = write_json(tmp_path / "in.json", cdx([pypi("sigstore", "3.6.1")], spec="1.5"))
    out = tmp_path / "out.json"
    enrich_cli(sbom, out, server.index_url, "--no-cache", "--validate-output")
    assert "declarations" not in json.loads(out.read_text())


def test_verify_refuses_an_sbom_bomguard_never_enriched(tmp_path, capsys):
    sbom = write_json(tmp_path / "plain.json", cdx([pypi("sigstore", "3.6.1")]))
    code, err = _verify(sbom, capsys)
    assert code == 2
    assert "not enriched" in err
