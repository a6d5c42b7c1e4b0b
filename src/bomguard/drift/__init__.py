"""Identity drift: flag a release that did not come from the identity that published before."""

from __future__ import annotations

from collections.abc import Sequence

from bomguard.drift.compare import (
    EVENT_KINDS,
    Expectation,
    compare,
    distinct_identities,
    ref_shape,
    release_events,
)
from bomguard.drift.sources import identity_from_properties, load_baseline, load_pins
from bomguard.models import ComponentEvidence, DriftEvent

__all__ = [
    "EVENT_KINDS",
    "Expectation",
    "assess",
    "compare",
    "distinct_identities",
    "identity_from_properties",
    "load_baseline",
    "load_pins",
    "ref_shape",
]


def assess(
    evidence: ComponentEvidence,
    expectations: Sequence[Expectation],
    pins: Sequence[Expectation] = (),
    *,
    version: str = "",
) -> tuple[tuple[DriftEvent, ...], tuple[str, ...]]:
    """Drift events of one release and the sources they were checked against.

    The release's own events come first (identities that disagree, a foreign signer);
    ``expectations`` (earlier releases, a baseline) are each compared; ``pins`` are
    alternatives: matching any one of them is enough, and when none matches the events
    are those against the first.
    """
    events = release_events(evidence, version)
    events.extend(compare(evidence, expectations))
    if pins:
        per_pin = [compare(evidence, [pin]) for pin in pins]
        if all(per_pin):
            events.extend(per_pin[0])
    checked = [f"{e.source.value}:{e.since}" for e in (*expectations, *pins[:1])]
    return tuple(dict.fromkeys(events)), tuple(dict.fromkeys(checked))
