"""The dependency graph an SBOM states, and the facts it gives about each component.

Every format backend reads its own relationships into :class:`Relationships` (edges
between the document's element ids, and the ids the document names as its subject);
:func:`build_graph` ties them to the components and answers, per component:

- ``depth``: the fewest edges from the root (the root itself is 0); ``None`` when the
  component cannot be reached from it;
- ``direct``: ``depth == 1``;
- ``dependents``: how many components reach it through the graph (itself and the root
  not counted);
- ``paths``: up to :data:`MAX_PATHS` shortest paths from the root, as component names;
- ``scope``: ``runtime``, ``optional``, ``dev``, ``build``, ``test``, ``provided`` or
  ``excluded`` where the SBOM says so (an edge's scope, or a CycloneDX component's own),
  carried down to what is only reached through scoped edges; ``None`` otherwise.

With edges but no root the document names (cyclonedx-py's ``environment`` SBOMs), the
components nothing depends on are the top level: each is ``direct`` at depth 1, as if a
root depended on them. An SBOM that states no relationship at all has no graph
(:func:`build_graph` returns ``None``): its components' graph facts are unknown, never
invented. ``depends on`` and ``contains`` edges count alike; edges to elements that are
not components (SPDX files, licenses) are dropped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bomguard.models import Component

__all__ = [
    "MAX_PATHS",
    "SCOPES",
    "DependencyGraph",
    "Edge",
    "GraphFacts",
    "Relationships",
    "build_graph",
]

#: How many shortest paths from the root are kept per component.
MAX_PATHS = 3
#: Scopes, strongest first: a component reached at runtime anywhere is ``runtime``.
SCOPES = ("runtime", "optional", "provided", "build", "test", "dev", "excluded")
#: CycloneDX's component ``scope`` in the graph's terms.
CDX_SCOPES = {"required": "runtime", "optional": "optional", "excluded": "excluded"}


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` depends on (or contains) ``target``; both are the document's element ids."""

    source: str
    target: str
    kind: str = "depends"
    """``depends`` or ``contains``."""
    scope: str | None = None
    """One of :data:`SCOPES` when the relationship says so."""


@dataclass(frozen=True, slots=True)
class Relationships:
    """What a document states: its edges and the element ids it names as its subject."""

    edges: tuple[Edge, ...]
    roots: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GraphFacts:
    """What the graph says about one component."""

    depth: int | None
    dependents: int
    paths: tuple[tuple[str, ...], ...]
    scope: str | None

    @property
    def direct(self) -> bool:
        """A dependency of the root (of the top level, when the SBOM names no root)."""
        return self.depth == 1


@dataclass
class DependencyGraph:
    """The graph over component locators, with per-component facts computed once."""

    locators: list[str]
    children: dict[str, list[str]]
    parents: dict[str, list[str]]
    roots: list[str]
    """The root components; empty when the SBOM names none (top level at depth 1)."""
    names: dict[str, str]
    facts: dict[str, GraphFacts] = field(default_factory=dict)
    _descendants: dict[str, int] = field(default_factory=dict)
    _ancestors: dict[str, int] = field(default_factory=dict)

    @property
    def rooted(self) -> bool:
        """Whether the SBOM names its root (else the top level is what nothing depends on)."""
        return bool(self.roots)

    def top_level(self) -> list[str]:
        """The root(s), or the components at depth 1 when there is no root."""
        if self.roots:
            return list(self.roots)
        return [loc for loc in self.locators if self.facts[loc].depth == 1]

    def descendants(self, locator: str) -> list[str]:
        """Every component ``locator`` reaches (itself excluded unless on a cycle)."""
        return self._members(self._descendants.get(locator, 0))

    def ancestors(self, locator: str) -> list[str]:
        """Every component that reaches ``locator`` (roots included)."""
        return self._members(self._ancestors.get(locator, 0))

    def _members(self, bits: int) -> list[str]:
        out = []
        index = 0
        while bits:
            if bits & 1:
                out.append(self.locators[index])
            bits >>= 1
            index += 1
        return out


def build_graph(
    components: Sequence[Component], relationships: Relationships | None
) -> DependencyGraph | None:
    """The graph of ``components`` under ``relationships``; ``None`` when there are none."""
    if relationships is None or not relationships.edges:
        return None
    by_id: dict[str, str] = {}
    locators: list[str] = []
    names: dict[str, str] = {}
    own_scope: dict[str, str] = {}
    for component in components:
        if component.locator in names:
            continue
        locators.append(component.locator)
        names[component.locator] = component.name or component.bom_ref or component.locator
        if component.bom_ref:
            by_id.setdefault(component.bom_ref, component.locator)
        if component.scope in CDX_SCOPES:
            own_scope[component.locator] = CDX_SCOPES[component.scope]
    children: dict[str, list[str]] = {loc: [] for loc in locators}
    parents: dict[str, list[str]] = {loc: [] for loc in locators}
    edge_scope: dict[tuple[str, str], set[str | None]] = {}
    for edge in relationships.edges:
        source, target = by_id.get(edge.source), by_id.get(edge.target)
        if source is None or target is None or source == target:
            continue
        key = (source, target)
        if key not in edge_scope:
            edge_scope[key] = set()
            children[source].append(target)
            parents[target].append(source)
        edge_scope[key].add(edge.scope)
    roots = list(dict.fromkeys(by_id[r] for r in relationships.roots if r in by_id))
    graph = DependencyGraph(locators, children, parents, roots, names)
    sccs = _tarjan(graph.locators, graph.children)
    depth, shortest_parents = _depths(graph, sccs)
    _closures(graph, sccs)
    scopes = _scopes(graph, depth, edge_scope, own_scope)
    position = {loc: i for i, loc in enumerate(locators)}
    root_bits = sum(1 << position[r] for r in roots)
    for loc in locators:
        others = graph._ancestors.get(loc, 0) & ~root_bits & ~(1 << position[loc])
        dependents = others.bit_count()
        graph.facts[loc] = GraphFacts(
            depth=depth.get(loc),
            dependents=dependents,
            paths=_paths(graph, loc, shortest_parents, depth),
            scope=scopes.get(loc),
        )
    return graph


