"""CycloneDX XML (spec 1.4 to 1.7): read components, write back with additions only.

The document is parsed with defusedxml (see :mod:`bomguard.sbom._xml`) and edited as an
ElementTree tree in place: every element, attribute, comment and namespace prefix of the
input is written back. Additions go where the official XSD's ``xs:sequence`` for a
component wants them (``externalReferences`` then ``properties``, after ``pedigree`` and
before ``components``), an order read from the XSD that ships with cyclonedx-python-lib,
and the output is validated against that same XSD.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from bomguard.errors import InputError
from bomguard.models import Component
from bomguard.sbom._common import (
    ATTESTATION_COMMENT,
    NAMESPACE,
    label_of,
    one_line,
    supported_version,
)
from bomguard.sbom._xml import (
    XmlTree,
    insert_pretty,
    iter_elements,
    local_name,
    namespace_of,
    remove_child,
    serialize_xml,
    whitespace_before,
)
from bomguard.sbom.cyclonedx_json import (
    ATTESTATION_TYPE_SINCE,
    SUPPORTED_VERSIONS,
    component_from_cdx,
)
from bomguard.sbom.graph import Edge, Relationships
from bomguard.sbom.interface import Addition, SbomDocument
from bomguard.sbom.tool_record import record_in_xml

__all__ = ["CDX_NS_PREFIX", "CycloneDxXml"]

CDX_NS_PREFIX = "http://cyclonedx.org/schema/bom/"
_XS = "{http://www.w3.org/2001/XMLSchema}"
_TEXT_FIELDS = ("name", "version", "group", "purl", "scope")


@functools.cache
def component_order(spec_version: str) -> tuple[str, ...]:
    """The child element names of a CycloneDX ``component``, in the XSD's sequence order."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.schema._res import BOM_XML
    from defusedxml.ElementTree import parse

    schema_file = BOM_XML.get(SchemaVersion.from_version(spec_version))
    if schema_file is None:  # pragma: no cover - every supported version has one
        raise ValueError(f"no CycloneDX {spec_version} XSD")
    root = parse(schema_file).getroot()
    if root is None:  # pragma: no cover - the bundled XSD has a root
        raise ValueError(f"empty CycloneDX {spec_version} XSD")
    for complex_type in root.iter(f"{_XS}complexType"):
        if complex_type.get("name") == "component":
            sequence = complex_type.find(f"{_XS}sequence")
            if sequence is not None:
                return tuple(_sequence_names(sequence))
    raise ValueError(f"no component type in the CycloneDX {spec_version} XSD")  # pragma: no cover


def _sequence_names(group: ET.Element) -> Iterator[str]:
    for item in group:
        if item.tag == f"{_XS}element" and item.get("name"):
            yield str(item.get("name"))
        elif item.tag in (f"{_XS}choice", f"{_XS}sequence"):
            yield from _sequence_names(item)


