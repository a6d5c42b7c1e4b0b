"""The dependency graph of real generators' SBOMs, in every format, against an independent walk.

Each document's relationships are read here again, straight from the document (JSON, XML,
tag-value lines, RDF triples), and walked with plain breadth- and depth-first searches; the
graph facts bomguard computes must agree for every component.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import deque
from pathlib import Path
from typing import Any

import pytest
import yaml

from bomguard.sbom import read_sbom
from bomguard.sbom.graph import build_graph

DATA = Path(__file__).parent / "data"

# (fixture, how its relationships are read independently)
GRAPHS = [
    ("sboms-generated/cdxpy-env_app_cdx1.6.json", "cdx-json"),
    ("sboms-generated/cdxpy-env_app_cdx1.4.xml", "cdx-xml"),
    ("sboms-generated/cdxpy-env_app_cdx1.6.xml", "cdx-xml"),
    ("sboms-generated/sbom4python_sigstore_cdx.json", "cdx-json"),
    ("sboms/cdxpy__environment_plain_with-extras_1.6.json", "cdx-json"),
    ("sboms/cdxpy__poetry_plain_private-packges_v2_lock21_1.6.json", "cdx-json"),
    ("sboms/cdxpy__poetry_plain_with-urls_lock21_1.5.xml", "cdx-xml"),
    ("sboms/trivy-fixture__pywin32-cyclonedx.json", "cdx-json"),
    ("sboms-generated/sbom4python_sigstore_spdx.spdx.json", "spdx-json"),
    ("sboms-generated/sbom4python_fastapi_spdx.spdx.json", "spdx-json"),
    ("sboms/bomshelter__trivy_bitnami-airflow.spdx22.json", "spdx-json"),
    ("sboms-generated/sbom4python_sigstore_spdx.spdx", "spdx-tv"),
    ("sboms-generated/spdxtools_fastapi_from-sbom4python.spdx", "spdx-tv"),
    ("sboms-generated/spdxtools_fastapi_from-sbom4python.rdf.xml", "spdx-rdf"),
    ("sboms/spdx-examples__ai-example01-simplehtr.spdx3.jsonld.json", "spdx3"),
]

NO_GRAPH = [
    "sboms-generated/cdxpy-req_app_cdx1.6.json",  # requirements: no dependsOn at all
    "sboms/bomshelter__syft_datadog-agent-amd64.spdx23.json",  # DESCRIBES only
    "sboms/bomshelter__grype-sbom.spdx",  # no relationships
    "sboms/cdxpy__requirements_file_with-hashes_1.5.json",
]


def _cdx_json(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    doc = json.loads(path.read_text())
    edges = [(d["ref"], t) for d in doc.get("dependencies", []) for t in d.get("dependsOn", [])]
    root = doc.get("metadata", {}).get("component", {}).get("bom-ref")
    return edges, [root] if root else []


def _cdx_xml(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    root = ET.parse(path).getroot()
    ns = root.tag.split("}")[0] + "}"
    edges = [
        (d.get("ref", ""), c.get("ref", ""))
        for d in root.iter(ns + "dependency")
        for c in d.findall(ns + "dependency")
    ]
    top = root.find(f"{ns}metadata/{ns}component")
    return edges, [top.get("bom-ref", "")] if top is not None else []


def _spdx_triples(triples: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    edges, roots = [], []
    for a, kind, b in triples:
        if kind in ("DESCRIBES", "DESCRIBE"):
            roots.append(b)
        elif kind in ("DEPENDS_ON", "CONTAINS"):
            edges.append((a, b))
        elif kind.endswith("DEPENDENCY_OF") or kind == "CONTAINED_BY":
            edges.append((b, a))
    return edges, roots


def _spdx_json(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    doc = json.loads(path.read_text())
    triples = [
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
        for r in doc.get("relationships", [])
    ]
    edges, roots = _spdx_triples(triples)
    return edges, roots + list(doc.get("documentDescribes", []))


def _spdx_tv(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    found = re.findall(r"^Relationship:\s*(\S+)\s+(\S+)\s+(\S+)", path.read_text(), re.M)
    return _spdx_triples(found)


def _spdx_rdf(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    import rdflib

    graph = rdflib.Graph()
    graph.parse(path, format="xml")
    spdx = "http://spdx.org/rdf/terms#"
    triples = []
    for subject, rel in graph.subject_objects(rdflib.URIRef(spdx + "relationship")):
        kind = str(graph.value(rel, rdflib.URIRef(spdx + "relationshipType"))).split("_", 1)[1]
        target = graph.value(rel, rdflib.URIRef(spdx + "relatedSpdxElement"))
        upper = re.sub("([A-Z])", r"_\1", kind).upper()
        triples.append((str(subject).split("#")[-1], upper, str(target).split("#")[-1]))
    return _spdx_triples(triples)


def _spdx3(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    elements = json.loads(path.read_text())["@graph"]
    edges = [
        (e["from"], t)
        for e in elements
        if e.get("type") in ("Relationship", "LifecycleScopedRelationship")
        and e.get("relationshipType") in ("dependsOn", "contains")
        for t in e["to"]
    ]
    sboms = [e for e in elements if e.get("type") == "software_Sbom"]
    return edges, [r for s in sboms for r in s["rootElement"]]


READERS = {
    "cdx-json": _cdx_json,
    "cdx-xml": _cdx_xml,
    "spdx-json": _spdx_json,
    "spdx-tv": _spdx_tv,
    "spdx-rdf": _spdx_rdf,
    "spdx3": _spdx3,
}


def _reach(start: str, children: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(children[start])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(children[node])
    return seen


def independent_walk(
    ids: list[str], edges: list[tuple[str, str]], roots: list[str]
) -> dict[str, tuple[int | None, int]]:
    """Per id: (depth, dependents), by plain searches over the edges between components."""
    known = set(ids)
    children: dict[str, set[str]] = {i: set() for i in ids}
    for a, b in edges:
        if a in known and b in known and a != b:
            children[a].add(b)
    reach = {i: _reach(i, children) for i in ids}
    roots = [r for r in roots if r in known]
    if roots:
        level = dict.fromkeys(roots, 0)
    else:
        # Top level: everything that reaches it is also reached by it (nothing outside its
        # own cycle depends on it).
        level = {v: 1 for v in ids if all(u in reach[v] for u in ids if v in reach[u])}
    queue = deque(level)
    while queue:
        node = queue.popleft()
        for child in children[node]:
            if child not in level:
                level[child] = level[node] + 1
                queue.append(child)
    return {
        v: (level.get(v), sum(1 for u in ids if u != v and u not in roots and v in reach[u]))
        for v in ids
    }


@pytest.mark.parametrize(("name", "reader"), GRAPHS, ids=[g[0] for g in GRAPHS])
def test_graph_facts_match_an_independent_walk(name: str, reader: str) -> None:
    path = DATA / name
    document = read_sbom(path)
    components = document.components()
    graph = build_graph(components, document.relationships())
    assert graph is not None
    ids = list(dict.fromkeys(c.bom_ref for c in components if c.bom_ref))
    edges, roots = READERS[reader](path)
    expected = independent_walk(ids, edges, roots)
    locator = {}
    for c in components:
        locator.setdefault(c.bom_ref, c.locator)
    checked = 0
    for ref, (depth, dependents) in expected.items():
        facts = graph.facts[locator[ref]]
        assert (facts.depth, facts.dependents) == (depth, dependents), ref
        assert facts.direct == (depth == 1), ref
        if depth is not None and depth > 0:
            assert facts.paths and all(len(p) == depth + (1 if roots else 0) for p in facts.paths)
        checked += 1
    assert checked == len(ids) > 1
    # Something is direct, and something sits deeper, in every one of these graphs.
    assert any(f.direct for f in graph.facts.values())


def test_spdx_yaml_reads_the_same_graph_as_spdx_json(tmp_path: Path) -> None:
    source = DATA / "sboms-generated/sbom4python_sigstore_spdx.spdx.json"
    as_yaml = tmp_path / "sigstore.spdx.yaml"
    as_yaml.write_text(yaml.safe_dump(json.loads(source.read_text()), sort_keys=False))
    graphs = []
    for path in (source, as_yaml):
        document = read_sbom(path)
        graph = build_graph(document.components(), document.relationships())
        assert graph is not None
        graphs.append({graph.names[loc]: f for loc, f in graph.facts.items()})
    assert graphs[0] == graphs[1]
    assert graphs[1]["sigstore"].depth == 0


@pytest.mark.parametrize("name", NO_GRAPH)
def test_an_sbom_without_relationships_has_no_graph(name: str) -> None:
    document = read_sbom(DATA / name)
    assert build_graph(document.components(), document.relationships()) is None


def test_a_real_cycle_without_a_root_is_the_top_level() -> None:
    """cyclonedx-py's environment SBOM: sigstore -> tuf -> securesystemslib -> sigstore."""
    document = read_sbom(DATA / "sboms-generated/cdxpy-env_app_cdx1.6.json")
    graph = build_graph(document.components(), document.relationships())
    assert graph is not None and not graph.rooted
    facts = {graph.names[loc]: f for loc, f in graph.facts.items()}
    for name in ("sigstore", "tuf", "securesystemslib"):
        assert facts[name].direct, name
        # The other two members of the cycle reach it; nothing else does.
        assert facts[name].dependents == 2, name
    assert facts["cryptography"].depth == 2
    assert not facts["cryptography"].direct


