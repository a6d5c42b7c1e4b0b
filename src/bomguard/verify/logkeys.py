"""Hold each transparency-log entry to the validity window of the log key that signed it.

A Sigstore trust root gives every transparency log's key a ``validFor`` window
(``start``, and an ``end`` once the key is retired). sigstore-python builds its keyring
from every key whatever its window, so an entry whose inclusion promise is signed by a
retired (possibly leaked) key after its ``end``, or by a key before its ``start``, would
be accepted. :class:`LogKeyWindows` is checked before the fast path and sigstore: an
entry whose log id names a key of the trust root must have been integrated inside that
key's window. An entry whose log id names no key, or that carries no integrated time
(Rekor v2 forms), is left to sigstore, which rejects or declines it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = ["LogKeyWindows"]

_Window = tuple[datetime | None, datetime | None]


def _time(value: object) -> datetime | None:
    """An RFC 3339 timestamp as protobuf-specs JSON writes it (``...Z``), or ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LogKeyWindows:
    """The ``validFor`` windows of a trust root's transparency-log keys, by log id."""

    def __init__(self, windows: Mapping[bytes, list[_Window]]) -> None:
        self._windows = dict(windows)

    @classmethod
    def from_trusted_root(cls, raw: bytes) -> LogKeyWindows:
        """Read the ``tlogs`` of a ``trusted_root.json`` (already parsed by sigstore, so
        only what is well-formed is taken; a key without a readable ``start`` has its
        window open at that end, as sigstore's own reading would leave it)."""
        windows: dict[bytes, list[_Window]] = {}
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return cls(windows)
        tlogs = doc.get("tlogs") if isinstance(doc, dict) else None
        for tlog in tlogs if isinstance(tlogs, list) else ():
            if not isinstance(tlog, dict):
                continue
            log_id = tlog.get("logId")
            key = tlog.get("publicKey")
            if not isinstance(log_id, dict) or not isinstance(key, dict):
                continue
            try:
                key_id = base64.b64decode(str(log_id.get("keyId", "")), validate=True)
            except (binascii.Error, ValueError):
                continue
            valid_for = key.get("validFor")
            valid_for = valid_for if isinstance(valid_for, dict) else {}
            window = (_time(valid_for.get("start")), _time(valid_for.get("end")))
            windows.setdefault(key_id, []).append(window)
        return cls(windows)

    def problem(self, where: str, entry: object) -> str | None:
        """Why ``entry`` (a PEP 740 transparency-log entry, as JSON) was integrated at a
        time its log key was not valid, or ``None`` (also for what is not this check's to
        decide: an unknown log id, no integrated time, a malformed entry)."""
        if not isinstance(entry, Mapping):
            return None
        log_id = entry.get("logId") or entry.get("log_id")
        raw_time = entry.get("integratedTime", entry.get("integrated_time"))
        if not isinstance(log_id, Mapping):
            return None
        try:
            key_id = base64.b64decode(
                str(log_id.get("keyId", log_id.get("key_id", ""))), validate=True
            )
            integrated = int(str(raw_time))
        except (binascii.Error, ValueError):
            return None
        windows = self._windows.get(key_id)
        if not windows or integrated <= 0:
            return None
        try:
            at = datetime.fromtimestamp(integrated, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
        for start, end in windows:
            if (start is None or start <= at) and (end is None or at <= end):
                return None
        start, end = windows[0]
        span = f"valid from {_iso(start) if start else 'the start'}" + (
            f" until {_iso(end)}" if end else ""
        )
        return (
            f"{where}: the transparency log key {key_id.hex()[:16]} was not valid at the "
            f"entry's integrated time {_iso(at)} ({span})"
        )
