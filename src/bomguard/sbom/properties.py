"""The ``bomguard:`` properties added to each PyPI component (docs/properties.md)."""

from __future__ import annotations

from bomguard.identity_record import identity_key, identity_record
from bomguard.models import ComponentEvidence, FileEvidence, Identity, Status
from bomguard.sbom.graph import GraphFacts
from bomguard.sbom.interface import Addition
from bomguard.sbom.taxonomy import (
    DRIFT_EVENT,
    FILE,
    FILE_IDENTITIES,
    drift_event_value,
    file_identities_value,
    file_value,
)

__all__ = ["addition_for", "file_identities", "with_graph"]

P = "bomguard:provenance:"


def file_identities(f: FileEvidence, component: Identity | None) -> str | None:
    """The ``bomguard:provenance:file-identities`` value for ``f`` (every identity of it),
    when one of them is not the component's own (a release with more than one identity);
    else ``None``."""
    distinct = {identity_key(i): i for i in f.identities}
    if component is None or set(distinct) <= {identity_key(component)}:
        return None
    return file_identities_value(f.filename, [identity_record(i) for i in distinct.values()])


def addition_for(evidence: ComponentEvidence) -> Addition:
    """The properties and attestation links that record ``evidence`` on a component."""
    props: list[tuple[str, str]] = [(P + "status", evidence.status.value)]
    if evidence.reason:
        props.append((P + "reason", evidence.reason))
    if evidence.index_url:
        props.append((P + "index", evidence.index_url))
    props.append((P + "files:total", str(len(evidence.files))))
    for status in (
        Status.VERIFIED,
        Status.ABSENT,
        Status.INVALID,
        Status.UNSUPPORTED,
        Status.UNKNOWN,
    ):
        props.append((f"{P}files:{status.value}", str(evidence.count(status))))
    identity = evidence.identity
    if identity is not None:
        props.extend((P + key, value) for key, value in identity_record(identity).items())
        if identity.log_index is not None:
            props.append((P + "log:index", str(identity.log_index)))
        if identity.integrated_time is not None:
            props.append((P + "log:integrated-time", str(identity.integrated_time)))
    for f in evidence.files:
        props.append((FILE, file_value(f.filename, f.status)))
        extra = file_identities(f, identity)
        if extra:
            props.append((FILE_IDENTITIES, extra))
    if evidence.drift_checked or evidence.drift_unchecked or evidence.drift:
        if evidence.drift_checked:
            props.append(("bomguard:drift:checked", ", ".join(evidence.drift_checked)))
        if evidence.drift_unchecked:
            props.append(("bomguard:drift:unchecked", "; ".join(evidence.drift_unchecked)))
        props.append(("bomguard:drift:count", str(len(evidence.drift))))
        if evidence.drift:
            kinds = sorted({e.kind for e in evidence.drift})
            props.append(("bomguard:drift:kinds", ", ".join(kinds)))
        props.extend((DRIFT_EVENT, drift_event_value(event)) for event in evidence.drift)
    urls = tuple(dict.fromkeys(f.provenance_url for f in evidence.files if f.provenance_url))
    return Addition(properties=tuple(props), attestation_urls=urls)


def with_graph(addition: Addition, facts: GraphFacts | None, rank: int | None) -> Addition:
    """``addition`` plus where the component sits in the graph and its download rank.

    Nothing is added for a fact the SBOM does not give: no ``bomguard:graph:*`` property
    without a graph, no depth for a component the root does not reach, no rank for a
    project that is not ranked.
    """
    props = list(addition.properties)
    if facts is not None:
        props.append(("bomguard:graph:direct", "true" if facts.direct else "false"))
        if facts.depth is not None:
            props.append(("bomguard:graph:depth", str(facts.depth)))
        props.append(("bomguard:graph:dependents", str(facts.dependents)))
        if facts.paths:
            props.append(("bomguard:graph:path", " > ".join(facts.paths[0])))
        if facts.scope is not None:
            props.append(("bomguard:graph:scope", facts.scope))
    if rank is not None:
        props.append(("bomguard:download-rank", str(rank)))
    return Addition(tuple(props), addition.attestation_urls)