class CycloneDxXml(SbomDocument):
    """A CycloneDX XML document."""

    format_name = "CycloneDX XML"
    format_id = "cyclonedx-xml"

    def __init__(self, tree: XmlTree, path: Path | None = None) -> None:
        super().__init__(path)
        self.tree = tree
        self._label = label_of(path)
        namespace = namespace_of(tree.root.tag)
        if local_name(tree.root.tag) != "bom" or not namespace.startswith(CDX_NS_PREFIX):
            raise InputError(f"{self._label}: root element is not a CycloneDX <bom>")
        version = supported_version(
            f"{self._label}: bom", namespace[len(CDX_NS_PREFIX) :], SUPPORTED_VERSIONS, "CycloneDX "
        )
        self._ns = namespace
        self._version = version

    @classmethod
    def sniff(cls, tree: XmlTree) -> bool:
        """Whether a parsed XML document is a CycloneDX BOM."""
        return local_name(tree.root.tag) == "bom" and namespace_of(tree.root.tag).startswith(
            CDX_NS_PREFIX
        )

    @property
    def spec_version(self) -> str:
        return self._version

    def _q(self, name: str) -> str:
        return f"{{{self._ns}}}{name}"

    def _children(self, parent: ET.Element, name: str) -> list[ET.Element]:
        return [c for c in iter_elements(parent) if c.tag == self._q(name)]

    # -- reading ---------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[str, ET.Element, str | None]]:
        """Yield ``(locator, element, whitespace before it)`` for every component."""
        root = self.tree.root
        stack: list[tuple[str, ET.Element, ET.Element]] = []
        for metadata in self._children(root, "metadata"):
            stack.extend(
                ("/bom/metadata/component", c, metadata)
                for c in self._children(metadata, "component")
            )
        for container in self._children(root, "components"):
            stack.extend(
                (f"/bom/components/component[{i}]", c, container)
                for i, c in enumerate(self._children(container, "component"), 1)
            )
        stack.reverse()
        while stack:
            locator, element, parent = stack.pop()
            yield locator, element, whitespace_before(parent, list(parent).index(element))
            nested = [
                (f"{locator}/components/component[{i}]", c, container)
                for container in self._children(element, "components")
                for i, c in enumerate(self._children(container, "component"), 1)
            ]
            stack.extend(reversed(nested))

    def components(self) -> list[Component]:
        return [
            component_from_cdx(self._as_json(element), locator, f"{self._label}: {locator}")
            for locator, element, _ in self._walk()
        ]

    def _text(self, element: ET.Element, name: str) -> str | None:
        found = self._children(element, name)
        return (found[0].text or "").strip() if found else None

    def _hashes(self, element: ET.Element) -> list[dict[str, Any]]:
        return [
            {"alg": h.get("alg"), "content": (h.text or "").strip()}
            for hashes in self._children(element, "hashes")
            for h in self._children(hashes, "hash")
        ]

    def _as_json(self, element: ET.Element) -> dict[str, Any]:
        """The parts of a ``<component>`` bomguard reads, shaped like CycloneDX JSON."""
        node: dict[str, Any] = {
            key: element.get(key) for key in ("bom-ref", "type") if element.get(key) is not None
        }
        for name in _TEXT_FIELDS:
            value = self._text(element, name)
            if value is not None:
                node[name] = value
        node["hashes"] = self._hashes(element)
        node["externalReferences"] = [
            {"type": ref.get("type"), "url": self._text(ref, "url"), "hashes": self._hashes(ref)}
            for refs in self._children(element, "externalReferences")
            for ref in self._children(refs, "reference")
        ]
        licenses: list[dict[str, Any]] = []
        for container in self._children(element, "licenses"):
            for child in iter_elements(container):
                if child.tag == self._q("expression"):
                    licenses.append({"expression": (child.text or "").strip()})
                elif child.tag == self._q("license"):
                    inner = {k: self._text(child, k) for k in ("id", "name")}
                    licenses.append({"license": {k: v for k, v in inner.items() if v}})
        node["licenses"] = licenses
        node["properties"] = [
            {"name": p.get("name"), "value": p.text or ""}
            for props in self._children(element, "properties")
            for p in self._children(props, "property")
        ]
        return node

    def relationships(self) -> Relationships | None:
        """``<dependencies>`` (and ``provides``); the root is the metadata component."""
        root = self.tree.root
        containers = self._children(root, "dependencies")
        if not containers:
            return None
        edges: list[Edge] = []
        for container in containers:
            for entry in self._children(container, "dependency"):
                source = entry.get("ref")
                if source is None:
                    continue
                for name, kind in (("dependency", "depends"), ("provides", "provides")):
                    edges.extend(
                        Edge(source, child.get("ref", ""), kind)
                        for child in self._children(entry, name)
                        if child.get("ref")
                    )
        roots = tuple(
            str(c.get("bom-ref"))
            for metadata in self._children(root, "metadata")
            for c in self._children(metadata, "component")
            if c.get("bom-ref")
        )
        return Relationships(tuple(edges), roots)

    # -- writing ---------------------------------------------------------------------

    def _container(self, component: ET.Element, name: str, ws: str | None) -> ET.Element:
        """The component's ``<name>`` child, created in XSD order when it has none."""
        existing = self._children(component, name)
        if existing:
            return existing[0]
        order = component_order(self._version)
        rank = order.index(name)
        position = len(component)
        for i, child in enumerate(component):
            if not isinstance(child.tag, str):
                continue
            child_rank = len(order)
            if namespace_of(child.tag) == self._ns and local_name(child.tag) in order:
                child_rank = order.index(local_name(child.tag))
            if child_rank > rank:
                position = i
                break
        container = ET.Element(self._q(name))
        insert_pretty(component, position, container, ws)
        return container

    def enrich(self, additions: Mapping[str, Addition]) -> None:
        nodes = {locator: (element, ws) for locator, element, ws in self._walk()}
        ref_type = "attestation" if self._version in ATTESTATION_TYPE_SINCE else "other"
        for locator, addition in additions.items():
            element, ws = nodes[locator]
            element_ws = self._child_ws(element, ws)
            for refs in self._children(element, "externalReferences"):
                for ref in self._children(refs, "reference"):
                    if self._text(ref, "comment") == ATTESTATION_COMMENT:
                        remove_child(refs, ref)
            if addition.attestation_urls:
                refs = self._container(element, "externalReferences", ws)
                for url in addition.attestation_urls:
                    ref = ET.Element(self._q("reference"), {"type": ref_type})
                    ET.SubElement(ref, self._q("url")).text = url
                    ET.SubElement(ref, self._q("comment")).text = ATTESTATION_COMMENT
                    insert_pretty(refs, len(refs), ref, element_ws)
            for props in self._children(element, "properties"):
                for prop in self._children(props, "property"):
                    if str(prop.get("name", "")).startswith(NAMESPACE):
                        remove_child(props, prop)
            if addition.properties:
                props = self._container(element, "properties", ws)
                for name, value in addition.properties:
                    prop = ET.Element(self._q("property"), {"name": name})
                    prop.text = value
                    insert_pretty(props, len(props), prop, element_ws)
        record_in_xml(self.tree.root, self._ns, self._version)

    @staticmethod
    def _child_ws(element: ET.Element, ws: str | None) -> str | None:
        """The whitespace before ``element``'s children (one level deeper than ``ws``)."""
        if len(element) and element.text is not None and not element.text.strip():
            return element.text
        return None if ws is None else ws + "  "

    def serialize(self) -> bytes:
        return serialize_xml(self.tree)

    def validate(self) -> str | None:
        return first_xml_error(self._version, self.serialize())


@functools.cache
def _xml_validator(spec_version: str) -> Any:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.xml import XmlValidator

    return XmlValidator(SchemaVersion.from_version(spec_version))


def first_xml_error(spec_version: str, document: bytes) -> str | None:
    """The first XSD violation in a CycloneDX XML document (one line), or ``None``."""
    from cyclonedx.exception import MissingOptionalDependencyException

    try:
        error = _xml_validator(spec_version).validate_str(document.decode("utf-8"))
    except MissingOptionalDependencyException:
        return "validating CycloneDX XML needs lxml (cyclonedx-python-lib[xml-validation])"
    if error is None:
        return None
    entry = error.data
    line = getattr(entry, "line", None)
    message = getattr(entry, "message", None) or str(entry)
    return one_line(f"line {line}: {message}" if line else message)