def test_a_cycle_below_the_root_terminates_and_counts_each_component_once(tmp_path: Path) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "app", "bom-ref": "app"}},
        "components": [
            {"type": "library", "name": n, "bom-ref": n, "purl": f"pkg:pypi/{n}@1.0"}
            for n in ("a", "b", "c", "d")
        ],
        "dependencies": [
            {"ref": "app", "dependsOn": ["a"]},
            {"ref": "a", "dependsOn": ["b"]},
            {"ref": "b", "dependsOn": ["c"]},
            {"ref": "c", "dependsOn": ["a", "d"]},
        ],
    }
    path = tmp_path / "cycle.cdx.json"
    path.write_text(json.dumps(doc))
    document = read_sbom(path)
    graph = build_graph(document.components(), document.relationships())
    assert graph is not None
    facts = {graph.names[loc]: f for loc, f in graph.facts.items()}
    assert [facts[n].depth for n in ("app", "a", "b", "c", "d")] == [0, 1, 2, 3, 4]
    # a, b and c reach each other; the root is not counted.
    assert [facts[n].dependents for n in ("a", "b", "c", "d")] == [2, 2, 2, 3]
    assert facts["d"].paths == (("app", "a", "b", "c", "d"),)


def test_a_component_reachable_two_ways_has_both_shortest_paths() -> None:
    """sbom4python's sigstore: typing-extensions comes through pydantic and sigstore-models."""
    path = DATA / "sboms-generated/sbom4python_sigstore_spdx.spdx.json"
    document = read_sbom(path)
    components = document.components()
    graph = build_graph(components, document.relationships())
    assert graph is not None
    facts = {graph.names[loc]: f for loc, f in graph.facts.items()}
    typing = facts["typing-extensions"]
    assert typing.depth == 2
    assert set(typing.paths) == {
        ("sigstore", "pydantic", "typing-extensions"),
        ("sigstore", "sigstore-models", "typing-extensions"),
    }
    # Everything that reaches it (the root aside) is counted once, however many ways.
    walked = independent_walk([c.bom_ref or "" for c in components], *_spdx_json(path))
    ref = next(c.bom_ref for c in components if c.name == "typing-extensions")
    assert typing.dependents == walked[ref or ""][1] >= 3