def _depths(
    graph: DependencyGraph, sccs: list[list[str]]
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Breadth-first depths from the root(s), and each component's parents on shortest paths.

    Without a root, the top level is every component nothing outside its own cycle
    depends on (a component with no dependents is a cycle of one).
    """
    depth: dict[str, int] = {}
    if graph.roots:
        start = [(r, 0) for r in graph.roots]
    else:
        start = []
        for members in sccs:
            inside = set(members)
            if not any(p not in inside for loc in members for p in graph.parents[loc]):
                start.extend((loc, 1) for loc in members)
        order = {loc: i for i, loc in enumerate(graph.locators)}
        start.sort(key=lambda item: order[item[0]])
    queue: deque[str] = deque()
    for loc, level in start:
        depth[loc] = level
        queue.append(loc)
    via: dict[str, list[str]] = {}
    while queue:
        loc = queue.popleft()
        for child in graph.children[loc]:
            if child not in depth:
                depth[child] = depth[loc] + 1
                queue.append(child)
            if depth[child] == depth[loc] + 1:
                via.setdefault(child, []).append(loc)
    return depth, via


def _paths(
    graph: DependencyGraph, locator: str, via: dict[str, list[str]], depth: dict[str, int]
) -> tuple[tuple[str, ...], ...]:
    """Up to :data:`MAX_PATHS` shortest paths from the root (or top level) to ``locator``."""
    found: list[tuple[str, ...]] = []

    def walk(loc: str, suffix: tuple[str, ...]) -> None:
        if len(found) >= MAX_PATHS:
            return
        path = (graph.names[loc], *suffix)
        before = via.get(loc)
        if not before:
            found.append(path)
            return
        for parent in before:
            walk(parent, path)

    if locator in via or depth.get(locator) in (0, 1):
        walk(locator, ())
    return tuple(found)


def _closures(graph: DependencyGraph, sccs: list[list[str]]) -> None:
    """Descendant and ancestor sets as bit sets, through strongly connected components."""
    index = {loc: i for i, loc in enumerate(graph.locators)}
    component_of = {loc: n for n, members in enumerate(sccs) for loc in members}
    # Tarjan yields components in reverse topological order: children before parents.
    down: list[int] = []
    for n, members in enumerate(sccs):
        bits = 0
        cyclic = len(members) > 1
        for loc in members:
            for child in graph.children[loc]:
                other = component_of[child]
                if other == n:
                    cyclic = True
                    continue
                bits |= down[other] | _bits(sccs[other], index)
        if cyclic:
            bits |= _bits(members, index)
        down.append(bits)
    up = [0] * len(sccs)
    for n in range(len(sccs) - 1, -1, -1):
        members = sccs[n]
        bits = up[n]
        cyclic = len(members) > 1 or any(
            component_of[c] == n for loc in members for c in graph.children[loc]
        )
        if cyclic:
            bits |= _bits(members, index)
        up[n] = bits
        for loc in members:
            for child in graph.children[loc]:
                other = component_of[child]
                if other != n:
                    up[other] |= bits | _bits(members, index)
    for loc in graph.locators:
        graph._descendants[loc] = down[component_of[loc]]
        graph._ancestors[loc] = up[component_of[loc]]


def _bits(members: Iterable[str], index: dict[str, int]) -> int:
    bits = 0
    for loc in members:
        bits |= 1 << index[loc]
    return bits


def _tarjan(nodes: Sequence[str], children: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components, children's before parents' (iterative Tarjan)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in order:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                order[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            kids = children[node]
            if position < len(kids):
                work.append((node, position + 1))
                child = kids[position]
                if child not in order:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], order[child])
                continue
            if low[node] == order[node]:
                members = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    members.append(top)
                    if top == node:
                        break
                result.append(members)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result


def _scopes(
    graph: DependencyGraph,
    depth: dict[str, int],
    edge_scope: dict[tuple[str, str], set[str | None]],
    own_scope: dict[str, str],
) -> dict[str, str]:
    """Each reachable component's scope: its own, else what the edges into it carry down.

    ``""`` in a set means "reached without a stated scope"; a component reached that way
    (and never at runtime) has no scope.
    """
    reach: dict[str, set[str]] = {}
    for loc in graph.locators:
        if loc in own_scope:
            reach[loc] = {own_scope[loc]}
        elif loc in graph.roots or (not graph.roots and depth.get(loc) == 1):
            reach[loc] = {""}
        else:
            reach[loc] = set()
    ordered = sorted(depth, key=lambda loc: depth[loc])
    changed = True
    while changed:
        changed = False
        for loc in ordered:
            if loc in own_scope:
                continue
            for parent in graph.parents[loc]:
                if parent not in depth:
                    continue
                for scope in edge_scope[(parent, loc)]:
                    add = {scope} if scope else reach[parent]
                    if not add <= reach[loc]:
                        reach[loc] |= add
                        changed = True
    result: dict[str, str] = {}
    for loc, found in reach.items():
        if "runtime" in found:
            result[loc] = "runtime"
        elif found and "" not in found:
            result[loc] = min(found, key=lambda s: SCOPES.index(s) if s in SCOPES else len(SCOPES))
    return result
