"""Talk to a PEP 503/691 index and the PEP 740 Integrity API."""

from __future__ import annotations

from bomguard.index.interface import FetchedFile, FetchState, ReleaseFetch, ReleaseRequest
from bomguard.index.simple import DEFAULT_INDEX_URL, IndexOptions, fetch_releases, redact_url

__all__ = [
    "DEFAULT_INDEX_URL",
    "FetchState",
    "FetchedFile",
    "IndexOptions",
    "ReleaseFetch",
    "ReleaseRequest",
    "fetch_releases",
    "redact_url",
]
