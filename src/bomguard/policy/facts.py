"""The facts a CEL rule sees: one ``component`` map per SBOM component, and ``sbom``.

The shapes are fixed (declared in :mod:`bomguard.policy.vocabulary`). Every key is
always present (``""`` for a missing string, ``[]`` for a missing list, ``0`` for a
missing count), so an expression such as
``component.provenance.publisher.repository == "x"`` never fails on a component that has
no publisher; it is simply ``false``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from packaging.utils import canonicalize_name

from bomguard.drift.compare import EVENT_KINDS
from bomguard.models import (
    Component,
    ComponentEvidence,
    DriftEvent,
    DriftSource,
    FileEvidence,
    Identity,
    PypiRef,
    Status,
)
from bomguard.policy.graphfacts import blank_graph_facts, sbom_graph_facts
from bomguard.reasons import explain_component, explain_file

__all__ = [
    "OPTIONAL_KEYS",
    "blank_change_facts",
    "blank_component_facts",
    "component_facts",
    "component_label",
    "component_status",
    "event_facts",
    "facts_label",
    "normalized_name",
    "sample_component_facts",
    "sbom_facts",
]

_PUBLISHER_KEYS = (
    "kind",
    "repository",
    "workflow",
    "environment",
    "issuer",
    "ref",
    "commit",
    "trigger",
    "runner_environment",
    "repository_uri",
    "repository_id",
    "owner_id",
    "san",
)

#: Keys of ``component`` that :func:`component_facts` leaves out when not asked for; the
#: others are always built (verdict messages, waivers and ``sbom`` facts read them).
OPTIONAL_KEYS = ("licenses", "properties", "drift", "change")

#: Drift event kinds, each also a convenience boolean (``-`` becomes ``_``).
DRIFT_KINDS = EVENT_KINDS


def normalized_name(component: Component) -> str:
    """The name critical lists are compared with: the PyPI name, else PEP 503 of the name."""
    if component.pypi is not None:
        return component.pypi.name
    return str(canonicalize_name(component.name))


def component_label(component: Component) -> str:
    """How a component is named in a verdict: its purl, else ``name@version`` (or ``name``)."""
    if component.purl:
        return component.purl
    name = component.name or component.bom_ref or component.locator or "(unnamed)"
    return f"{name}@{component.version}" if component.version else name


def component_status(
    component: Component, evidence: ComponentEvidence | None
) -> tuple[Status, str]:
    """The provenance status and reason policies see for a component.

    Without evidence a component is ``not-applicable`` when it is not a PyPI component;
    a PyPI component (or a ``pkg:pypi`` purl that did not parse) with no evidence is
    ``unknown``, never silently not-applicable.
    """
    if evidence is not None:
        return evidence.status, evidence.reason
    if component.pypi_error:
        return Status.UNKNOWN, component.pypi_error
    if component.pypi is not None:
        return Status.UNKNOWN, "no provenance evidence was gathered"
    return Status.NOT_APPLICABLE, ""


def _publisher(
    identity: Identity | None, made: dict[int, dict[str, str]] | None = None
) -> dict[str, str]:
    # ``made``: the maps already built for this component, by identity (one publisher
    # usually signs every file of a release); each use still gets a map of its own.
    if made is not None and id(identity) in made:
        return dict(made[id(identity)])
    if identity is None:
        found = dict.fromkeys(_PUBLISHER_KEYS, "")
    else:
        found = {key: getattr(identity, key) or "" for key in _PUBLISHER_KEYS}
    if made is not None:
        made[id(identity)] = found
    return found


def component_facts(
    component: Component,
    evidence: ComponentEvidence | None,
    critical: bool,
    *,
    rank: int | None = None,
    graph: Mapping[str, Any] | None = None,
    change: Mapping[str, Any] | None = None,
    keys: Collection[str] | None = None,
    codes: bool = True,
    file_facts: bool = True,
) -> dict[str, Any]:
    """The JSON-ready value bound to ``component`` in CEL (see the module docstring).

    ``critical`` says whether the evaluating policy lists this component as critical;
    ``rank`` is its PyPI download rank (``None``: not ranked); ``graph`` its
    ``component.graph`` facts (default: the SBOM states no graph, every fact null).
    ``change`` is what ``bomguard diff`` or ``upgrades`` found (see
    :func:`bomguard.review.changes.change_facts`); without it every key is blank.

    ``keys`` (default: all) names the keys the caller needs; the others of
    :data:`OPTIONAL_KEYS` are left out (never computed). The rest are always there.
    Without ``codes``, the reason codes (``code`` of the provenance and of each file) are
    not worked out and left blank, for callers that do not read them. Without
    ``file_facts``, ``provenance.files`` is left empty, for callers that do not read it.
    """
    status, reason = component_status(component, evidence)
    files = evidence.files if evidence is not None else ()
    made: dict[int, dict[str, str]] = {}
    facts = {
        "name": component.name,
        "normalized_name": normalized_name(component),
        "version": component.version or "",
        "purl": component.purl or "",
        "bom_ref": component.bom_ref or "",
        "type": component.type or "",
        "group": component.group or "",
        "scope": component.scope or "",
        "licenses": list(component.licenses) if keys is None or "licenses" in keys else None,
        "properties": (
            dict(component.properties) if keys is None or "properties" in keys else None
        ),
        "pypi": component.pypi is not None,
        "critical": critical,
        "rank": rank,
        "graph": dict(graph) if graph is not None else blank_graph_facts(),
        "provenance": {
            "status": status.value,
            "reason": reason,
            "code": explain_component(status, reason, evidence).code if codes else "",
            "publisher": _publisher(evidence.identity if evidence is not None else None, made),
            "files": [
                {
                    "filename": f.filename,
                    "sha256": f.sha256 or "",
                    "status": f.status.value,
                    "reason": f.reason,
                    "code": explain_file(f).code if codes else "",
                    "digest_source": f.digest_source.value if f.digest_source else "",
                    "publisher": _publisher(f.identity, made),
                }
                for f in (files if file_facts else ())
            ],
            "verified_files": sum(1 for f in files if f.status is Status.VERIFIED),
            "total_files": len(files),
        },
        "drift": _drift(evidence) if keys is None or "drift" in keys else None,
        "change": (
            (dict(change) if change is not None else blank_change_facts())
            if keys is None or "change" in keys
            else None
        ),
    }
    if keys is not None:
        for key in OPTIONAL_KEYS:
            if key not in keys:
                del facts[key]
    return facts


def blank_change_facts() -> dict[str, Any]:
    """``component.change`` outside a review (``enrich``): nothing changed, nothing known."""
    return {
        "kind": "",
        "from": "",
        "to": "",
        "from_status": "",
        "attestation": "",
        "compared": False,
        "count": 0,
        "kinds": [],
        "events": [],
    }


def event_facts(event: DriftEvent) -> dict[str, Any]:
    """One drift or change event as CEL sees it."""
    return {
        "kind": event.kind,
        "before": event.before,
        "after": event.after,
        "source": event.source.value,
        "since": event.since,
        "asserted_by_index": event.asserted_by_index,
    }


def _drift(evidence: ComponentEvidence | None) -> dict[str, Any]:
    events = evidence.drift if evidence is not None else ()
    kinds = sorted({e.kind for e in events})
    facts: dict[str, Any] = {
        "checked": bool(
            evidence is not None and evidence.drift_checked and not evidence.drift_unchecked
        ),
        "unchecked": list(evidence.drift_unchecked) if evidence is not None else [],
        "count": len(events),
        "kinds": kinds,
        "events": [event_facts(e) for e in events],
    }
    for kind in DRIFT_KINDS:
        facts[kind.replace("-", "_")] = kind in kinds
    return facts


def facts_label(facts: Mapping[str, Any]) -> str:
    """:func:`component_label` of the component behind ``facts``."""
    if facts["purl"]:
        return str(facts["purl"])
    name = facts["name"] or facts["bom_ref"] or "(unnamed)"
    return f"{name}@{facts['version']}" if facts["version"] else str(name)


def _fraction(part: int, whole: int) -> float:
    return 1.0 if whole == 0 else part / whole


def sbom_facts(components: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The JSON-ready value bound to ``sbom``, from every component's facts (each once).

    PyPI components are those whose status is not ``not-applicable``. ``coverage.overall``
    is verified PyPI components over PyPI components; ``coverage.critical`` the same over
    the critical ones. Both are doubles, and ``1.0`` when there is nothing to cover: with
    no PyPI component, "every PyPI component is verified" holds.
    """
    components = list(components)
    counts = dict.fromkeys((s.value for s in Status), 0)
    total = pypi = verified = critical = critical_verified = 0
    for facts in components:
        status = facts["provenance"]["status"]
        total += 1
        counts[status] += 1
        if status == Status.NOT_APPLICABLE.value:
            continue
        pypi += 1
        is_verified = status == Status.VERIFIED.value
        verified += is_verified
        if facts["critical"]:
            critical += 1
            critical_verified += is_verified
    return {
        "components": total,
        "pypi": pypi,
        "critical": critical,
        "counts": counts,
        "coverage": {
            "overall": _fraction(verified, pypi),
            "critical": _fraction(critical_verified, critical),
        },
        "graph": sbom_graph_facts(components),
    }


