"""Real SBOMs from real generators: every field survives, and the output validates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import enrich_cli, props, run_cli, strip_additions, walk
from packageurl import PackageURL

from bomguard.sbom import parse_sbom

DATA = Path(__file__).parent / "data"
REAL_SBOMS = sorted(
    p
    for folder in ("sboms", "sboms-generated")
    for p in (DATA / folder).glob("*.json")
    if json.loads(p.read_text()).get("bomFormat") == "CycloneDX"
)


def _serve_every_release(server, doc):
    """Put every PyPI release the SBOM names on the index, alternately with and without PEP 740."""
    seen = set()
    for i, comp in enumerate(walk(doc)):
        purl = comp.get("purl", "")
        if not purl.startswith("pkg:pypi/"):
            continue
        parsed = PackageURL.from_string(purl)
        name, version = parsed.name, parsed.version
        if not version:
            continue
        if (name, version) in seen:
            continue
        seen.add((name, version))
        stem = f"{name.replace('-', '_')}-{version}"
        # The files whose hashes the SBOM records (a hash no file has would be invalid).
        hashes = [*comp.get("hashes", [])]
        for ref in comp.get("externalReferences", []):
            if ref.get("type") == "distribution":
                hashes.extend(ref.get("hashes", []))
        shas = sorted(
            {
                h["content"].lower()
                for h in hashes
                if h.get("alg") == "SHA-256" and isinstance(h.get("content"), str)
            }
        )
        files = [(f"{stem}-{j}-py3-none-any.whl", sha) for j, sha in enumerate(shas)]
        for filename, sha in files or [(f"{stem}.tar.gz", f"{i:064x}")]:
            server.add_file(name, filename, sha256=sha, provenance=None, provenance_key=i % 2 == 0)


def test_there_are_real_sboms_to_check():
    assert len(REAL_SBOMS) >= 10


@pytest.mark.parametrize("sbom", REAL_SBOMS, ids=lambda p: p.name)
def test_real_sbom_round_trips_losslessly_and_validates(sbom, index_server, tmp_path):
    original = json.loads(sbom.read_text())
    _serve_every_release(index_server, original)
    out = tmp_path / "out.json"
    code = enrich_cli(sbom, out, index_server.index_url, "--validate-output")
    assert code == 0
    enriched = json.loads(out.read_text())
    # Nothing of the input was lost or changed: the output minus our additions is the input.
    assert strip_additions(enriched, original) == original
    # Every PyPI component got a status; nothing else did.
    for comp in walk(enriched):
        p = props(comp)
        if comp.get("purl", "").startswith("pkg:pypi/"):
            assert p["bomguard:provenance:status"] in {"absent", "unknown"}, comp["name"]
        else:
            assert not any(k.startswith("bomguard:") for k in p)
    # The output validates against the official schema of the input's spec version.
    assert parse_sbom(out.read_bytes(), out).validate() is None


def test_validation_catches_a_broken_document(tmp_path):
    doc = json.loads((DATA / "sboms-generated" / "cdxpy-env_app_cdx1.6.json").read_text())
    doc["components"][0]["externalReferences"].append({"type": "not-a-type", "url": "x"})
    problem = parse_sbom(json.dumps(doc).encode()).validate()
    assert problem is not None and "not-a-type" in problem


@pytest.mark.parametrize("iri", ["https://example.com/%zz", "http://[::1", "a#b#c"])
def test_validate_output_refuses_what_the_official_validators_refuse(iri, tmp_path, capsys):
    """Full RFC 3987 checks: an IRI only a lenient check would pass fails --validate-output."""
    doc = json.loads((DATA / "sboms-generated" / "cdxpy-env_app_cdx1.6.json").read_text())
    doc["components"] = [c for c in doc["components"] if not c["purl"].startswith("pkg:pypi/")]
    doc["components"].append(
        {
            "type": "library",
            "name": "left-pad",
            "purl": "pkg:npm/left-pad@1.0.0",
            "externalReferences": [{"type": "website", "url": iri}],
        }
    )
    sbom = tmp_path / "in.cdx.json"
    sbom.write_text(json.dumps(doc))
    out = tmp_path / "out.json"
    args = ["enrich", str(sbom), "-o", str(out), "--trust-root", "embedded"]
    assert run_cli([*args, "--validate-output"]) == 3
    assert "does not validate" in capsys.readouterr().err
    assert not out.exists()
    assert run_cli(args) == 0  # without --validate-output it is written as it came


def test_validation_of_the_largest_real_sbom_is_correct():
    """The real SBOM with the most URLs validates (jsonschema-rs; see bench/ for its speed)."""
    sbom = DATA / "sboms" / "cdxpy__poetry_plain_private-packges_v2_lock21_1.6.json"
    assert parse_sbom(sbom.read_bytes(), sbom).validate() is None
