"""SPDX 2.2/2.3 tag-value: read packages, write back with additions only.

The document is kept as its lines and read with a small tolerant reader (``Tag: value``
lines, ``<text>…</text>`` values over several lines, ``#`` comments): real generators
write tag-value that spdx-tools' own parser refuses, and bomguard must still read it.
Enrichment only inserts whole lines, so the output minus bomguard's lines is the input,
byte for byte:

- after the last line of each enriched package's own tags, one
  ``ExternalRef: OTHER attestation <url>`` line (and its ``ExternalRefComment``) per
  provenance URL;
- at the end of the document, one annotation per enriched package
  (``Annotator``/``AnnotationDate``/``AnnotationType``/``SPDXREF``/``AnnotationComment``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bomguard.errors import InputError
from bomguard.models import Component
from bomguard.sbom._common import (
    ATTESTATION_COMMENT,
    label_of,
    supported_version,
    timestamp,
    tool_name,
)
from bomguard.sbom._spdx2 import (
    ATTESTATION_REF_TYPE,
    SPDX2_VERSIONS,
    RawPackage,
    additions_problems,
    annotation_comment,
    attestation_locator,
    component_from_package,
    first_new_problem,
    is_bomguard_annotator,
    relationships_from,
    spdx2_problems,
)
from bomguard.sbom.graph import Relationships
from bomguard.sbom.interface import Addition, SbomDocument

__all__ = ["Spdx2TagValue", "looks_like_tagvalue"]

_TAG_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)\s*:\s?(.*)$", re.DOTALL)
_SNIFF = re.compile(r"^\s*SPDXVersion\s*:\s*SPDX-", re.MULTILINE)
#: The tags that belong to a package (after ``PackageName``, until anything else).
_PACKAGE_TAGS = frozenset(
    {
        "SPDXID",
        "FilesAnalyzed",
        "ExternalRef",
        "ExternalRefComment",
        "PrimaryPackagePurpose",
        "BuiltDate",
        "ReleaseDate",
        "ValidUntilDate",
    }
)
_ANNOTATION_TAGS = frozenset({"AnnotationDate", "AnnotationType", "SPDXREF", "AnnotationComment"})


def looks_like_tagvalue(text: str) -> bool:
    """Whether ``text`` looks like an SPDX tag-value document."""
    return _SNIFF.search(text[:65536]) is not None


@dataclass(frozen=True, slots=True)
class _Entry:
    tag: str
    value: str
    first: int
    """Index of the entry's first line."""
    last: int
    """Index of the entry's last line (a ``<text>`` value may span several)."""


def _entries(lines: list[str], label: str) -> list[_Entry]:
    entries: list[_Entry] = []
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r\n")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        match = _TAG_LINE.match(stripped)
        if match is None:
            raise InputError(f"{label}: line {i + 1}: expected 'Tag: value', got {stripped[:60]!r}")
        tag, value = match.group(1), match.group(2)
        first = i
        if value.lstrip().startswith("<text>"):
            body = value.lstrip()[len("<text>") :]
            parts = []
            while "</text>" not in body:
                parts.append(body)
                i += 1
                if i >= len(lines):
                    raise InputError(
                        f"{label}: line {first + 1}: <text> value of {tag} is never closed"
                    )
                body = lines[i].rstrip("\r\n")
            parts.append(body[: body.index("</text>")])
            value = "\n".join(parts)
        entries.append(_Entry(tag, value.strip(), first, i))
        i += 1
    return entries


@dataclass
class _Package:
    locator: str
    raw: RawPackage
    last_line: int