def blank_component_facts() -> dict[str, Any]:
    """Facts of a component named ``example`` with nothing else known (not a PyPI package)."""
    blank = Component(locator="", bom_ref=None, name="example", version=None, purl=None)
    return component_facts(blank, None, False)


def sample_component_facts() -> dict[str, Any]:
    """Facts of a verified PyPI component with one file: every key, every list non-empty."""
    identity = Identity(
        kind="GitHub",
        repository="example/example",
        workflow="release.yml",
        issuer="https://token.actions.githubusercontent.com",
        ref="refs/tags/v1.0.0",
        commit="0" * 40,
        trigger="push",
        runner_environment="github-hosted",
    )
    sample = Component(
        locator="/components/0",
        bom_ref="pkg:pypi/example@1.0.0",
        name="example",
        version="1.0.0",
        purl="pkg:pypi/example@1.0.0",
        type="library",
        licenses=("MIT",),
        properties={"example": "value"},
        pypi=PypiRef("example", "1.0.0", "example", "1.0.0"),
    )
    evidence = ComponentEvidence(
        Status.VERIFIED,
        "",
        (
            FileEvidence(
                "example-1.0.0-py3-none-any.whl", "0" * 64, Status.VERIFIED, identity=identity
            ),
        ),
        drift=(
            DriftEvent(
                "workflow-changed",
                "release.yml",
                "publish.yml",
                DriftSource.PREVIOUS_RELEASE,
                "0.9",
            ),
        ),
        drift_checked=("previous-release:0.9",),
    )
    change = {
        "kind": "upgraded",
        "from": "0.9",
        "to": "1.0.0",
        "from_status": "verified",
        "attestation": "kept",
        "compared": True,
        "count": 1,
        "kinds": ["workflow-changed"],
        "events": [event_facts(evidence.drift[0])],
    }
    graph = {
        "known": True,
        "direct": False,
        "depth": 2,
        "dependents": 1,
        "paths": ["app > web > example"],
        "scope": "runtime",
        "requires": ["dependency"],
        "required_by": ["web", "app"],
    }
    return component_facts(sample, evidence, True, rank=1, graph=graph, change=change)
