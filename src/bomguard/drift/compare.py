"""Compare a release's verified publisher identity with what was expected of it.

Everything compared is bound by the signing certificate (or the transparency log),
except the deployment ``environment``, which only the index asserts: its event says so.

Every identity of a release counts, not only the first: each file's and each bundle's
is compared with each expectation, a release whose files or bundles disagree among
themselves raises ``multiple-identities``, and a signing workflow that lives in another
repository than the source (a reusable workflow elsewhere) raises
``signer-outside-repository``. A pin names what it requires: a field the pin names and
the identity lacks is a mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bomguard.identity_record import identity_key
from bomguard.models import ComponentEvidence, DriftEvent, DriftSource, Identity, Status

__all__ = [
    "EVENT_KINDS",
    "Expectation",
    "compare",
    "distinct_identities",
    "ref_shape",
    "release_events",
]

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
    "multiple-identities",
    "signer-outside-repository",
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


def _signer_path(uri: str | None) -> str:
    """A signer or config URI without its ``@ref``: which workflow file, in which repo."""
    return _norm(uri).split("@", 1)[0].rstrip("/").lower()


def _foreign_signer(identity: Identity) -> bool:
    """Whether the signing workflow is not the source repository's own (GitHub, GitLab)."""
    if identity.kind not in ("GitHub", "GitLab") or not identity.san:
        return False
    repository = _norm(identity.repository_uri).lower().rstrip("/")
    return bool(repository) and not _signer_path(identity.san).startswith(repository + "/")


def _identity_events(want: Identity, have: Identity, expectation: Expectation) -> list[DriftEvent]:
    fields = expectation.fields
    pin = fields is not None
    events: list[DriftEvent] = []

    def considered(name: str) -> bool:
        return fields is None or name in fields

    def differs(before: str | None, after: str | None) -> bool:
        """Unequal values; a pin also fails on a value the identity lacks."""
        if pin:
            return bool(before) and _norm(before) != _norm(after)
        return bool(before) and bool(after) and before != after

    if considered("kind") and _norm(want.kind) != _norm(have.kind):
        events.append(
            _pair("publisher-kind-changed", _norm(want.kind), _norm(have.kind), expectation)
        )
    same = _same_repository(want, have)
    if same is None and pin and _repository(want) and not _repository(have):
        same = False
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
    if considered("workflow") and differs(want.workflow, have.workflow):
        events.append(
            _pair("workflow-changed", _norm(want.workflow), _norm(have.workflow), expectation)
        )
    if considered("ref") and want.ref and have.ref and ref_shape(want.ref) != ref_shape(have.ref):
        events.append(_pair("ref-changed", want.ref, have.ref, expectation))
    if considered("trigger") and differs(want.trigger, have.trigger):
        events.append(
            _pair("trigger-changed", _norm(want.trigger), _norm(have.trigger), expectation)
        )
    if considered("runner_environment") and differs(
        want.runner_environment, have.runner_environment
    ):
        events.append(
            _pair(
                "runner-changed",
                _norm(want.runner_environment),
                _norm(have.runner_environment),
                expectation,
            )
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
    if considered("signer"):
        if pin or (not _repository(want) and not _repository(have)):
            if differs(want.san, have.san):
                events.append(
                    _pair("signer-changed", _norm(want.san), _norm(have.san), expectation)
                )
        elif (
            (_foreign_signer(want) or _foreign_signer(have))
            and want.san
            and have.san
            and _signer_path(want.san) != _signer_path(have.san)
        ):
            events.append(_pair("signer-changed", want.san, have.san, expectation))
    return events


def _describe(identity: Identity) -> str:
    """A short name for an identity in an event: repository and workflow, or the signer."""
    where = _norm(identity.repository_uri or identity.repository)
    if where and identity.workflow:
        return f"{where} ({identity.workflow})"
    return where or _norm(identity.san) or _norm(identity.kind)


def distinct_identities(evidence: ComponentEvidence) -> list[Identity]:
    """The release's identities, one of each (by :func:`identity_key`), first seen first."""
    return list({identity_key(i): i for i in evidence.identities}.values())


def release_events(evidence: ComponentEvidence, version: str) -> list[DriftEvent]:
    """Events a release raises by itself: identities that disagree, a foreign signer."""
    if evidence.status not in (Status.VERIFIED, Status.PARTIAL):
        return []
    identities = distinct_identities(evidence)
    events: list[DriftEvent] = []
    itself = Expectation(DriftSource.RELEASE, version, identities[0] if identities else None)
    for other in identities[1:]:
        assert itself.identity is not None
        if _identity_events(itself.identity, other, itself):
            events.append(
                _pair(
                    "multiple-identities",
                    _describe(itself.identity),
                    _describe(other),
                    itself,
                )
            )
    for identity in identities:
        if _foreign_signer(identity):
            events.append(
                _pair(
                    "signer-outside-repository",
                    _norm(identity.repository_uri),
                    _norm(identity.san),
                    itself,
                )
            )
    return list(dict.fromkeys(events))


def compare(evidence: ComponentEvidence, expectations: Sequence[Expectation]) -> list[DriftEvent]:
    """Every drift event of ``evidence`` against each expectation (in order, no duplicates)."""
    events: list[DriftEvent] = []
    for expectation in expectations:
        want = expectation.identity
        if want is None:
            continue
        if evidence.status in (Status.ABSENT, Status.PARTIAL, Status.UNSUPPORTED):
            after = {
                Status.PARTIAL: "partially attested",
                Status.ABSENT: "not attested",
                Status.UNSUPPORTED: "unsupported",
            }[evidence.status]
            events.append(_pair("attestation-disappeared", "attested", after, expectation))
            # What did verify still counts: a partial release signed elsewhere is drift too.
        elif evidence.status is not Status.VERIFIED:
            continue  # unknown or invalid: reported by their own status
        for have in distinct_identities(evidence):
            events.extend(_identity_events(want, have, expectation))
    return list(dict.fromkeys(events))
