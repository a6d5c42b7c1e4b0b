"""Value types shared by every stage.

Facts are values, never exceptions: a component's provenance is always one of the
:class:`Status` members, with a reason when it is not ``verified``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

__all__ = [
    "AttestationResult",
    "Component",
    "ComponentEvidence",
    "DigestSource",
    "DistRef",
    "DriftEvent",
    "DriftSource",
    "FileEvidence",
    "Identity",
    "PypiRef",
    "Status",
    "summarize",
]


class Status(StrEnum):
    """The provenance status of a file or a component (see docs/enrichment.md)."""

    VERIFIED = "verified"
    PARTIAL = "partial"
    ABSENT = "absent"
    INVALID = "invalid"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not-applicable"


class DigestSource(StrEnum):
    """Where the sha256 that bound an attestation's subject came from."""

    INDEX = "index"
    SBOM = "sbom"
    DOWNLOADED = "downloaded"
    """The sha256 of the bytes bomguard downloaded itself (``--hash-files``)."""


_T = TypeVar("_T")


def _reduce(value: _T) -> tuple[type[_T], tuple[object, ...]]:
    """Pickle a slotted frozen dataclass as its class and field values, in order.

    Verification workers send every verdict back pickled; a slotted frozen dataclass's
    own pickling calls ``dataclasses.fields()`` for every object both ways, a noticeable
    share of the main process's CPU in a cold run. Unpickling calls the class with the
    same values, so the object is the same.
    """
    return type(value), tuple(getattr(value, name) for name in value.__slots__)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PypiRef:
    """A PyPI package named by an SBOM component.

    ``name`` is PEP 503-normalised; ``version`` is the PEP 440-normalised form (or the
    raw string when it does not parse, or ``None`` when the SBOM gives none).
    """

    name: str
    version: str | None
    raw_name: str
    raw_version: str | None
    repository_url: str | None = None
    version_error: str | None = None


@dataclass(frozen=True, slots=True)
class DistRef:
    """A distribution file named by the SBOM: its filename, its sha256, or both."""

    filename: str | None
    sha256: str | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Component:
    """One component of the input SBOM, as read (nothing here is verified)."""

    locator: str
    """Where the component sits in the document (a JSON pointer for JSON formats)."""
    bom_ref: str | None
    name: str
    version: str | None
    purl: str | None
    type: str | None = None
    scope: str | None = None
    group: str | None = None
    hashes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Algorithm (lower-case, e.g. ``sha256``) to hex digests (lower-case)."""
    dist_refs: tuple[DistRef, ...] = ()
    """Distribution files the SBOM itself names (by URL, filename or hash)."""
    licenses: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    pypi: PypiRef | None = None
    pypi_error: str | None = None
    """Why a ``pkg:pypi`` purl could not be understood, when it could not."""
    repeated_properties: tuple[str, ...] = ()
    """Property names the component carries more than once (``properties`` keeps the
    last): ``bomguard verify`` refuses a record with two values for one fact."""
    repeated_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Every value, in document order, of each name in ``repeated_properties``."""

    def values(self, name: str) -> tuple[str, ...]:
        """Every value of property ``name``, in document order (none when absent)."""
        if name in self.repeated_values:
            return self.repeated_values[name]
        value = self.properties.get(name)
        return () if value is None else (value,)


@dataclass(frozen=True, slots=True)
class Identity:
    """The publisher identity, read from a verified signing certificate.

    Every field except ``environment`` is bound by the certificate (or by the
    transparency log, for the ``log_*`` fields). ``kind``, ``repository`` and
    ``workflow`` are the index's Trusted Publisher, which the certificate was checked
    against (so they are bound too).
    """

    kind: str | None
    """Trusted Publisher kind the index claimed and the certificate satisfied."""
    issuer: str | None = None
    repository: str | None = None
    """Repository slug as the Trusted Publisher names it (``owner/name``)."""
    repository_uri: str | None = None
    repository_id: str | None = None
    owner_uri: str | None = None
    owner_id: str | None = None
    workflow: str | None = None
    """Workflow (GitHub) or CI configuration file path (GitLab)."""
    ref: str | None = None
    commit: str | None = None
    build_signer_uri: str | None = None
    build_config_uri: str | None = None
    build_config_digest: str | None = None
    trigger: str | None = None
    runner_environment: str | None = None
    run_invocation_uri: str | None = None
    visibility: str | None = None
    san: str | None = None
    """The certificate's subject alternative name (URI or e-mail)."""
    environment: str | None = None
    """Index-asserted (not in the certificate): the deployment environment."""
    log_id: str | None = None
    log_index: int | None = None
    integrated_time: int | None = None
    claims: Mapping[str, str] = field(default_factory=dict)
    """Every Fulcio claim present, keyed by OID."""
    trusted_publisher: Mapping[str, str] = field(default_factory=dict)
    """The Trusted Publisher object the certificate was checked against, as PEP 740
    writes it (``kind``, ``repository``, ``workflow``, ``email``, ``project_id``, ...)."""

    def __reduce__(self) -> tuple[type[Identity], tuple[object, ...]]:
        return _reduce(self)


