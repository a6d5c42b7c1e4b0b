"""What a run can tell before fetching about how much of it the evidence store answers.

A warm run (every page fresh, every provenance object and verification result stored)
needs no worker pool, and starting one costs more than the rest of such a run. Whether
to fork the pool *before* fetching (while the process is still one thread, so that the
workers can verify while the rest is fetched) is decided from the project pages the
store holds: a release whose page is stored is answered from the store in milliseconds,
so overlapping its verification with fetching gains nothing. Files that turn out to need
verifying anyway are verified after fetching (:meth:`bomguard.verify.batch.VerifyStream.finish`),
in a pool then if there are enough of them. This is planning only: which rows exist is
asked without authenticating them, and no result depends on the answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from bomguard.index import (
    IndexOptions,
    ReleaseRequest,
    project_page_url,
    redact_url,
    store_location,
)

__all__ = ["results_location", "uncached_releases"]


def results_location(options: IndexOptions) -> str | None:
    """Where verification results are kept (``None``: nowhere).

    Unlike the index cache this includes runs from a mirror: a result is keyed by the
    provenance bytes, the file, its digest, the trust root and the code that checked
    it, never by where the bytes came from.
    """
    if options.mirror is None:
        return store_location(options)
    if options.store is not None:
        return options.store
    if options.cache_dir is not None:
        from bomguard.store import STORE_FILENAME

        return str(options.cache_dir / STORE_FILENAME)
    return None


def uncached_releases(requests: Iterable[ReleaseRequest], options: IndexOptions) -> int:
    """How many of ``requests`` need their project page from the index (none from a
    mirror; all without a store)."""
    wanted = list(dict.fromkeys(requests))
    if options.mirror is not None:
        return 0
    location = store_location(options)
    if location is None or not wanted:
        return len(wanted)
    from bomguard.index.cache import row_key
    from bomguard.store import shared_store

    store = shared_store(location)
    if store is None:
        return len(wanted)
    keys = {
        r: row_key(redact_url(project_page_url(r.index_url or options.index_url, r.project)))
        for r in wanted
    }
    stored = store.present("pages", sorted(set(keys.values())))
    return sum(1 for key in keys.values() if key not in stored)