def test_scopes_from_spdx_dependency_kinds(tmp_path: Path) -> None:
    doc: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "x",
        "dataLicense": "CC0-1.0",
        "documentNamespace": "https://example.invalid/x",
        "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: t"]},
        "packages": [
            {"SPDXID": f"SPDXRef-{n}", "name": n, "downloadLocation": "NOASSERTION"}
            for n in ("app", "web", "pytest", "pluggy", "shared")
        ],
        "relationships": [
            {
                "spdxElementId": "SPDXRef-DOCUMENT",
                "relationshipType": "DESCRIBES",
                "relatedSpdxElement": "SPDXRef-app",
            },
            {
                "spdxElementId": "SPDXRef-web",
                "relationshipType": "RUNTIME_DEPENDENCY_OF",
                "relatedSpdxElement": "SPDXRef-app",
            },
            {
                "spdxElementId": "SPDXRef-pytest",
                "relationshipType": "DEV_DEPENDENCY_OF",
                "relatedSpdxElement": "SPDXRef-app",
            },
            {
                "spdxElementId": "SPDXRef-pytest",
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": "SPDXRef-pluggy",
            },
            {
                "spdxElementId": "SPDXRef-pytest",
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": "SPDXRef-shared",
            },
            {
                "spdxElementId": "SPDXRef-web",
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": "SPDXRef-shared",
            },
        ],
    }
    path = tmp_path / "scoped.spdx.json"
    path.write_text(json.dumps(doc))
    document = read_sbom(path)
    graph = build_graph(document.components(), document.relationships())
    assert graph is not None
    scope = {graph.names[loc]: f.scope for loc, f in graph.facts.items()}
    # pluggy is only reached through a dev dependency; shared at runtime too.
    assert scope == {
        "app": None,
        "web": "runtime",
        "pytest": "dev",
        "pluggy": "dev",
        "shared": "runtime",
    }