@dataclass(frozen=True, slots=True)
class AttestationResult:
    """The outcome of one attestation of one file."""

    predicate_type: str | None
    status: Status
    reason: str = ""
    identity: Identity | None = None

    def __reduce__(self) -> tuple[type[AttestationResult], tuple[object, ...]]:
        return _reduce(self)


@dataclass(frozen=True, slots=True)
class FileEvidence:
    """What is known of one distribution file's provenance."""

    filename: str
    sha256: str | None
    status: Status
    reason: str = ""
    url: str | None = None
    provenance_url: str | None = None
    digest_source: DigestSource | None = None
    attestations: tuple[AttestationResult, ...] = ()
    identity: Identity | None = None
    """The identity of the first verified attestation, when the file is verified."""

    @property
    def identities(self) -> tuple[Identity, ...]:
        """Every verified attestation's identity (one per attestation, repeats included)."""
        found = tuple(a.identity for a in self.attestations if a.identity is not None)
        if not found and self.identity is not None:
            return (self.identity,)
        return found

    provenance: bytes | None = field(default=None, repr=False, compare=False)
    """The provenance object itself, kept only when it is to be embedded in the SBOM."""
    provenance_sha256: str | None = None
    """SHA-256 of the provenance object's bytes, when one was fetched (the VSA names it)."""


class DriftSource(StrEnum):
    """Where an expected publisher identity came from."""

    PREVIOUS_RELEASE = "previous-release"
    BASELINE = "baseline"
    PIN = "pin"
    RELEASE = "release"
    """The release itself: its files or bundles disagree among themselves."""
    STORE = "store"
    """The identity history of the evidence store: what the fleet has seen before."""


@dataclass(frozen=True, slots=True)
class DriftEvent:
    """One way this release's publisher identity differs from what was expected."""

    kind: str
    """``repository-changed``, ``workflow-changed``, ... (see docs/enrichment.md)."""
    before: str
    after: str
    source: DriftSource
    since: str = ""
    """What the expectation came from: a version, a baseline file, a pin file."""
    asserted_by_index: bool = False
    """True when the fact is only asserted by the index (e.g. the GitHub environment)."""

    def summary(self, name: str, version: str) -> str:
        """One line for people: ``sigstore 3.6.1: workflow changed a → b since 3.6.0``."""
        what = self.kind.replace("-", " ")
        where = {
            DriftSource.PREVIOUS_RELEASE: f"since {self.since}",
            DriftSource.BASELINE: f"since the baseline ({self.since})",
            DriftSource.PIN: f"against the pin ({self.since})",
            DriftSource.RELEASE: "within the release",
            DriftSource.STORE: f"since the fleet saw {self.since}",
        }[self.source]
        note = " (asserted by the index only)" if self.asserted_by_index else ""
        return f"{name} {version}: {what} {self.before or '∅'} → {self.after or '∅'} {where}{note}"


@dataclass(frozen=True, slots=True)
class ComponentEvidence:
    """A component's provenance, summed up over its files."""

    status: Status
    reason: str = ""
    files: tuple[FileEvidence, ...] = ()
    index_url: str | None = None
    drift: tuple[DriftEvent, ...] = ()
    drift_checked: tuple[str, ...] = ()
    """The expectation sources that were compared (e.g. ``previous-release:3.6.0``)."""
    drift_unchecked: tuple[str, ...] = ()
    """Expectation sources that applied but could not be compared, each with the reason
    (e.g. ``previous-release:3.6.0 (unknown)``): drift is then not known to be absent."""

    @property
    def identity(self) -> Identity | None:
        """The identity of the first verified file, if any."""
        for f in self.files:
            if f.identity is not None:
                return f.identity
        return None

    @property
    def identities(self) -> tuple[Identity, ...]:
        """Every verified file's and every verified attestation's identity, in order."""
        return tuple(i for f in self.files for i in f.identities)

    def count(self, status: Status) -> int:
        """How many files have ``status``."""
        return sum(1 for f in self.files if f.status is status)


_ORDER = (Status.INVALID, Status.UNKNOWN, Status.UNSUPPORTED)


def summarize(files: tuple[FileEvidence, ...]) -> tuple[Status, str]:
    """Sum file statuses up into a component status (design.md's rule).

    Any ``invalid`` file makes the component ``invalid``; else any ``unknown`` makes it
    ``unknown``; else any ``unsupported`` makes it ``unsupported``; all ``verified`` is
    ``verified``; some ``verified`` and the rest ``absent`` is ``partial``; none attested
    is ``absent``. No files at all is ``unknown``: there is nothing to vouch for.
    """
    if not files:
        return Status.UNKNOWN, "no distribution files to check"
    for status in _ORDER:
        bad = [f for f in files if f.status is status]
        if bad:
            first = bad[0]
            more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
            return status, f"{first.filename}: {first.reason}{more}"
    verified = sum(1 for f in files if f.status is Status.VERIFIED)
    if verified == len(files):
        return Status.VERIFIED, ""
    if verified:
        return Status.PARTIAL, f"{verified} of {len(files)} files attested"
    return Status.ABSENT, "no file of this release has provenance"
