"""CycloneDX JSON (spec 1.4 to 1.7): read components, write back with additions only.

The document is kept as the parsed JSON tree and edited in place, so every field the
input had (including ones the CycloneDX models do not know) survives unchanged.
cyclonedx-python-lib is used for what it does best: validating against the official
schema of the document's spec version.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from bomguard.errors import InputError
from bomguard.models import Component, DistRef
from bomguard.sbom._common import (
    ATTESTATION_COMMENT,
    NAMESPACE,
    dump_json,
    filename_from_url,
    json_indent,
    label_of,
    supported_version,
)
from bomguard.sbom.graph import Edge, Relationships
from bomguard.sbom.interface import Addition, SbomDocument
from bomguard.sbom.purl import PurlError, parse_pypi_purl
from bomguard.sbom.taxonomy import PropertyBag
from bomguard.sbom.tool_record import record_in_json

if TYPE_CHECKING:
    from bomguard._spool import ProvenanceSpool

__all__ = ["ATTESTATION_COMMENT", "NAMESPACE", "CycloneDxJson", "component_from_cdx"]

SUPPORTED_VERSIONS = ("1.4", "1.5", "1.6", "1.7")
#: ``attestation`` became an external reference type in CycloneDX 1.5.
ATTESTATION_TYPE_SINCE = ("1.5", "1.6", "1.7")


class CycloneDxJson(SbomDocument):
    """A CycloneDX JSON document."""

    format_name = "CycloneDX JSON"
    format_id = "cyclonedx-json"

    def __init__(self, data: dict[str, Any], path: Path | None = None, raw: bytes = b"") -> None:
        super().__init__(path)
        self.data = data
        self._indent = json_indent(raw) if raw else "  "
        self._spool: ProvenanceSpool | None = None
        self._label = label_of(path)
        self._version = supported_version(
            f"{self._label}: specVersion", data.get("specVersion"), SUPPORTED_VERSIONS, "CycloneDX "
        )

    @classmethod
    def sniff(cls, data: object) -> bool:
        """Whether parsed JSON looks like a CycloneDX document."""
        return isinstance(data, dict) and data.get("bomFormat") == "CycloneDX"

    @property
    def spec_version(self) -> str:
        return self._version

    # -- reading ---------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(json-pointer, component)`` for every component in the document."""
        stack: list[tuple[str, Any]] = []
        metadata = self.data.get("metadata")
        if isinstance(metadata, dict) and "component" in metadata:
            stack.append(("/metadata/component", metadata["component"]))
        components = self.data.get("components", [])
        if not isinstance(components, list):
            raise InputError(f"{self._label}: components: expected a list")
        stack.extend((f"/components/{i}", c) for i, c in enumerate(components))
        stack.reverse()
        while stack:
            pointer, node = stack.pop()
            if not isinstance(node, dict):
                raise InputError(f"{self._label}: {_path(pointer)}: expected an object")
            yield pointer, node
            children = node.get("components", [])
            if not isinstance(children, list):
                raise InputError(f"{self._label}: {_path(pointer)}.components: expected a list")
            stack.extend(
                (f"{pointer}/components/{i}", c) for i, c in reversed(list(enumerate(children)))
            )

    def components(self) -> list[Component]:
        return [self._component(pointer, node) for pointer, node in self._walk()]

    def _component(self, pointer: str, node: dict[str, Any]) -> Component:
        return component_from_cdx(node, pointer, f"{self._label}: {_path(pointer)}")

    def relationships(self) -> Relationships | None:
        """``dependencies[].dependsOn`` (and ``provides``); the root is ``metadata.component``."""
        entries = self.data.get("dependencies")
        if not isinstance(entries, list):
            return None
        edges: list[Edge] = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("ref"), str):
                continue
            for key, kind in (("dependsOn", "depends"), ("provides", "provides")):
                targets = entry.get(key)
                if isinstance(targets, list):
                    edges.extend(Edge(entry["ref"], t, kind) for t in targets if isinstance(t, str))
        metadata = self.data.get("metadata")
        root = metadata.get("component") if isinstance(metadata, dict) else None
        ref = root.get("bom-ref") if isinstance(root, dict) else None
        return Relationships(tuple(edges), (ref,) if isinstance(ref, str) else ())

    # -- writing ---------------------------------------------------------------------

    def enrich(self, additions: Mapping[str, Addition]) -> None:
        nodes = dict(self._walk())
        for pointer, addition in additions.items():
            node = nodes[pointer]
            kept = [
                p
                for p in _list(node.get("properties"))
                if not (isinstance(p, dict) and str(p.get("name", "")).startswith(NAMESPACE))
            ]
            kept.extend({"name": k, "value": v} for k, v in addition.properties)
            node["properties"] = kept
            old_refs = _list(node.get("externalReferences"))
            refs = [
                r
                for r in old_refs
                if not (isinstance(r, dict) and r.get("comment") == ATTESTATION_COMMENT)
            ]
            ref_type = "attestation" if self._version in ATTESTATION_TYPE_SINCE else "other"
            refs.extend(
                {"url": url, "comment": ATTESTATION_COMMENT, "type": ref_type}
                for url in addition.attestation_urls
            )
            if refs or isinstance(node.get("externalReferences"), list):
                node["externalReferences"] = refs
        record_in_json(self.data, self._version)

    @property
    def supports_declarations(self) -> bool:
        major, minor = (int(x) for x in self._version.split("."))
        return (major, minor) >= (1, 6)

    def add_declarations(
        self,
        declarations: dict[str, Any],
        standards: list[dict[str, Any]],
        spool: ProvenanceSpool | None = None,
    ) -> None:
        from bomguard.sbom.cyclonedx_declarations import merge_declarations

        if not self.supports_declarations:
            raise NotImplementedError(f"CycloneDX {self._version} has no declarations")
        merged, definitions = merge_declarations(self.data, declarations, standards)
        self.data["declarations"] = merged
        self.data["definitions"] = definitions
        self._spool = spool

    def claim_targets(self, locators: Sequence[str]) -> dict[str, str]:
        """The ``bom-ref`` each component's claim targets; a component that has none is
        given one (``bomguard:component:<n>``), so that every claim names its component."""
        nodes = dict(self._walk())
        taken = {str(n.get("bom-ref")) for n in nodes.values() if n.get("bom-ref")}
        out: dict[str, str] = {}
        n = 0
        for locator in locators:
            node = nodes[locator]
            ref = node.get("bom-ref")
            if not isinstance(ref, str) or not ref:
                while f"bomguard:component:{n}" in taken:
                    n += 1
                ref = f"bomguard:component:{n}"
                taken.add(ref)
                node["bom-ref"] = ref
            out[locator] = ref
        return out

    def embedded_evidence(self) -> dict[str, list[tuple[str, str | None, bytes]]]:
        from bomguard.sbom.cyclonedx_declarations import read_embedded

        by_ref = {
            node.get("bom-ref"): pointer for pointer, node in self._walk() if node.get("bom-ref")
        }
        return read_embedded(self.data, by_ref, self._spool)

    def serialize(self) -> bytes:
        if self._spool is None:
            return dump_json(self.data, self._indent)
        buffer = io.BytesIO()
        self.write_to(buffer)
        return buffer.getvalue()

    def write_to(self, handle: IO[bytes]) -> None:
        """Stream the document, each embedded provenance object read back as it is
        reached (:mod:`bomguard.sbom.cyclonedx_stream`)."""
        from bomguard.sbom.cyclonedx_stream import write_json

        write_json(handle, self.data, self._indent, self._spool)

    def validate(self) -> str | None:
        from bomguard.sbom.validate import first_error

        return first_error(self._version, self.data)


