"""SPDX 2.2/2.3 JSON and YAML: read packages, write back with additions only.

Like CycloneDX JSON, the document is kept as its parsed tree and edited in place (never
round-tripped through spdx-tools' models, which drop what they do not model). Per PyPI
package bomguard appends one entry to the package's ``annotations`` and one per
provenance URL to its ``externalRefs`` (see :mod:`bomguard.sbom._spdx2`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bomguard.errors import InputError
from bomguard.models import Component
from bomguard.sbom._common import (
    ATTESTATION_COMMENT,
    dump_json,
    json_indent,
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

__all__ = ["Spdx2Json"]


def _str(node: dict[str, Any], key: str, where: str) -> str | None:
    value = node.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return str(value)


def _list(node: dict[str, Any], key: str, where: str) -> list[Any]:
    value = node.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{where}.{key}: expected a list, got {type(value).__name__}")
    return value


class Spdx2Json(SbomDocument):
    """An SPDX 2.2 or 2.3 document in JSON."""

    format_name = "SPDX JSON"
    format_id = "spdx-json"

    def __init__(self, data: dict[str, Any], path: Path | None = None, raw: bytes = b"") -> None:
        super().__init__(path)
        self.data = data
        self._raw = raw
        self._label = label_of(path)
        self._version = supported_version(
            f"{self._label}: spdxVersion", data.get("spdxVersion"), SPDX2_VERSIONS
        )
        self._added: dict[str, Addition] = {}
        self._created = timestamp()
        self._packages()  # fail now, not halfway through enrich(), on a malformed package

    @classmethod
    def sniff(cls, data: object) -> bool:
        """Whether parsed JSON/YAML looks like an SPDX 2 document."""
        return isinstance(data, dict) and "spdxVersion" in data

    @property
    def spec_version(self) -> str:
        return self._version.removeprefix("SPDX-")

    def _packages(self) -> list[tuple[str, dict[str, Any]]]:
        packages = self.data.get("packages", [])
        if not isinstance(packages, list):
            raise InputError(
                f"{self._label}: packages: expected a list, got {type(packages).__name__}"
            )
        out = []
        for i, package in enumerate(packages):
            if not isinstance(package, dict):
                raise InputError(f"{self._label}: packages[{i}]: expected an object")
            out.append((f"/packages/{i}", package))
        return out

    def _raw_package(self, index: int, package: dict[str, Any]) -> RawPackage:
        where = f"{self._label}: packages[{index}]"
        raw = RawPackage(
            spdx_id=_str(package, "SPDXID", where),
            name=_str(package, "name", where) or "",
            version=_str(package, "versionInfo", where),
            purpose=_str(package, "primaryPackagePurpose", where),
            download_location=_str(package, "downloadLocation", where),
            file_name=_str(package, "packageFileName", where),
            licenses=[
                v
                for v in (
                    _str(package, "licenseDeclared", where),
                    _str(package, "licenseConcluded", where),
                )
                if v
            ],
        )
        for j, ref in enumerate(_list(package, "externalRefs", where)):
            ref_where = f"{where}.externalRefs[{j}]"
            if not isinstance(ref, dict):
                raise InputError(f"{ref_where}: expected an object")
            category = _str(ref, "referenceCategory", ref_where) or ""
            ref_type = _str(ref, "referenceType", ref_where) or ""
            locator = _str(ref, "referenceLocator", ref_where) or ""
            raw.add_external_ref(category, ref_type, locator)
        for j, checksum in enumerate(_list(package, "checksums", where)):
            if isinstance(checksum, dict):
                algorithm = _str(checksum, "algorithm", f"{where}.checksums[{j}]")
                value = _str(checksum, "checksumValue", f"{where}.checksums[{j}]")
                if algorithm and value:
                    raw.checksums.append((algorithm, value))
        for annotation in _list(package, "annotations", where):
            if isinstance(annotation, dict) and is_bomguard_annotator(
                str(annotation.get("annotator", ""))
            ):
                raw.bomguard_comments.append(str(annotation.get("comment", "")))
        return raw

    def components(self) -> list[Component]:
        return [
            component_from_package(self._raw_package(i, package), locator)
            for i, (locator, package) in enumerate(self._packages())
        ]

    def relationships(self) -> Relationships | None:
        """``relationships`` and ``documentDescribes``."""
        triples = [
            (str(r["spdxElementId"]), str(r["relationshipType"]), str(r["relatedSpdxElement"]))
            for r in self.data.get("relationships") or []
            if isinstance(r, dict)
            and all(
                isinstance(r.get(k), str)
                for k in ("spdxElementId", "relationshipType", "relatedSpdxElement")
            )
        ]
        describes = self.data.get("documentDescribes")
        roots = [d for d in describes if isinstance(d, str)] if isinstance(describes, list) else []
        return relationships_from(triples, roots)

    # -- writing ---------------------------------------------------------------------

    def enrich(self, additions: Mapping[str, Addition]) -> None:
        packages = dict(self._packages())
        created = self._created
        for locator, addition in additions.items():
            package = packages[locator]
            where = f"{self._label}: {locator.strip('/').replace('/', '[', 1)}]"
            spdx_id = _str(package, "SPDXID", where)
            if not spdx_id:
                raise InputError(f"{where}.SPDXID: missing; cannot annotate the package")
            annotations = [
                a
                for a in _list(package, "annotations", where)
                if not (isinstance(a, dict) and is_bomguard_annotator(str(a.get("annotator", ""))))
            ]
            annotations.append(
                {
                    "annotationDate": created,
                    "annotationType": "OTHER",
                    "annotator": f"Tool: {tool_name()}",
                    "comment": annotation_comment(addition),
                }
            )
            package["annotations"] = annotations
            had_refs = isinstance(package.get("externalRefs"), list)
            refs = [
                r
                for r in _list(package, "externalRefs", where)
                if not (isinstance(r, dict) and r.get("comment") == ATTESTATION_COMMENT)
            ]
            refs.extend(
                {
                    "referenceCategory": "OTHER",
                    "referenceType": ATTESTATION_REF_TYPE,
                    "referenceLocator": attestation_locator(url),
                    "comment": ATTESTATION_COMMENT,
                }
                for url in addition.attestation_urls
            )
            if refs or had_refs:
                package["externalRefs"] = refs
            self._added[spdx_id] = addition

    def serialize(self) -> bytes:
        return dump_json(self.data, json_indent(self._raw) if self._raw else "  ")

    # -- validation ------------------------------------------------------------------

    def _parse_with_spdx_tools(self, raw: bytes) -> Any:
        from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser

        return JsonLikeDictParser().parse(  # type: ignore[no-untyped-call]
            json.loads(raw)
        )

    def validate(self) -> str | None:
        problems = additions_problems(self._version, self._added, self._created)
        if problems:
            return problems[0]
        before = spdx2_problems(lambda: self._parse_with_spdx_tools(self._raw))
        after = spdx2_problems(lambda: self._parse_with_spdx_tools(self.serialize()))
        return first_new_problem(before, after)