def test_spdx3_lifecycle_scoped_relationships_give_the_scope(tmp_path: Path) -> None:
    """The SPDX 3 example, with a test-scoped and a runtime-scoped dependency added."""
    doc = json.loads(
        (DATA / "sboms/spdx-examples__ai-example01-simplehtr.spdx3.jsonld.json").read_text()
    )
    tensorflow = "https://pypi.org/project/tensorflow/2.4.0/"
    for name in ("pytest-mock", "absl-py"):
        doc["@graph"].append(
            {
                "type": "software_Package",
                "spdxId": f"https://example.invalid/{name}",
                "creationInfo": "_:creationinfo",
                "name": name,
                "software_packageVersion": "1.0",
                "software_packageUrl": f"pkg:pypi/{name}@1.0",
            }
        )
    for name, scope in (("pytest-mock", "test"), ("absl-py", "runtime")):
        doc["@graph"].append(
            {
                "type": "LifecycleScopedRelationship",
                "spdxId": f"https://example.invalid/{name}-rel",
                "creationInfo": "_:creationinfo",
                "relationshipType": "dependsOn",
                "from": tensorflow,
                "to": [f"https://example.invalid/{name}"],
                "scope": scope,
            }
        )
    path = tmp_path / "scoped.spdx3.json"
    path.write_text(json.dumps(doc))
    document = read_sbom(path)
    graph = build_graph(document.components(), document.relationships())
    assert graph is not None
    facts = {graph.names[loc]: f for loc, f in graph.facts.items()}
    assert (facts["pytest-mock"].depth, facts["pytest-mock"].scope) == (2, "test")
    assert (facts["absl-py"].depth, facts["absl-py"].scope) == (2, "runtime")
    assert facts["absl-py"].paths == (("SimpleHTR", "tensorflow", "absl-py"),)
    assert facts["tensorflow"].scope is None  # reached without a stated scope
