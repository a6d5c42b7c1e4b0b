"""The ``bomguard:`` property names that repeat, and the one form of each value.

No property name carries data (docs/properties.md): a fact about one file or one drift
event is a property with a fixed name, repeated once per file or event, whose value names
the file. Tools that index properties by name (Dependency-Track among them) see a fixed
set of names, as the CycloneDX property taxonomy asks.

Each value is written by one function here and read back by its ``parse_*`` twin, which
returns ``None`` for anything that is not exactly the written form: whoever carried the
SBOM may have edited it, so a reader never guesses.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bomguard.identity_record import as_record
from bomguard.models import DriftEvent, DriftSource, Status

__all__ = [
    "DRIFT_EVENT",
    "FILE",
    "FILE_IDENTITIES",
    "FILE_STATUSES",
    "REPEATED",
    "PropertyBag",
    "drift_event_value",
    "file_identities_value",
    "file_value",
    "old_layout_name",
    "pairs_from_object",
    "parse_drift_event",
    "parse_file_identities",
    "parse_file_value",
    "properties_object",
]

FILE = "bomguard:provenance:file"
"""One per distribution file checked: ``<filename> <status>``."""
FILE_IDENTITIES = "bomguard:provenance:file-identities"
"""One per file whose identities are not only the component's: canonical JSON
``{"file": <filename>, "identities": [<record>, ...]}``."""
DRIFT_EVENT = "bomguard:drift:event"
"""One per drift event, in event order: canonical JSON with :data:`DRIFT_EVENT_KEYS`."""
REPEATED = frozenset({FILE, FILE_IDENTITIES, DRIFT_EVENT})
"""The names a component may carry more than once; every other name has one value."""

#: The statuses a file can have (``partial`` and ``not-applicable`` are component-only).
FILE_STATUSES = frozenset(
    s.value
    for s in (Status.VERIFIED, Status.ABSENT, Status.INVALID, Status.UNSUPPORTED, Status.UNKNOWN)
)
DRIFT_EVENT_KEYS = ("kind", "before", "after", "source", "since")
ASSERTED_BY = "asserted-by"
_SOURCES = frozenset(s.value for s in DriftSource)
#: The names of the layout before fixed names: the filename or event number in the name.
_OLD_LAYOUT = re.compile(
    r"^bomguard:(?:provenance:(?:file|file-identities):.|drift:\d+:)", re.DOTALL
)


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def file_value(filename: str, status: Status) -> str:
    """The :data:`FILE` value: the filename, one space, the status."""
    return f"{filename} {status.value}"


def parse_file_value(value: str) -> tuple[str, Status] | None:
    """``(filename, status)`` from a :data:`FILE` value, or ``None`` when it is not one.

    The status is the last space-separated token, so any filename (spaces included)
    reads back as written.
    """
    filename, sep, status = value.rpartition(" ")
    if not sep or not filename or status not in FILE_STATUSES:
        return None
    return filename, Status(status)


def file_identities_value(filename: str, records: Sequence[Mapping[str, str]]) -> str:
    """The :data:`FILE_IDENTITIES` value for ``filename``."""
    return _canonical({"file": filename, "identities": [dict(r) for r in records]})


def parse_file_identities(value: str) -> tuple[str, list[dict[str, str]]] | None:
    """``(filename, records)`` from a :data:`FILE_IDENTITIES` value, or ``None`` unless it
    is exactly an object of ``file`` (a non-empty string) and ``identities`` (a non-empty
    list of records, objects of strings)."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) != {"file", "identities"}:
        return None
    filename, raw = data["file"], data["identities"]
    if not isinstance(filename, str) or not filename or not isinstance(raw, list) or not raw:
        return None
    records = [as_record(r) for r in raw]
    if any(r is None or not r for r in records):
        return None
    return filename, [r for r in records if r is not None]


def drift_event_value(event: DriftEvent) -> str:
    """The :data:`DRIFT_EVENT` value for ``event``."""
    out = {
        "kind": event.kind,
        "before": event.before,
        "after": event.after,
        "source": event.source.value,
        "since": event.since,
    }
    if event.asserted_by_index:
        out[ASSERTED_BY] = "index"
    return _canonical(out)


def parse_drift_event(value: str) -> dict[str, str] | None:
    """The fields of a :data:`DRIFT_EVENT` value, or ``None`` unless it is exactly the
    written object: the five keys (strings; a non-empty kind, a known source) and
    ``asserted-by`` only as ``index``."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    record = as_record(data)
    if record is None:
        return None
    keys = set(record)
    if keys != set(DRIFT_EVENT_KEYS) and keys != {*DRIFT_EVENT_KEYS, ASSERTED_BY}:
        return None
    if not record["kind"] or record["source"] not in _SOURCES:
        return None
    if record.get(ASSERTED_BY, "index") != "index":
        return None
    return record


def old_layout_name(name: str) -> bool:
    """Whether ``name`` is of the older layout that put a filename or event number in it
    (``bomguard:provenance:file:<filename>``, ``bomguard:drift:<n>:<field>``)."""
    return _OLD_LAYOUT.match(name) is not None


# -- the properties of a component, as read --------------------------------------------


class PropertyBag:
    """A component's properties in document order, as every reader hands them over."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.pairs = list(pairs)

    def fields(self) -> dict[str, Any]:
        """The :class:`~bomguard.models.Component` fields: ``properties`` (last value of
        each name), ``repeated_properties`` and ``repeated_values`` (every value, in
        order, of each name given more than once)."""
        counts = Counter(n for n, _ in self.pairs)
        repeated = tuple(sorted(n for n, c in counts.items() if c > 1))
        values: dict[str, list[str]] = {}
        for name, value in self.pairs:
            if counts[name] > 1:
                values.setdefault(name, []).append(value)
        return {
            "properties": dict(self.pairs),
            "repeated_properties": repeated,
            "repeated_values": {k: tuple(v) for k, v in values.items()},
        }


# -- the JSON object SPDX carries them in ------------------------------------------------


def properties_object(pairs: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    """The properties as one JSON object (the SPDX annotation): a name of :data:`REPEATED`
    maps to the list of its values in order, every other name to its one value."""
    out: dict[str, str | list[str]] = {}
    lists: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in REPEATED:
            if name not in lists:
                out[name] = lists[name] = []
            lists[name].append(value)
        else:
            out[name] = value
    return out


def pairs_from_object(data: Mapping[str, object], prefix: str) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of :func:`properties_object`'s output, for names that
    start with ``prefix``: each value of a list in order (so a list given for any name
    reads as that name repeated), any other value as its string."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = str(key)
        if not name.startswith(prefix):
            continue
        if isinstance(value, list):
            pairs.extend((name, v if isinstance(v, str) else _canonical(v)) for v in value)
        else:
            pairs.append((name, str(value)))
    return pairs
