"""The dependency view of the reports: the tree from the root and the blast-radius list.

Kept apart from the page layout (:mod:`bomguard.report.html`) so that either can change
alone. :func:`build_graph_view` gathers the facts from an enrichment result;
:func:`render_blast_radius` and :func:`render_tree` render them as HTML sections (native
``<details>`` elements, so the tree folds without any script).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from bomguard.models import Status

if TYPE_CHECKING:
    from bomguard.models import Component
    from bomguard.sbom.graph import DependencyGraph

__all__ = [
    "BLAST_RADIUS_ROWS",
    "GraphView",
    "TreeNode",
    "build_graph_view",
    "render_blast_radius",
    "render_criticality",
    "render_tree",
]

#: How many unattested components the blast-radius list shows.
BLAST_RADIUS_ROWS = 25

#: One colour per status, shared with the rest of the HTML report.
STATUS_COLOURS = {
    "verified": "#1a7f37",
    "partial": "#9a6700",
    "absent": "#6e7781",
    "invalid": "#cf222e",
    "unsupported": "#8250df",
    "unknown": "#bc4c00",
    "not-applicable": "#afb8c1",
}

GRAPH_CSS = """
#dependency-tree ul{list-style:none;margin:0;padding-left:1.2rem;border-left:1px dotted #d0d7de}
#dependency-tree summary{cursor:pointer}
#dependency-tree .leaf{padding-left:1rem}
.node-status{font-weight:600}
.badge{display:inline-block;font-size:11px;padding:0 .35rem;border-radius:.6rem;margin-left:.3rem;
color:#fff;background:#57606a}
.badge.critical{background:#cf222e}.badge.direct{background:#0969da}
"""


@dataclass(frozen=True, slots=True)
class TreeNode:
    """One component in the tree from the root."""

    locator: str
    label: str
    status: str
    critical: bool
    direct: bool
    children: tuple[TreeNode, ...]
    elsewhere: bool = False
    """Shown in full under another parent (its first shortest path); not expanded here."""


@dataclass(frozen=True, slots=True)
class BlastRow:
    """An unattested PyPI component and how many components reach it."""

    label: str
    status: str
    dependents: int
    direct: bool
    critical: bool
    path: str


@dataclass(frozen=True, slots=True)
class GraphView:
    """What the dependency view shows."""

    known: bool
    rooted: bool
    tree: tuple[TreeNode, ...]
    blast_radius: tuple[BlastRow, ...]


def build_graph_view(
    graph: DependencyGraph | None,
    components: list[Component],
    statuses: Mapping[str, str],
    critical: Mapping[str, bool],
) -> GraphView:
    """The tree (each component expanded once, under its first shortest-path parent) and
    the unattested PyPI components reached from the root, most dependents first."""
    if graph is None:
        return GraphView(False, False, (), ())
    labels: dict[str, str] = {}
    for c in components:
        labels.setdefault(c.locator, f"{c.name}@{c.version}" if c.version else c.name)
    depth = {loc: f.depth for loc, f in graph.facts.items()}

    def tree_parent(loc: str) -> str | None:
        level = depth.get(loc)
        if level is None or level == 0:
            return None
        for parent in graph.parents[loc]:
            if depth.get(parent) == level - 1:
                return parent
        return None

    def node(loc: str) -> TreeNode:
        kids = []
        for child in graph.children[loc]:
            if tree_parent(child) == loc:
                kids.append(node(child))
            elif depth.get(child) is not None:
                kids.append(_leaf(child, elsewhere=True))
        return TreeNode(
            loc,
            labels.get(loc, loc),
            statuses.get(loc, Status.NOT_APPLICABLE.value),
            critical.get(loc, False),
            graph.facts[loc].direct,
            tuple(kids),
        )

    def _leaf(loc: str, *, elsewhere: bool) -> TreeNode:
        return TreeNode(
            loc,
            labels.get(loc, loc),
            statuses.get(loc, Status.NOT_APPLICABLE.value),
            critical.get(loc, False),
            graph.facts[loc].direct,
            (),
            elsewhere,
        )

    tree = tuple(node(loc) for loc in graph.top_level())
    rows = []
    for loc, facts in graph.facts.items():
        status = statuses.get(loc)
        if status in (None, Status.VERIFIED.value, Status.NOT_APPLICABLE.value):
            continue
        if facts.depth is None or facts.depth == 0:
            continue
        rows.append(
            BlastRow(
                labels.get(loc, loc),
                status or "",
                facts.dependents,
                facts.direct,
                critical.get(loc, False),
                " > ".join(facts.paths[0]) if facts.paths else "",
            )
        )
    rows.sort(key=lambda r: (-r.dependents, not r.direct, r.label))
    return GraphView(True, graph.rooted, tree, tuple(rows[:BLAST_RADIUS_ROWS]))


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _badges(critical: bool, direct: bool) -> str:
    out = '<span class="badge critical">critical</span>' if critical else ""
    return out + ('<span class="badge direct">direct</span>' if direct else "")


def render_blast_radius(view: GraphView) -> str:
    """The "unattested, by blast radius" section (empty without a graph)."""
    if not view.known:
        return (
            '<h2>Unattested, by blast radius</h2><p id="blast-radius" class="muted">'
            "The SBOM states no dependency relationships: nothing is known about which "
            "components depend on which.</p>"
        )
    if not view.blast_radius:
        return (
            '<h2>Unattested, by blast radius</h2><p id="blast-radius">'
            "Every PyPI component reached from the root is verified.</p>"
        )
    rows = "".join(
        f"<tr><td>{_e(r.label)}{_badges(r.critical, r.direct)}</td>"
        f'<td class="node-status" style="color:{STATUS_COLOURS.get(r.status, "#1f2328")}">'
        f"{_e(r.status)}</td><td>{r.dependents}</td><td>{_e(r.path)}</td></tr>"
        for r in view.blast_radius
    )
    return (
        "<h2>Unattested, by blast radius</h2>"
        '<table id="blast-radius"><thead><tr><th>Component</th><th>Status</th>'
        "<th>Dependents</th><th>Path from the root</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _render_node(node: TreeNode) -> str:
    colour = STATUS_COLOURS.get(node.status, "#1f2328")
    head = (
        f'<span class="node-name">{_e(node.label)}</span> '
        f'<span class="node-status" style="color:{colour}">{_e(node.status)}</span>'
        f"{_badges(node.critical, node.direct)}"
    )
    attrs = f'data-status="{_e(node.status)}"'
    if node.elsewhere:
        return f'<li class="leaf" {attrs}>{head} <span class="muted">(shown elsewhere)</span></li>'
    if not node.children:
        return f'<li class="leaf" {attrs}>{head}</li>'
    inner = "".join(_render_node(child) for child in node.children)
    return f"<li {attrs}><details open><summary>{head}</summary><ul>{inner}</ul></details></li>"


def render_tree(view: GraphView) -> str:
    """The collapsible dependency tree from the root (empty without a graph)."""
    if not view.known:
        return ""
    note = (
        "From the root the SBOM names."
        if view.rooted
        else "The SBOM names no root: the top level is what nothing else depends on."
    )
    items = "".join(_render_node(node) for node in view.tree)
    return (
        f'<h2>Dependencies</h2><p class="muted">{_e(note)} Each component is expanded once, '
        "under the first of its shortest paths.</p>"
        f'<div id="dependency-tree"><ul>{items}</ul></div>'
    )


def render_criticality(record: Mapping[str, object]) -> str:
    """An evidence-table row naming the download-rank snapshot that judged criticality."""
    if not record:
        return ""
    return (
        f'<tr><td>Download ranks</td><td id="criticality">{_e(record.get("date", ""))}, '
        f"{_e(record.get('projects', ''))} projects from {_e(record.get('source', ''))} "
        f"<code>{_e(record.get('sha256', ''))}</code></td></tr>"
    )
