"""SPDX 2.2/2.3 RDF/XML: read packages from the RDF graph, write back into the XML tree.

Reading goes through the RDF graph (rdflib, as spdx-tools does), because RDF/XML can
say the same thing in many shapes. Writing edits the XML tree in place (parsed safely
with defusedxml, see :mod:`bomguard.sbom._xml`), so every element, prefix and comment of
the input survives and the output's graph is the input's graph plus bomguard's triples:
per enriched package an ``spdx:annotation`` (an ``spdx:Annotation`` with annotator
``Tool: bomguard-<version>``, type ``annotationType_other`` and the facts as JSON in its
``rdfs:comment``) and, per provenance URL, an ``spdx:externalRef`` (category
``referenceCategory_other``, type ``<documentNamespace>#attestation``, the URL as
locator). Both are written inside the package's own node element when there is one, else
in an ``rdf:Description`` of the package at the end of the document.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from bomguard.errors import InputError
from bomguard.models import Component
from bomguard.sbom._common import (
    ATTESTATION_COMMENT,
    label_of,
    one_line,
    supported_version,
    timestamp,
    tool_name,
)
from bomguard.sbom._spdx2 import (
    ANNOTATOR_PREFIX,
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
from bomguard.sbom._xml import (
    XML_NS,
    XmlTree,
    insert_pretty,
    iter_elements,
    namespace_of,
    remove_child,
    serialize_xml,
    walk_with_parents,
    whitespace_before,
)
from bomguard.sbom.graph import Relationships
from bomguard.sbom.interface import Addition, SbomDocument

__all__ = ["RDF_NS", "SPDX_NS", "Spdx2Rdf"]

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS_NS = "http://www.w3.org/2000/01/rdf-schema#"
SPDX_NS = "http://spdx.org/rdf/terms#"
_REFERENCES_NS = "http://spdx.org/rdf/references/"
_CATEGORIES = {
    "referenceCategory_packageManager": "PACKAGE-MANAGER",
    "referenceCategory_security": "SECURITY",
    "referenceCategory_persistentId": "PERSISTENT-ID",
    "referenceCategory_other": "OTHER",
}


def _rdf(name: str) -> str:
    return f"{{{RDF_NS}}}{name}"


def _spdx(name: str) -> str:
    return f"{{{SPDX_NS}}}{name}"


def _term(value: object) -> str:
    """An SPDX vocabulary term's name: ``…/terms#purpose_library`` → ``purpose_library``."""
    text = str(value)
    return text.rsplit("#", 1)[-1] if text.startswith(SPDX_NS) else text


