"""Releases the store answers whole, answered before any request is made.

In a warm run every project page is fresh in the store and every provenance object is
stored: nothing needs the network, and the event loop's machinery (a task per release
and per file, a future and a thread hop per store read) costs more than the reads. Here
those releases are answered in three steps for the lot: one batched read of the pages,
one of the provenance objects, then each release planned and assembled by the same code
the fetching path uses (:func:`bomguard.index.simple.plan_release`,
:meth:`~bomguard.index.simple._Client.provenance_start`), with exactly its checks (every
row's MAC, its body's sha256 and key parts; a tampered row is dropped and reported).

A release with anything else to do (a stale or missing page, a page that does not parse,
a file whose provenance is not stored, ``--hash-files``) is left to the fetching path
whole, which reads the store again and fetches what it lacks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from bomguard.index.interface import FetchedFile, FetchState, ReleaseFetch, ReleaseRequest
from bomguard.index.simple import (
    ReleasePlan,
    _Failure,
    plan_release,
    project_page_url,
    redact_url,
    unusable_digest,
)

if TYPE_CHECKING:
    from bomguard.index.simple import _Client, _PageFile

__all__ = ["answer_from_store"]

_RELEASES_AT_ONCE = 250
"""Releases answered together: their stored rows, as read and checked, are held at once
(all of 5,000 releases' rows at once added about 30 MiB to a warm run's peak)."""


def answer_from_store(
    client: _Client, requests: Sequence[ReleaseRequest]
) -> dict[ReleaseRequest, ReleaseFetch]:
    """The results of those of ``requests`` the store answers without a request.

    Pages read here are kept in ``client.pages`` (as done futures), so the fetching path
    does not read or parse them again.
    """
    if client.cache is None or client.mirror is not None or client.options.hash_files:
        return {}
    answered: dict[ReleaseRequest, ReleaseFetch] = {}
    for start in range(0, len(requests), _RELEASES_AT_ONCE):
        answered.update(_answer(client, requests[start : start + _RELEASES_AT_ONCE]))
    return answered


def _answer(
    client: _Client, requests: Sequence[ReleaseRequest]
) -> dict[ReleaseRequest, ReleaseFetch]:
    cache = client.cache
    assert cache is not None
    _read_fresh_pages(client, requests)
    answered: dict[ReleaseRequest, ReleaseFetch] = {}
    plans: list[tuple[ReleasePlan, list[FetchedFile | tuple[FetchedFile, str, str]]]] = []
    lookups: list[tuple[str, str, str]] = []
    for request in requests:
        index_url = request.index_url or client.options.index_url
        page = client.pages.get((index_url, request.project))
        if page is None or not page.done() or page.exception() is not None:
            continue
        planned = plan_release(request, page.result(), client.shown_index(index_url))
        if isinstance(planned, ReleaseFetch):
            answered[request] = planned  # the page alone decides it
            continue
        started = [client.provenance_start(index_url, f) for f in planned.selected]
        keys = [_stored_key(f, s) for f, s in zip(planned.selected, started, strict=True)]
        if None in keys:
            continue  # a file whose provenance the store cannot have: fetched
        lookups.extend(key for key in keys if key)
        plans.append((planned, started))
    unique = list(dict.fromkeys(lookups))
    stored = dict(zip(unique, cache.get_provenances(unique), strict=True)) if unique else {}
    for planned, started in plans:
        files = _files(planned, started, stored)
        if files is not None:
            answered[planned.request] = planned.result(files)
    return answered


def _read_fresh_pages(client: _Client, requests: Sequence[ReleaseRequest]) -> None:
    """Put every stored page still fresh for ``requests`` into ``client.pages``, parsed."""
    assert client.cache is not None
    wanted: dict[tuple[str, str], str] = {}
    for request in requests:
        index_url = request.index_url or client.options.index_url
        key = (index_url, request.project)
        if key not in client.pages and key not in wanted:
            wanted[key] = project_page_url(index_url, request.project)
    if not wanted:
        return
    found = client.cache.get_pages([redact_url(url) for url in wanted.values()])
    loop = asyncio.get_running_loop()
    now = time.time()
    for (key, url), cached in zip(wanted.items(), found, strict=True):
        if cached is None or cached.fresh_until <= now:
            continue
        try:
            files = client.parse_stored(cached, url)
        except _Failure:
            continue  # the fetching path reads it again and says why
        page: asyncio.Future[list[_PageFile]] = loop.create_future()
        page.set_result(files)
        client.pages[key] = page


def _stored_key(
    page_file: _PageFile, started: FetchedFile | tuple[FetchedFile, str, str]
) -> tuple[str, str, str] | tuple[()] | None:
    """The key of the file's stored provenance; ``()`` for a file the page alone answers;
    ``None`` for one whose provenance is never stored (the index gives no sha256)."""
    if page_file.sha256_problem is not None or isinstance(started, FetchedFile):
        return ()
    if not page_file.sha256:
        return None
    return (started[2], page_file.filename, page_file.sha256)


def _files(
    planned: ReleasePlan,
    started: list[tuple[FetchedFile, str, str] | FetchedFile],
    stored: dict[tuple[str, str, str], bytes | None],
) -> list[FetchedFile] | None:
    """The selected files' results, or ``None`` if one's provenance is not stored."""
    files = []
    for page_file, start in zip(planned.selected, started, strict=True):
        if page_file.sha256_problem is not None:
            files.append(unusable_digest(page_file))
            continue
        if isinstance(start, FetchedFile):
            files.append(start)
            continue
        assert page_file.sha256 is not None
        body = stored.get((start[2], page_file.filename, page_file.sha256))
        if body is None:
            return None
        files.append(replace(start[0], state=FetchState.PRESENT, provenance=body))
    return files
