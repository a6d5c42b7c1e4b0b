"""The publisher identity as bomguard records it, and reads it back.

One list of fields serves every place an identity is written or compared: the
``bomguard:provenance:publisher:*`` properties of a component, the per-file identity
records of a release with more than one identity, the baseline and pin sources of drift,
and ``bomguard verify``, which re-derives each identity from its certificate and
requires it to equal the record field by field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bomguard.models import Identity

__all__ = [
    "RECORDED_FIELDS",
    "as_record",
    "identity_from_record",
    "identity_key",
    "identity_record",
    "record_from_json",
    "record_json",
]

#: Record key (after ``bomguard:provenance:``) → :class:`Identity` attribute, in the order
#: the properties are written. Every one is bound by the certificate or by the Trusted
#: Publisher it was checked against, except ``publisher:environment`` (the index's word).
RECORDED_FIELDS: tuple[tuple[str, str], ...] = (
    ("publisher:kind", "kind"),
    ("publisher:repository", "repository"),
    ("publisher:workflow", "workflow"),
    ("publisher:environment", "environment"),
    ("publisher:issuer", "issuer"),
    ("publisher:identity", "san"),
    ("publisher:repository-uri", "repository_uri"),
    ("publisher:repository-id", "repository_id"),
    ("publisher:owner-uri", "owner_uri"),
    ("publisher:owner-id", "owner_id"),
    ("publisher:trigger", "trigger"),
    ("publisher:runner-environment", "runner_environment"),
    ("publisher:ref", "ref"),
    ("publisher:commit", "commit"),
    ("publisher:build-signer-uri", "build_signer_uri"),
    ("publisher:build-config-uri", "build_config_uri"),
)
TRUSTED_PUBLISHER = "publisher:trusted-publisher"
"""The Trusted Publisher object itself, as canonical JSON: what ``verify`` holds the
signature to."""


def record_json(value: Mapping[str, object]) -> str:
    """Canonical JSON (sorted keys, no spaces) for a record or a Trusted Publisher."""
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def identity_record(identity: Identity) -> dict[str, str]:
    """The recorded form of ``identity``: every field that has a value, plus the
    Trusted Publisher object (log positions are per attestation and are not part of it)."""
    out: dict[str, str] = {}
    for key, attribute in RECORDED_FIELDS:
        value = getattr(identity, attribute)
        if value:
            out[key] = str(value)
    if identity.trusted_publisher:
        out[TRUSTED_PUBLISHER] = record_json(identity.trusted_publisher)
    return out


def identity_key(identity: Identity) -> tuple[tuple[str, str], ...]:
    """A hashable form of the recorded identity: two identities are one when equal."""
    return tuple(sorted(identity_record(identity).items()))


def as_record(data: object) -> dict[str, str] | None:
    """``data`` as a record (an object of strings), or ``None`` when it is not one."""
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        return None
    return dict(data)


def record_from_json(text: str) -> dict[str, str] | None:
    """A record written by :func:`record_json`, or ``None`` when it is not one."""
    try:
        return as_record(json.loads(text))
    except ValueError:
        return None


def identity_from_record(record: Mapping[str, str]) -> Identity:
    """The :class:`Identity` a record describes (no claims, no log positions)."""
    values: dict[str, Any] = {
        attribute: record.get(key) or None for key, attribute in RECORDED_FIELDS
    }
    publisher: dict[str, str] = {}
    raw = record.get(TRUSTED_PUBLISHER)
    if raw:
        publisher = record_from_json(raw) or {}
    return Identity(**values, trusted_publisher=publisher)