class Spdx2Rdf(SbomDocument):
    """An SPDX 2.2 or 2.3 document in RDF/XML."""

    format_name = "SPDX RDF/XML"
    format_id = "spdx-rdf"

    def __init__(self, tree: XmlTree, raw: bytes, path: Path | None = None) -> None:
        super().__init__(path)
        self.tree = tree
        self._raw = raw
        self._label = label_of(path)
        if tree.root.tag != _rdf("RDF"):
            raise InputError(f"{self._label}: root element is not rdf:RDF")
        self._graph = self._parse_graph(raw)
        self._document_uri, self._version = self._document()
        self._added: dict[str, Addition] = {}
        self._created = timestamp()

    @classmethod
    def sniff(cls, tree: XmlTree) -> bool:
        """Whether a parsed XML document is RDF/XML that declares the SPDX namespace."""
        if tree.root.tag != _rdf("RDF"):
            return False
        declared = {uri for decls in tree.nsdecls.values() for _, uri in decls}
        return SPDX_NS in declared or any(
            namespace_of(str(e.tag)) == SPDX_NS for e in iter_elements(tree.root)
        )

    @property
    def spec_version(self) -> str:
        return self._version.removeprefix("SPDX-")

    def _parse_graph(self, raw: bytes) -> Any:
        # The bytes already passed defusedxml with DTDs forbidden, so rdflib's expat
        # parser sees no entity declarations and no external references.
        from rdflib import Graph

        graph = Graph()
        try:
            graph.parse(data=raw, format="xml")
        except Exception as err:  # rdflib raises many kinds for malformed RDF/XML
            raise InputError(f"{self._label}: not valid RDF/XML: {one_line(str(err))}") from err
        return graph

    def _document(self) -> tuple[str, str]:
        from rdflib import RDF, URIRef

        documents = list(self._graph.subjects(RDF.type, URIRef(SPDX_NS + "SpdxDocument")))
        if len(documents) != 1:
            raise InputError(
                f"{self._label}: expected one spdx:SpdxDocument, found {len(documents)}"
            )
        version = self._graph.value(documents[0], URIRef(SPDX_NS + "specVersion"))
        if version is None:
            raise InputError(f"{self._label}: spdx:specVersion: missing")
        return str(documents[0]), supported_version(
            f"{self._label}: spdx:specVersion", str(version), SPDX2_VERSIONS
        )

    @property
    def _namespace(self) -> str:
        return self._document_uri.split("#", 1)[0]

    # -- reading ---------------------------------------------------------------------

    def _package_uris(self) -> list[str]:
        from rdflib import RDF, URIRef

        uris = {str(s) for s in self._graph.subjects(RDF.type, URIRef(SPDX_NS + "Package"))}
        order = {uri: i for i, uri in enumerate(self._abouts()) if uri in uris}
        return sorted(uris, key=lambda u: (order.get(u, len(order)), u))

    def _abouts(self) -> dict[str, list[ET.Element]]:
        """Node elements by the absolute URI of their ``rdf:about``, in document order."""
        found: dict[str, list[ET.Element]] = {}
        bases: dict[ET.Element, str] = {}

        def visit(element: ET.Element, ancestors: list[ET.Element]) -> bool:
            base = bases.get(ancestors[-1], "") if ancestors else ""
            base = element.get(f"{{{XML_NS}}}base", base)
            bases[element] = base
            about = element.get(_rdf("about"))
            if about is not None:
                found.setdefault(urljoin(base, about) if base else about, []).append(element)
            return True

        walk_with_parents(self.tree.root, visit)
        return found

    def _raw_package(self, uri: str) -> RawPackage:
        from rdflib import RDFS, URIRef

        graph = self._graph
        node = URIRef(uri)

        def literal(subject: Any, name: str) -> str | None:
            value = graph.value(subject, URIRef(SPDX_NS + name))
            return None if value is None else _term(value)

        spdx_id = uri.split("#", 1)[1] if "#" in uri else uri
        raw = RawPackage(
            spdx_id=spdx_id,
            name=literal(node, "name") or "",
            version=literal(node, "versionInfo"),
            purpose=(literal(node, "primaryPackagePurpose") or "").removeprefix("purpose_") or None,
            download_location=literal(node, "downloadLocation"),
            file_name=literal(node, "packageFileName"),
        )
        for name in ("licenseDeclared", "licenseConcluded"):
            value = literal(node, name)
            if value and value not in ("noassertion", "none"):
                raw.licenses.append(value.rsplit("/", 1)[-1])
        for ref in graph.objects(node, URIRef(SPDX_NS + "externalRef")):
            category = _CATEGORIES.get(literal(ref, "referenceCategory") or "", "")
            ref_type = str(graph.value(ref, URIRef(SPDX_NS + "referenceType")) or "")
            ref_type = ref_type.removeprefix(_REFERENCES_NS).rsplit("#", 1)[-1]
            raw.add_external_ref(category, ref_type, literal(ref, "referenceLocator") or "")
        for checksum in graph.objects(node, URIRef(SPDX_NS + "checksum")):
            algorithm = (literal(checksum, "algorithm") or "").removeprefix("checksumAlgorithm_")
            value = literal(checksum, "checksumValue")
            if algorithm and value:
                raw.checksums.append((algorithm, value))
        for annotation in graph.objects(node, URIRef(SPDX_NS + "annotation")):
            if is_bomguard_annotator(literal(annotation, "annotator") or ""):
                raw.bomguard_comments.append(str(graph.value(annotation, RDFS.comment) or ""))
        return raw

    def components(self) -> list[Component]:
        return [component_from_package(self._raw_package(u), u) for u in self._package_uris()]

    def relationships(self) -> Relationships | None:
        """``spdx:relationship`` statements (and ``spdx:describesPackage``)."""
        from rdflib import URIRef

        graph = self._graph

        def element_id(node: object) -> str:
            text = str(node)
            if text.startswith(SPDX_NS):
                return _term(text).removeprefix("noassertion").upper() or "NOASSERTION"
            return text.split("#", 1)[1] if "#" in text else text

        triples = []
        for subject, relation in graph.subject_objects(URIRef(SPDX_NS + "relationship")):
            kind = graph.value(relation, URIRef(SPDX_NS + "relationshipType"))
            target = graph.value(relation, URIRef(SPDX_NS + "relatedSpdxElement"))
            if kind is None or target is None:
                continue
            camel = _term(kind).removeprefix("relationshipType_")
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", camel).upper()
            triples.append((element_id(subject), name, element_id(target)))
        describes = [
            element_id(o)
            for o in graph.objects(URIRef(self._document_uri), URIRef(SPDX_NS + "describesPackage"))
        ]
        return relationships_from(triples, describes)

    # -- writing ---------------------------------------------------------------------

    def _remove_own(self, element: ET.Element) -> None:
        """Drop annotations and references an earlier bomguard run wrote into ``element``."""
        for child in list(iter_elements(element)):
            inner = next(iter_elements(child), None)
            if inner is None:
                continue
            texts = {
                c.tag: (c.text or "").strip() for c in iter_elements(inner) if c.text is not None
            }
            own_annotation = child.tag == _spdx("annotation") and texts.get(
                _spdx("annotator"), ""
            ).startswith(ANNOTATOR_PREFIX)
            own_ref = (
                child.tag == _spdx("externalRef")
                and texts.get(f"{{{RDFS_NS}}}comment") == ATTESTATION_COMMENT
            )
            if own_annotation or own_ref:
                remove_child(element, child)

    def _node_element(
        self,
        uri: str,
        abouts: dict[str, list[ET.Element]],
        parents: dict[ET.Element, ET.Element],
    ) -> tuple[ET.Element, str | None]:
        """The element to add the package's new properties to, and its indentation."""
        candidates = abouts.get(uri, [])
        candidates = sorted(candidates, key=lambda e: e.tag != _spdx("Package"))
        root = self.tree.root
        for element in candidates:
            parent = parents.get(element)
            ws = None if parent is None else whitespace_before(parent, list(parent).index(element))
            return element, ws
        description = ET.Element(_rdf("Description"), {_rdf("about"): uri})
        insert_pretty(root, len(root), description, None)
        return description, whitespace_before(root, len(root) - 1)

    def enrich(self, additions: Mapping[str, Addition]) -> None:
        abouts = self._abouts()
        for elements in abouts.values():
            for element in elements:
                self._remove_own(element)
        parents = {child: parent for parent in self.tree.root.iter() for child in parent}
        for uri, addition in additions.items():
            spdx_id = uri.split("#", 1)[1] if "#" in uri else uri
            element, ws = self._node_element(uri, abouts, parents)
            annotation = ET.Element(_spdx("annotation"))
            body = ET.SubElement(annotation, _spdx("Annotation"))
            ET.SubElement(
                body, _spdx("annotationType"), {_rdf("resource"): SPDX_NS + "annotationType_other"}
            )
            ET.SubElement(body, _spdx("annotator")).text = f"Tool: {tool_name()}"
            ET.SubElement(body, _spdx("annotationDate")).text = self._created
            ET.SubElement(body, f"{{{RDFS_NS}}}comment").text = annotation_comment(addition)
            insert_pretty(element, len(element), annotation, ws)
            for url in addition.attestation_urls:
                ref = ET.Element(_spdx("externalRef"))
                body = ET.SubElement(ref, _spdx("ExternalRef"))
                ET.SubElement(
                    body,
                    _spdx("referenceCategory"),
                    {_rdf("resource"): SPDX_NS + "referenceCategory_other"},
                )
                ET.SubElement(
                    body,
                    _spdx("referenceType"),
                    {_rdf("resource"): f"{self._namespace}#{ATTESTATION_REF_TYPE}"},
                )
                ET.SubElement(body, _spdx("referenceLocator")).text = attestation_locator(url)
                ET.SubElement(body, f"{{{RDFS_NS}}}comment").text = ATTESTATION_COMMENT
                insert_pretty(element, len(element), ref, ws)
            self._added[spdx_id] = addition

    def serialize(self) -> bytes:
        return serialize_xml(self.tree)

    # -- validation ------------------------------------------------------------------

    def _spdx_tools_document(self, raw: bytes) -> Any:
        from spdx_tools.spdx.parser.rdf.rdf_parser import translate_graph_to_document

        return translate_graph_to_document(self._parse_graph(raw))

    def validate(self) -> str | None:
        problems = additions_problems(self._version, self._added, self._created)
        if problems:
            return problems[0]
        before = spdx2_problems(lambda: self._spdx_tools_document(self._raw))
        after = spdx2_problems(lambda: self._spdx_tools_document(self.serialize()))
        return first_new_problem(before, after)
