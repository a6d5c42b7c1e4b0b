"""Cost of the dependency graph: building it, and evaluating a graph policy with and without it.

Run on demand (not part of the test suite), from the repository root:

    python bench/graph.py

It reads the largest graph among the test SBOMs (Trivy's 722-component airflow image) and
a synthetic 5,000-component CycloneDX graph, and evaluates ``policies/critical-graph.yaml``
with both CEL engines (the cpp one only when cel-expr-python is installed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bomguard.models import ComponentEvidence, Status  # noqa: E402
from bomguard.policy import evaluate, load_policies  # noqa: E402
from bomguard.policy.cel_engines import cpp_available  # noqa: E402
from bomguard.sbom import parse_sbom, read_sbom  # noqa: E402
from bomguard.sbom.graph import build_graph  # noqa: E402


def synthetic(n: int) -> bytes:
    """A root with 50 direct dependencies, each component depending on two further ones."""
    components = [
        {"type": "library", "name": f"p{i}", "bom-ref": f"p{i}", "purl": f"pkg:pypi/p{i}@1.0"}
        for i in range(n)
    ]
    dependencies = [{"ref": "app", "dependsOn": [f"p{i}" for i in range(50)]}] + [
        {"ref": f"p{i}", "dependsOn": [f"p{j}" for j in (i * 2 + 50, i * 3 + 51) if j < n]}
        for i in range(n)
    ]
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "app", "bom-ref": "app"}},
        "components": components,
        "dependencies": dependencies,
    }
    return json.dumps(doc).encode()


def main() -> None:
    policies = load_policies([ROOT / "policies" / "critical-graph.yaml"])
    engines = ["python", "cpp"] if cpp_available() else ["python"]
    documents = {
        "trivy airflow (722)": read_sbom(
            ROOT / "tests/data/sboms/bomshelter__trivy_bitnami-airflow.spdx22.json"
        ),
        "synthetic (5,000)": parse_sbom(synthetic(5000)),
    }
    for label, document in documents.items():
        components = document.components()
        start = time.perf_counter()
        graph = build_graph(components, document.relationships())
        built = time.perf_counter() - start
        subjects = [
            (c, ComponentEvidence(Status.ABSENT, "x") if c.pypi else None) for c in components
        ]
        print(f"{label}: build_graph {built:.3f} s")
        for engine in engines:
            for name, used in (("with graph", graph), ("without", None)):
                start = time.perf_counter()
                evaluate(policies, subjects, graph=used, engine=engine)
                print(f"  evaluate {engine:6} {name:10} {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