def _str(node: dict[str, Any], key: str, where: str) -> str | None:
    value = node.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def component_from_cdx(node: dict[str, Any], locator: str, where: str) -> Component:
    """A :class:`Component` from a CycloneDX component object (JSON-shaped).

    ``where`` prefixes error messages (the file and the component's key path).
    """
    name = _str(node, "name", where) or ""
    purl = _str(node, "purl", where)
    hashes: dict[str, list[str]] = {}
    refs: list[DistRef] = []
    for i, h in enumerate(_list(node.get("hashes"))):
        alg, content = _hash(h)
        if alg and content:
            hashes.setdefault(alg, []).append(content)
            if alg == "sha256":
                refs.append(DistRef(filename=None, sha256=content))
        elif h is not None:
            raise InputError(f"{where}.hashes[{i}]: not a hash object")
    for ref in _list(node.get("externalReferences")):
        if not isinstance(ref, dict) or ref.get("type") != "distribution":
            continue
        url = ref.get("url") if isinstance(ref.get("url"), str) else None
        filename = filename_from_url(url) if url else None
        shas = [c for a, c in map(_hash, _list(ref.get("hashes"))) if a == "sha256" and c]
        if shas:
            refs.extend(DistRef(filename=filename, sha256=s, url=url) for s in shas)
        elif filename:
            refs.append(DistRef(filename=filename, sha256=None, url=url))
    pypi = None
    pypi_error = None
    if purl:
        try:
            pypi = parse_pypi_purl(purl)
        except PurlError as err:
            pypi_error = str(err)
    licenses = []
    for lic in _list(node.get("licenses")):
        if isinstance(lic, dict):
            if isinstance(lic.get("expression"), str):
                licenses.append(lic["expression"])
            inner = lic.get("license")
            if isinstance(inner, dict):
                value = inner.get("id") or inner.get("name")
                if isinstance(value, str):
                    licenses.append(value)
    named = [
        (p["name"], str(p.get("value", "")))
        for p in _list(node.get("properties"))
        if isinstance(p, dict) and isinstance(p.get("name"), str)
    ]
    return Component(
        locator=locator,
        bom_ref=_str(node, "bom-ref", where),
        name=name,
        version=_str(node, "version", where),
        purl=purl,
        type=_str(node, "type", where),
        scope=_str(node, "scope", where),
        group=_str(node, "group", where),
        hashes={k: tuple(dict.fromkeys(v)) for k, v in hashes.items()},
        dist_refs=tuple(dict.fromkeys(refs)),
        licenses=tuple(licenses),
        pypi=pypi,
        pypi_error=pypi_error,
        **PropertyBag(named).fields(),
    )


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _hash(h: object) -> tuple[str | None, str | None]:
    if not isinstance(h, dict):
        return None, None
    alg, content = h.get("alg"), h.get("content")
    if not isinstance(alg, str) or not isinstance(content, str):
        return None, None
    return alg.lower().replace("-", ""), content.lower()


def _path(pointer: str) -> str:
    """Render a JSON pointer as a key path: ``/components/3`` → ``components[3]``."""
    out = ""
    for part in pointer.strip("/").split("/"):
        if part.isdigit():
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
