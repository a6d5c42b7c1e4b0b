"""Share the strings and claim maps of the identities of one run.

Each verdict comes from a worker process or the cache as freshly built objects, so 15,000
files' identities hold 15,000 copies of what are a few thousand distinct repositories,
workflows, issuers and Fulcio claim maps (101 MiB of 1.3 million small blocks at 5,000
components). Interning them keeps one copy of each; the values are unchanged.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

from bomguard.models import Identity
from bomguard.verify.verifier import FileVerdict

__all__ = ["Interner"]

_STRING_FIELDS = tuple(
    f.name for f in dataclasses.fields(Identity) if f.name not in ("claims", "trusted_publisher")
)


class Interner:
    """Identities rebuilt from shared parts (one interner per run)."""

    def __init__(self) -> None:
        self._maps: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}

    def _map(self, value: Mapping[str, str]) -> Mapping[str, str]:
        key = tuple((sys.intern(k), sys.intern(v)) for k, v in value.items())
        shared = self._maps.get(key)
        if shared is None:
            shared = self._maps[key] = dict(key)
        return shared

    def identity(self, identity: Identity | None) -> Identity | None:
        if identity is None:
            return None
        changes: dict[str, object] = {
            name: sys.intern(value)
            for name in _STRING_FIELDS
            if isinstance(value := getattr(identity, name), str)
        }
        changes["claims"] = self._map(identity.claims)
        changes["trusted_publisher"] = self._map(identity.trusted_publisher)
        return dataclasses.replace(identity, **changes)  # type: ignore[arg-type]

    def identity_from(self, data: Mapping[str, Any] | None) -> Identity | None:
        """An identity from its stored JSON form, built from shared parts at once."""
        if data is None:
            return None
        fields: dict[str, Any] = {
            k: sys.intern(v) if isinstance(v, str) else v for k, v in data.items()
        }
        fields["claims"] = self._map(data.get("claims") or {})
        fields["trusted_publisher"] = self._map(data.get("trusted_publisher") or {})
        return Identity(**fields)

    def verdict(self, verdict: FileVerdict) -> FileVerdict:
        status, reason, results, identity = verdict
        shared = tuple(
            dataclasses.replace(r, identity=self.identity(r.identity))
            if r.identity is not None
            else r
            for r in results
        )
        # The file's identity is one of its attestations' (the first verified one).
        first = next((r.identity for r in shared if r.identity == identity), None)
        return status, reason, shared, first if first is not None else self.identity(identity)
