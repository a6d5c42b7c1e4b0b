"""Values exchanged between the index stage and the rest of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FetchState", "FetchedFile", "ReleaseFetch", "ReleaseRequest"]


class FetchState(StrEnum):
    """What fetching one file's provenance produced."""

    PRESENT = "present"
    """Provenance bytes were fetched (not yet verified)."""
    ABSENT = "absent"
    """The index implements PEP 740 and says the file has no provenance."""
    UNKNOWN = "unknown"
    """Could not be determined; ``reason`` says why."""
    CONFLICT = "conflict"
    """The file's digests disagree (SBOM and index, or the bytes served and the digest
    advertised), or the SBOM's hash matches no file: a red flag."""


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    """One release to look up; equal requests are fetched once.

    ``refs`` narrow the release to the files the SBOM names, as ``(filename, sha256)``
    pairs where either may be ``None``; empty means every file of the release.
    """

    project: str
    version: str
    refs: frozenset[tuple[str | None, str | None]] = frozenset()
    index_url: str | None = None
    """An index other than the default (e.g. from a ``repository_url`` qualifier)."""


@dataclass(frozen=True, slots=True)
class FetchedFile:
    """One distribution file and its provenance, as the index served them."""

    filename: str
    sha256: str | None
    state: FetchState
    reason: str = ""
    url: str | None = None
    provenance_url: str | None = None
    provenance: bytes | None = None
    sbom_sha256: bool = False
    """Whether the SBOM itself recorded this file's sha256 (and it agrees with the index)."""
    downloaded: bool = False
    """Whether ``sha256`` is the digest of the bytes downloaded (``--hash-files``), which
    agreed with the index's (or the SBOM's) digest where there was one."""


@dataclass(frozen=True, slots=True)
class ReleaseFetch:
    """Every file of one release (as narrowed by the request) with its provenance."""

    request: ReleaseRequest
    files: tuple[FetchedFile, ...] = ()
    error: str | None = None
    """Set when the release could not be looked up at all (page failed, no such version)."""
    index_url: str | None = None
    versions: tuple[str, ...] = ()
    """Every version that has files on the project page, oldest first (PEP 440 order)."""
