"""The installed distributions, as ``sys.path`` shows them: one directory scan per process.

Two things key stored work by what is installed: verification results by the versions of
the libraries that verify (:func:`bomguard.verify.batch.code_versions`) and remembered
policy checks by every installed distribution (:func:`bomguard.policy.vetted.revision`).
Both read the names of the ``.dist-info`` / ``.egg-info`` directories on ``sys.path``
(a wheel install names its directory ``{name}-{version}.dist-info``), far cheaper than
``importlib.metadata``, which also parses each candidate's metadata.
"""

from __future__ import annotations

import functools
import os
import sys

__all__ = ["metadata_dirs"]

_SUFFIXES = (".dist-info", ".egg-info")


@functools.cache
def metadata_dirs() -> tuple[tuple[str, ...], ...]:
    """For each ``sys.path`` entry, in order, the names of the distribution metadata
    directories in it (none for an entry that cannot be listed)."""
    found = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")  # noqa: PTH208 - names only, no Path objects
        except OSError:
            names = []
        found.append(tuple(sorted(n for n in names if n.endswith(_SUFFIXES))))
    return tuple(found)
