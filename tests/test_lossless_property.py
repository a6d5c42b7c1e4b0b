"""Property: enriching never loses or changes a field of the input (CycloneDX and SPDX JSON)."""

from __future__ import annotations

import json

from helpers import strip_additions, walk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bomguard.models import ComponentEvidence, FileEvidence, Status
from bomguard.sbom import parse_sbom
from bomguard.sbom.properties import addition_for

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
EXTRA = st.dictionaries(st.text(min_size=1, max_size=6).map(lambda k: "x-" + k), JSON, max_size=3)
# Valid project names (PEP 508): a purl naming anything else is not looked up.
NAMES = st.from_regex(r"[A-Za-z]([A-Za-z0-9._-]{0,9}[A-Za-z0-9])?", fullmatch=True)
VERSIONS = st.from_regex(r"[0-9]{1,2}(\.[0-9]{1,2}){0,2}", fullmatch=True)
STATUSES = st.sampled_from([s for s in Status if s is not Status.NOT_APPLICABLE])


def _evidence(status: Status) -> ComponentEvidence:
    f = FileEvidence("x-1.0.tar.gz", "ab" * 32, status, "why", provenance_url="https://i.example/p")
    return ComponentEvidence(status, "why", (f,))


@st.composite
def cyclonedx(draw):
    components = []
    for _ in range(draw(st.integers(1, 4))):
        name, version = draw(NAMES), draw(VERSIONS)
        comp = {
            "type": "library",
            "name": name,
            "version": version,
            "purl": f"pkg:pypi/{name}@{version}",
        }
        comp.update(draw(EXTRA))
        if draw(st.booleans()):
            comp["properties"] = [{"name": "other:thing", "value": draw(st.text(max_size=5))}]
        if draw(st.booleans()):
            comp["components"] = [{"type": "library", "name": "inner", **draw(EXTRA)}]
        components.append(comp)
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": draw(st.sampled_from(["1.4", "1.5", "1.6"])),
        "version": 1,
        "components": components,
    }
    doc.update(draw(EXTRA))
    return doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=cyclonedx(), status=STATUSES)
def test_cyclonedx_enrichment_keeps_every_field(doc, status):
    raw = json.dumps(doc).encode()
    sbom = parse_sbom(raw)
    sbom.enrich({c.locator: addition_for(_evidence(status)) for c in sbom.components() if c.pypi})
    out = json.loads(sbom.serialize())
    assert strip_additions(out, doc) == doc
    pypi = [c for c in walk(out) if str(c.get("purl", "")).startswith("pkg:pypi/")]
    assert all(
        any(p["name"] == "bomguard:provenance:status" for p in c["properties"]) for c in pypi
    )


@st.composite
def spdx(draw):
    packages = []
    for i in range(draw(st.integers(1, 4))):
        name, version = draw(NAMES), draw(VERSIONS)
        pkg = {
            "SPDXID": f"SPDXRef-Package-{i}",
            "name": name,
            "versionInfo": version,
            "downloadLocation": "NOASSERTION",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": f"pkg:pypi/{name}@{version}",
                }
            ],
        }
        pkg.update(draw(EXTRA))
        packages.append(pkg)
    doc = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "doc",
        "documentNamespace": "https://example.invalid/doc",
        "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: test"]},
        "packages": packages,
    }
    doc.update(draw(EXTRA))
    return doc


def _strip_spdx(out, original):
    for pkg, before in zip(out["packages"], original["packages"], strict=True):
        for key in ("annotations", "externalRefs"):
            if key in pkg:
                kept = [
                    x
                    for x in pkg[key]
                    if not (
                        str(x.get("annotator", "")).startswith("Tool: bomguard")
                        or x.get("referenceType") == "attestation"
                    )
                ]
                if kept or key in before:
                    pkg[key] = kept
                else:
                    del pkg[key]
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=spdx(), status=STATUSES)
def test_spdx_enrichment_keeps_every_field(doc, status):
    sbom = parse_sbom(json.dumps(doc).encode())
    components = [c for c in sbom.components() if c.pypi]
    assert len(components) == len(doc["packages"])
    sbom.enrich({c.locator: addition_for(_evidence(status)) for c in components})
    out = json.loads(sbom.serialize())
    assert _strip_spdx(out, doc) == doc