class Spdx2TagValue(SbomDocument):
    """An SPDX 2.2 or 2.3 document in tag-value format."""

    format_name = "SPDX tag-value"
    format_id = "spdx-tagvalue"

    def __init__(self, text: str, path: Path | None = None) -> None:
        super().__init__(path)
        self._label = label_of(path)
        self._text = text
        self.lines = text.splitlines(keepends=True)
        self._newline = "\r\n" if self.lines and self.lines[0].endswith("\r\n") else "\n"
        entries = _entries(self.lines, self._label)
        self._relationship_lines = [e.value for e in entries if e.tag == "Relationship"]
        versions = [e for e in entries if e.tag == "SPDXVersion"]
        if not versions:
            raise InputError(f"{self._label}: SPDXVersion: missing")
        self._version = supported_version(
            f"{self._label}: line {versions[0].first + 1}: SPDXVersion",
            versions[0].value,
            SPDX2_VERSIONS,
        )
        self._packages, self._own_lines = self._read(entries)
        self._insert_after: dict[int, list[str]] = {}
        self._appended: list[str] = []
        self._dropped: set[int] = set()
        self._added: dict[str, Addition] = {}
        self._created = timestamp()

    @classmethod
    def sniff(cls, text: str) -> bool:
        """Whether text looks like SPDX tag-value."""
        return looks_like_tagvalue(text)

    @property
    def spec_version(self) -> str:
        return self._version.removeprefix("SPDX-")

    # -- reading ---------------------------------------------------------------------

    def _read(self, entries: list[_Entry]) -> tuple[list[_Package], set[int]]:
        """The packages, and the lines of bomguard's own earlier additions."""
        packages: list[_Package] = []
        own_lines: set[int] = set()
        comments_by_id: dict[str, list[str]] = {}
        i = 0
        while i < len(entries):
            entry = entries[i]
            if entry.tag == "Annotator":
                block = [entry]
                while i + 1 < len(entries) and entries[i + 1].tag in _ANNOTATION_TAGS:
                    i += 1
                    block.append(entries[i])
                if is_bomguard_annotator(entry.value):
                    fields = {e.tag: e.value for e in block}
                    subject = fields.get("SPDXREF", "")
                    comments_by_id.setdefault(subject, []).append(
                        fields.get("AnnotationComment", "")
                    )
                    own_lines.update(self._span(block))
                    if entry.first > 0 and not self.lines[entry.first - 1].strip():
                        own_lines.add(entry.first - 1)  # the blank line bomguard put before it
                i += 1
                continue
            if entry.tag != "PackageName":
                i += 1
                continue
            raw = RawPackage(spdx_id=None, name=entry.value)
            last = entry.last
            pending_ref: list[_Entry] = []
            while i + 1 < len(entries):
                nxt = entries[i + 1]
                if not (nxt.tag.startswith("Package") and nxt.tag != "PackageName") and (
                    nxt.tag not in _PACKAGE_TAGS
                ):
                    break
                i += 1
                last = nxt.last
                self._package_field(raw, nxt, pending_ref, own_lines)
            packages.append(_Package("", raw, last))
            i += 1
        seen: dict[str, int] = {}
        for package in packages:
            spdx_id = package.raw.spdx_id or ""
            seen[spdx_id] = seen.get(spdx_id, 0) + 1
            package.locator = spdx_id if seen[spdx_id] == 1 else f"{spdx_id}#{seen[spdx_id]}"
            package.raw.bomguard_comments = comments_by_id.get(spdx_id, [])
        return packages, own_lines

    def _span(self, block: list[_Entry]) -> set[int]:
        return {n for e in block for n in range(e.first, e.last + 1)}

    def _package_field(
        self, raw: RawPackage, entry: _Entry, pending_ref: list[_Entry], own_lines: set[int]
    ) -> None:
        tag, value = entry.tag, entry.value
        if tag == "ExternalRefComment":
            if pending_ref and value == ATTESTATION_COMMENT:
                own_lines.update(self._span([pending_ref[0], entry]))
            pending_ref.clear()
            return
        pending_ref.clear()
        if tag == "SPDXID":
            raw.spdx_id = value
        elif tag == "PackageVersion":
            raw.version = value
        elif tag == "PrimaryPackagePurpose":
            raw.purpose = value
        elif tag == "PackageDownloadLocation":
            raw.download_location = value
        elif tag == "PackageFileName":
            raw.file_name = value
        elif tag in ("PackageLicenseDeclared", "PackageLicenseConcluded"):
            raw.licenses.append(value)
        elif tag == "PackageChecksum":
            algorithm, _, checksum = value.partition(":")
            if checksum.strip():
                raw.checksums.append((algorithm.strip(), checksum.strip()))
        elif tag == "ExternalRef":
            parts = value.split()
            if len(parts) >= 3:
                raw.add_external_ref(parts[0], parts[1], " ".join(parts[2:]))
                if parts[0] == "OTHER" and parts[1] == ATTESTATION_REF_TYPE:
                    pending_ref.append(entry)

    def components(self) -> list[Component]:
        return [component_from_package(p.raw, p.locator) for p in self._packages]

    def relationships(self) -> Relationships | None:
        """``Relationship: A TYPE B`` lines."""
        triples = []
        for value in self._relationship_lines:
            parts = value.split()
            if len(parts) >= 3:
                triples.append((parts[0], parts[1], parts[2]))
        return relationships_from(triples)

    # -- writing ---------------------------------------------------------------------

    def enrich(self, additions: Mapping[str, Addition]) -> None:
        by_locator = {p.locator: p for p in self._packages}
        nl = self._newline
        self._dropped = set(self._own_lines)
        self._insert_after = {}
        self._appended = []
        for locator, addition in additions.items():
            package = by_locator[locator]
            spdx_id = package.raw.spdx_id
            if not spdx_id:
                raise InputError(
                    f"{self._label}: line {package.last_line + 1}: package "
                    f"{package.raw.name!r} has no SPDXID; cannot annotate it"
                )
            lines = self._insert_after.setdefault(package.last_line, [])
            for url in addition.attestation_urls:
                lines.append(
                    f"ExternalRef: OTHER {ATTESTATION_REF_TYPE} {attestation_locator(url)}{nl}"
                )
                lines.append(f"ExternalRefComment: <text>{ATTESTATION_COMMENT}</text>{nl}")
            comment = annotation_comment(addition).replace("</", "<\\/")
            self._appended.extend(
                [
                    nl,
                    f"Annotator: Tool: {tool_name()}{nl}",
                    f"AnnotationDate: {self._created}{nl}",
                    f"AnnotationType: OTHER{nl}",
                    f"SPDXREF: {spdx_id}{nl}",
                    f"AnnotationComment: <text>{comment}</text>{nl}",
                ]
            )
            self._added[spdx_id] = addition

    def serialize(self) -> bytes:
        out: list[str] = []
        for n, line in enumerate(self.lines):
            if n not in self._dropped:
                out.append(line)
            extra = self._insert_after.get(n)
            if extra:
                if not out[-1].endswith(("\n", "\r")):
                    out[-1] += self._newline
                out.extend(extra)
        if self._appended:
            if out and not out[-1].endswith(("\n", "\r")):
                out.append(self._newline)
            out.extend(self._appended)
        return "".join(out).encode("utf-8")

    # -- validation ------------------------------------------------------------------

    @staticmethod
    def _parse_with_spdx_tools(text: str) -> Any:
        from spdx_tools.spdx.parser.tagvalue.parser import Parser

        return Parser().parse(text)  # type: ignore[no-untyped-call]

    def validate(self) -> str | None:
        problems = additions_problems(self._version, self._added, self._created)
        if problems:
            return problems[0]
        before = spdx2_problems(lambda: self._parse_with_spdx_tools(self._text))
        after = spdx2_problems(
            lambda: self._parse_with_spdx_tools(self.serialize().decode("utf-8"))
        )
        return first_new_problem(before, after)
