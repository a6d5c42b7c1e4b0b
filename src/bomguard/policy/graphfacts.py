"""``component.graph``, ``component.depends_on()`` / ``is_dependency_of()`` and ``sbom.graph``.

The graph facts of a component are plain values computed from a
:class:`~bomguard.sbom.graph.DependencyGraph`; the two functions read only the component
map they are called on (``graph.requires`` and ``graph.required_by``: every component it
reaches, or that reaches it, as PEP 503 names and purls), so both CEL engines and policy
tests judge them from the same facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from packaging.utils import canonicalize_name

from bomguard.models import Component, Status
from bomguard.sbom.graph import DependencyGraph

__all__ = [
    "BLAST_RADIUS_SIZE",
    "blank_graph_facts",
    "depends_on",
    "graph_facts_by_locator",
    "identifiers",
    "is_dependency_of",
    "match_key",
    "sbom_graph_facts",
    "uses_reachability",
]

#: What in an expression needs ``graph.requires`` / ``graph.required_by``.
_REACHABILITY = ("depends_on", "is_dependency_of", "requires", "required_by")

#: How many unattested components ``sbom.graph.unattested`` lists.
BLAST_RADIUS_SIZE = 10


def blank_graph_facts() -> dict[str, Any]:
    """``component.graph`` when the SBOM states no graph: unknown, never invented."""
    return {
        "known": False,
        "direct": None,
        "depth": None,
        "dependents": None,
        "paths": [],
        "scope": None,
        "requires": [],
        "required_by": [],
    }


def identifiers(component: Component) -> list[str]:
    """How a component can be named to the graph functions: its PEP 503 name and purls."""
    from bomguard.policy.facts import normalized_name

    found = [normalized_name(component)]
    if component.purl:
        base = component.purl.split("#", 1)[0].split("?", 1)[0]
        found.append(base)
        if "@" in base:
            found.append(base.split("@", 1)[0])
    return list(dict.fromkeys(found))


def match_key(text: str) -> str:
    """What a name or purl given to a graph function is compared as."""
    if text.startswith("pkg:"):
        return text.split("#", 1)[0].split("?", 1)[0]
    return str(canonicalize_name(text))


def uses_reachability(expressions: Iterable[str | None]) -> bool:
    """Whether any expression may read ``graph.requires`` or ``graph.required_by``.

    Those lists hold every component reached (or reaching), so they are only built for
    policies that can use them; for the others they are ``[]``, which no expression of
    theirs can tell apart.
    """
    return any(e and any(word in e for word in _REACHABILITY) for e in expressions)


def graph_facts_by_locator(
    graph: DependencyGraph | None, components: Sequence[Component], *, reachability: bool = True
) -> dict[str, dict[str, Any]]:
    """``component.graph`` for every component, by locator (``requires`` and
    ``required_by`` left empty unless ``reachability``)."""
    if graph is None:
        return {c.locator: blank_graph_facts() for c in components}
    names: dict[str, list[str]] = {}
    for component in components:
        names.setdefault(component.locator, identifiers(component))
    out: dict[str, dict[str, Any]] = {}
    for component in components:
        loc = component.locator
        facts = graph.facts.get(loc)
        if facts is None or loc in out:
            continue
        out[loc] = {
            "known": True,
            "direct": facts.direct,
            "depth": facts.depth,
            "dependents": facts.dependents,
            "paths": [" > ".join(p) for p in facts.paths],
            "scope": facts.scope,
            "requires": _names(graph.descendants(loc), loc, names) if reachability else [],
            "required_by": _names(graph.ancestors(loc), loc, names) if reachability else [],
        }
    return out


def _names(locators: Iterable[str], own: str, names: Mapping[str, list[str]]) -> list[str]:
    found: dict[str, None] = {}
    for loc in locators:
        if loc != own:
            found.update(dict.fromkeys(names.get(loc, ())))
    return list(found)


def depends_on(component: Mapping[str, Any], name_or_purl: object) -> bool:
    """Whether ``component`` reaches the named component through the graph (transitively)."""
    if not isinstance(name_or_purl, str):
        raise TypeError(f"depends_on: expected a string, got {type(name_or_purl).__name__}")
    return match_key(name_or_purl) in component["graph"]["requires"]


def is_dependency_of(component: Mapping[str, Any], name_or_purl: object) -> bool:
    """Whether the named component reaches ``component`` through the graph (transitively)."""
    if not isinstance(name_or_purl, str):
        raise TypeError(f"is_dependency_of: expected a string, got {type(name_or_purl).__name__}")
    return match_key(name_or_purl) in component["graph"]["required_by"]


def sbom_graph_facts(components: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``sbom.graph``: coverage of direct vs transitive PyPI components, and blast radius."""
    known = False
    direct = direct_verified = transitive = transitive_verified = 0
    unattested: list[Mapping[str, Any]] = []
    for facts in components:
        graph = facts["graph"]
        known = known or bool(graph["known"])
        status = facts["provenance"]["status"]
        if status == Status.NOT_APPLICABLE.value or graph["depth"] is None:
            continue
        verified = status == Status.VERIFIED.value
        if graph["depth"] == 1:
            direct += 1
            direct_verified += verified
        elif graph["depth"] >= 2:
            transitive += 1
            transitive_verified += verified
        if not verified and graph["depth"] >= 1:
            unattested.append(facts)
    unattested.sort(key=lambda f: (-int(f["graph"]["dependents"]), str(f["normalized_name"])))
    return {
        "known": known,
        "direct": direct,
        "transitive": transitive,
        "coverage": {
            "direct": 1.0 if direct == 0 else direct_verified / direct,
            "transitive": 1.0 if transitive == 0 else transitive_verified / transitive,
        },
        "unattested": [
            {
                "name": f["name"],
                "version": f["version"],
                "purl": f["purl"],
                "status": f["provenance"]["status"],
                "dependents": f["graph"]["dependents"],
                "direct": f["graph"]["direct"],
                "path": f["graph"]["paths"][0] if f["graph"]["paths"] else "",
            }
            for f in unattested[:BLAST_RADIUS_SIZE]
        ],
    }
