"""The flat ``bomguard:`` properties added to each PyPI component (docs/enrichment.md)."""

from __future__ import annotations

from bomguard.models import ComponentEvidence, Status
from bomguard.sbom.interface import Addition

__all__ = ["addition_for"]

P = "bomguard:provenance:"


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
        fields = (
            ("publisher:kind", identity.kind),
            ("publisher:repository", identity.repository),
            ("publisher:workflow", identity.workflow),
            ("publisher:environment", identity.environment),
            ("publisher:issuer", identity.issuer),
            ("publisher:identity", identity.san),
            ("publisher:repository-uri", identity.repository_uri),
            ("publisher:repository-id", identity.repository_id),
            ("publisher:owner-uri", identity.owner_uri),
            ("publisher:owner-id", identity.owner_id),
            ("publisher:trigger", identity.trigger),
            ("publisher:runner-environment", identity.runner_environment),
            ("publisher:ref", identity.ref),
            ("publisher:commit", identity.commit),
            ("log:index", None if identity.log_index is None else str(identity.log_index)),
            (
                "log:integrated-time",
                None if identity.integrated_time is None else str(identity.integrated_time),
            ),
        )
        props.extend((P + key, value) for key, value in fields if value)
    for f in evidence.files:
        props.append((f"{P}file:{f.filename}", f.status.value))
    if evidence.drift_checked:
        props.append(("bomguard:drift:checked", ", ".join(evidence.drift_checked)))
        props.append(("bomguard:drift:count", str(len(evidence.drift))))
        if evidence.drift:
            kinds = sorted({e.kind for e in evidence.drift})
            props.append(("bomguard:drift:kinds", ", ".join(kinds)))
        for i, event in enumerate(evidence.drift):
            props.extend(
                (f"bomguard:drift:{i}:{key}", value)
                for key, value in (
                    ("kind", event.kind),
                    ("before", event.before),
                    ("after", event.after),
                    ("source", event.source.value),
                    ("since", event.since),
                )
                if value
            )
            if event.asserted_by_index:
                props.append((f"bomguard:drift:{i}:asserted-by", "index"))
    urls = tuple(dict.fromkeys(f.provenance_url for f in evidence.files if f.provenance_url))
    return Addition(properties=tuple(props), attestation_urls=urls)
