"""Parse the trust root only when something needs it parsed.

Parsing a ``trusted_root.json`` means importing sigstore and its models (about half a
second), and a run whose every result comes from the store needs nothing of the root but
the digest those results are keyed by. A malformed root must still be refused (exit 2)
before the run goes on, so the fact that a root parses is remembered in the store: a
``trust-root`` row, keyed and MAC'd like every other entry, names the root's sha256 and
the versions of the code that parsed it (:func:`bomguard.verify.batch.code_versions`).
A root with such a row is not parsed again; any other root is parsed at once, as
:func:`~bomguard.verify.trust.load_trust_root` does, and the row written when it parses.
A row that does not authenticate is dropped and reported, and the root parsed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from bomguard.verify.trust import TrustRoot, check_trust_root

__all__ = ["ensure_parses"]

_KIND = "trust-root"


def _key(root: TrustRoot, versions: str) -> str:
    return hashlib.sha256(f"{root.sha256}\0{versions}".encode()).hexdigest()


def ensure_parses(
    root: TrustRoot, location: str | None, on_tampered: Callable[[str], None] | None = None
) -> None:
    """Raise as :func:`check_trust_root` does unless the store at ``location`` records
    that this root parsed under this code before."""
    from bomguard.verify.batch import code_versions

    store = None
    if location is not None:
        from bomguard.store import shared_store

        store = shared_store(location)
    versions = code_versions()
    key = _key(root, versions)
    if store is not None:
        what = f"the record that the trust root {root.source} parses"
        found = store.get(_KIND, key, what, on_tampered, again="checked")
        if found is not None:
            fields = found[0]
            if fields.get("sha256") == root.sha256 and fields.get("versions") == versions:
                return
    check_trust_root(root)
    if store is not None:
        store.put(_KIND, key, {"sha256": root.sha256, "versions": versions}, None)
