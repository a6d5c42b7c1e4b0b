"""Talk to a PEP 503/691 index and the PEP 740 Integrity API."""

from __future__ import annotations

from bomguard.index.cache import StoreCache, default_cache_dir
from bomguard.index.interface import FetchedFile, FetchState, ReleaseFetch, ReleaseRequest
from bomguard.index.mirror import Mirror
from bomguard.index.simple import (
    DEFAULT_INDEX_URL,
    MAX_FILE_BYTES,
    IndexOptions,
    fetch_mirror,
    fetch_releases,
    index_url_problem,
    project_page_url,
    redact_url,
    store_location,
)

__all__ = [
    "DEFAULT_INDEX_URL",
    "MAX_FILE_BYTES",
    "FetchState",
    "FetchedFile",
    "IndexOptions",
    "Mirror",
    "ReleaseFetch",
    "ReleaseRequest",
    "StoreCache",
    "default_cache_dir",
    "fetch_mirror",
    "fetch_releases",
    "index_url_problem",
    "project_page_url",
    "redact_url",
    "store_location",
]
