"""Compare a release's verified publisher identity with what was expected of it.

Everything compared is bound by the signing certificate (or the transparency log),
except the deployment ``environment``, which only the index asserts: its event says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bomguard.models import ComponentEvidence, DriftEvent, DriftSource, Identity, Status

__all__ = ["EVENT_KINDS", "Expectation", "compare", "ref_shape"]

EVENT_KINDS = (
    "repository-changed",
    "owner-changed",
    "workflow-changed",
    "ref-changed",
    "trigger-changed",
    "runner-changed",
    "publisher-kind-changed",
    "environment-changed",
    "attestation-disappeared",
    "signer-changed",
)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a release was expected to look like, and where that expectation came from.

    ``identity`` is ``None`` when the source says the package was not attested (an
    earlier release without provenance): then nothing is expected of this one.
    ``fields`` limits a pin to the fields it names; ``None`` compares every field.
    """

    source: DriftSource
    since: str
    identity: Identity | None
    fields: frozenset[str] | None = None


def ref_shape(ref: str | None) -> str:
    """What kind of ref published: every tag looks alike, each branch is its own."""
    if not ref:
        return ""
    if ref.startswith("refs/tags/"):
        return "tag"
    if ref.startswith("refs/heads/"):
        return "branch " + ref[len("refs/heads/") :]
    return ref


def _norm(value: str | None) -> str:
    return (value or "").strip()


def _repository(identity: Identity) -> str:
    return _norm(identity.repository_uri or identity.repository).lower().rstrip("/")


def _same_repository(want: Identity, have: Identity) -> bool | None:
    """Whether two identities name one repository; ``None`` when either names none."""
    if want.repository_uri and have.repository_uri:
        return _norm(want.repository_uri).lower().rstrip("/") == _norm(
            have.repository_uri
        ).lower().rstrip("/")
    if want.repository and have.repository:
        return _norm(want.repository).lower() == _norm(have.repository).lower()
    return None


def _pair(
    kind: str, before: str, after: str, expectation: Expectation, *, index_only: bool = False
) -> DriftEvent:
    return DriftEvent(
        kind=kind,
        before=before,
        after=after,
        source=expectation.source,
        since=expectation.since,
        asserted_by_index=index_only,
    )


def _identity_events(want: Identity, have: Identity, expectation: Expectation) -> list[DriftEvent]:
    fields = expectation.fields
    events: list[DriftEvent] = []

    def considered(name: str) -> bool:
        return fields is None or name in fields

    if considered("kind") and _norm(want.kind) != _norm(have.kind):
        events.append(
            _pair("publisher-kind-changed", _norm(want.kind), _norm(have.kind), expectation)
        )
    same = _same_repository(want, have)
    if considered("repository") and same is not None:
        if not same:
            events.append(
                _pair(
                    "repository-changed",
                    _norm(want.repository_uri or want.repository),
                    _norm(have.repository_uri or have.repository),
                    expectation,
                )
            )
        elif want.repository_id and have.repository_id and want.repository_id != have.repository_id:
            # Same name, another repository: deleted and re-created, or transferred.
            events.append(
                _pair(
                    "repository-changed",
                    f"{_repository(want)} (id {want.repository_id})",
                    f"{_repository(have)} (id {have.repository_id})",
                    expectation,
                )
            )
    if considered("owner") and want.owner_id and have.owner_id and want.owner_id != have.owner_id:
        events.append(
            _pair(
                "owner-changed",
                f"{_norm(want.owner_uri)} (id {want.owner_id})",
                f"{_norm(have.owner_uri)} (id {have.owner_id})",
                expectation,
            )
        )
    if (
        considered("workflow")
        and want.workflow
        and have.workflow
        and want.workflow != have.workflow
    ):
        events.append(_pair("workflow-changed", want.workflow, have.workflow, expectation))
    if considered("ref") and want.ref and have.ref and ref_shape(want.ref) != ref_shape(have.ref):
        events.append(_pair("ref-changed", want.ref, have.ref, expectation))
    if considered("trigger") and want.trigger and have.trigger and want.trigger != have.trigger:
        events.append(_pair("trigger-changed", want.trigger, have.trigger, expectation))
    if (
        considered("runner_environment")
        and want.runner_environment
        and have.runner_environment
        and want.runner_environment != have.runner_environment
    ):
        events.append(
            _pair("runner-changed", want.runner_environment, have.runner_environment, expectation)
        )
    if considered("environment") and _norm(want.environment) != _norm(have.environment):
        events.append(
            _pair(
                "environment-changed",
                _norm(want.environment),
                _norm(have.environment),
                expectation,
                index_only=True,
            )
        )
    if (
        considered("signer")
        and not _repository(want)
        and not _repository(have)
        and want.san
        and have.san
        and want.san != have.san
    ):
        events.append(_pair("signer-changed", want.san, have.san, expectation))
    return events


def compare(evidence: ComponentEvidence, expectations: Sequence[Expectation]) -> list[DriftEvent]:
    """Every drift event of ``evidence`` against each expectation (in order, no duplicates)."""
    events: list[DriftEvent] = []
    for expectation in expectations:
        want = expectation.identity
        if want is None:
            continue
        if evidence.status in (Status.ABSENT, Status.PARTIAL):
            after = "partially attested" if evidence.status is Status.PARTIAL else "not attested"
            events.append(_pair("attestation-disappeared", "attested", after, expectation))
            continue
        have = evidence.identity
        if evidence.status is not Status.VERIFIED or have is None:
            continue  # unknown, invalid or unsupported: reported by their own status
        events.extend(_identity_events(want, have, expectation))
    return list(dict.fromkeys(events))
