"""SPDX 3.0.1 JSON-LD: read packages, write back with additions only.

The document is kept as its JSON tree (``{"@context": …, "@graph": [...]}``) and edited
in place. Packages are the ``@graph`` elements of type ``software_Package`` (and its
``ai_AIPackage``/``dataset_DatasetPackage`` subclasses). A package's PyPI identity comes
from ``software_packageUrl`` or an ``externalIdentifier`` of type ``packageUrl``; its
files from ``verifiedUsing`` sha256 hashes and ``software_downloadLocation``.

Per enriched package bomguard adds:

- an ``Annotation`` element (``annotationType: other``, ``subject``: the package, the
  facts as a JSON object in ``statement``), its ``spdxId`` a name-based UUID URN of the
  package's id, so enriching again replaces it;
- per provenance URL, an ``ExternalRef`` in the package's ``externalRef`` list
  (``externalRefType: buildMeta``, the URL as ``locator``, the PEP 740 Integrity API
  media type as ``contentType``);
- once per document, the ``CreationInfo`` (blank node ``_:bomguard-creationinfo``),
  ``SoftwareAgent`` and ``Tool`` these new elements are created by.

Validation deserialises the document with the SPDX 3.0.1 model bindings
(spdx-python-model) and serialises it again, which checks types, vocabularies and
cardinalities; problems the input already had are not reported.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bomguard.errors import InputError
from bomguard.models import Component, DistRef
from bomguard.sbom._common import (
    ATTESTATION_COMMENT,
    DIST_SUFFIXES,
    NAMESPACE,
    dump_json,
    filename_from_url,
    json_indent,
    label_of,
    one_line,
    pypi_identity,
    timestamp,
    tool_name,
)
from bomguard.sbom._spdx2 import first_new_problem
from bomguard.sbom.graph import Edge, Relationships
from bomguard.sbom.interface import Addition, SbomDocument
from bomguard.sbom.taxonomy import PropertyBag, pairs_from_object, properties_object

__all__ = ["CONTEXT_301", "Spdx3JsonLd"]

CONTEXT_301 = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
PACKAGE_TYPES = frozenset({"software_Package", "ai_AIPackage", "dataset_DatasetPackage"})
CREATION_INFO_ID = "_:bomguard-creationinfo"
AGENT_ID = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/bomguard/"))
PROVENANCE_MEDIA_TYPE = "application/vnd.pypi.integrity.v1+json"
_OWN_TYPES = frozenset({"SoftwareAgent", "Tool"})


_RELATIONSHIP_TYPES = frozenset({"Relationship", "LifecycleScopedRelationship"})
#: Relationship kinds that make an edge: (edge kind, the scope the kind itself implies).
_EDGE_KINDS: dict[str, tuple[str, str | None]] = {
    "dependsOn": ("depends", None),
    "contains": ("contains", None),
    "hasOptionalDependency": ("depends", "optional"),
    "hasProvidedDependency": ("depends", "provided"),
}
#: ``LifecycleScopeType`` in the graph's terms.
_LIFECYCLE = {"runtime": "runtime", "development": "dev", "build": "build", "test": "test"}


def annotation_id(package_id: str) -> str:
    """The ``spdxId`` of bomguard's annotation of the package ``package_id``."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"bomguard:annotation:{package_id}"))


def tool_id() -> str:
    """The ``spdxId`` of the ``Tool`` element naming this bomguard version."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"bomguard:tool:{tool_name()}"))


def _context_ok(context: object) -> bool:
    if isinstance(context, str):
        return context == CONTEXT_301
    return isinstance(context, list) and CONTEXT_301 in context


class Spdx3JsonLd(SbomDocument):
    """An SPDX 3.0.1 document in JSON-LD."""

    format_name = "SPDX 3 JSON-LD"
    format_id = "spdx3-jsonld"

    def __init__(self, data: dict[str, Any], path: Path | None = None, raw: bytes = b"") -> None:
        super().__init__(path)
        self.data = data
        self._raw = raw
        self._label = label_of(path)
        if not _context_ok(data.get("@context")):
            raise InputError(
                f"{self._label}: @context: only SPDX 3.0.1 JSON-LD ({CONTEXT_301}) is "
                "supported (an inline @context is the SPDX 3.0 prototype serialisation)"
            )
        graph = data.get("@graph")
        if not isinstance(graph, list):
            raise InputError(f"{self._label}: @graph: missing or not a list")
        for i, element in enumerate(graph):
            if not isinstance(element, dict):
                raise InputError(f"{self._label}: @graph[{i}]: expected an object")
        self._graph: list[dict[str, Any]] = graph
        self._created = timestamp()

    @classmethod
    def sniff(cls, data: object) -> bool:
        """Whether parsed JSON looks like SPDX 3 JSON-LD."""
        if not isinstance(data, dict) or "@context" not in data:
            return False
        context = data["@context"]
        texts = context if isinstance(context, list) else [context]
        return any(isinstance(t, str) and "spdx.org/rdf/3" in t for t in texts) or (
            isinstance(context, dict) and "spdx.org/rdf" in json.dumps(context)[:4096]
        )

    @property
    def spec_version(self) -> str:
        return "3.0.1"

    # -- reading ---------------------------------------------------------------------

    def _packages(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (f"/@graph/{i}", element)
            for i, element in enumerate(self._graph)
            if element.get("type") in PACKAGE_TYPES
        ]

    def _str(self, element: dict[str, Any], key: str, where: str) -> str | None:
        value = element.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InputError(f"{where}.{key}: expected a string, got {type(value).__name__}")
        return value

    def _list(self, element: dict[str, Any], key: str, where: str) -> list[Any]:
        value = element.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InputError(f"{where}.{key}: expected a list, got {type(value).__name__}")
        return value

    def _own_statements(self) -> dict[str, list[str]]:
        """Statements of bomguard's annotations, by the id of the package they annotate."""
        statements: dict[str, list[str]] = {}
        for element in self._graph:
            if element.get("type") == "Annotation" and element.get("spdxId") == annotation_id(
                str(element.get("subject", ""))
            ):
                statements.setdefault(str(element.get("subject")), []).append(
                    str(element.get("statement", ""))
                )
        return statements

    def _component(
        self, locator: str, element: dict[str, Any], own: dict[str, list[str]]
    ) -> Component:
        where = f"{self._label}: {locator.strip('/').replace('/', '[', 1)}]"
        spdx_id = self._str(element, "spdxId", where) or self._str(element, "@id", where)
        name = self._str(element, "name", where) or ""
        version = self._str(element, "software_packageVersion", where)
        purls = []
        purl = self._str(element, "software_packageUrl", where)
        if purl:
            purls.append(purl)
        for identifier in self._list(element, "externalIdentifier", where):
            if (
                isinstance(identifier, dict)
                and identifier.get("externalIdentifierType") == "packageUrl"
                and isinstance(identifier.get("identifier"), str)
            ):
                purls.append(identifier["identifier"])
        download = self._str(element, "software_downloadLocation", where)
        identity = pypi_identity(
            purls=purls,
            other_package_manager_refs=(),
            download_location=download,
            name=name,
            version=version,
        )
        hashes: dict[str, list[str]] = {}
        for check in self._list(element, "verifiedUsing", where):
            if isinstance(check, dict) and check.get("type") == "Hash":
                algorithm, value = check.get("algorithm"), check.get("hashValue")
                if isinstance(algorithm, str) and isinstance(value, str):
                    alg = algorithm.lower().replace("-", "").replace("_", "")
                    hashes.setdefault(alg, []).append(value.lower())
        file_name = filename_from_url(download) if download else None
        refs = [
            DistRef(file_name, s, download if file_name else None) for s in hashes.get("sha256", [])
        ]
        if not refs and file_name and file_name.endswith(DIST_SUFFIXES):
            refs.append(DistRef(file_name, None, download))
        pairs: list[tuple[str, str]] = []
        for statement in own.get(spdx_id or "", []):
            try:
                facts = json.loads(statement)
            except ValueError:
                continue
            if isinstance(facts, dict):
                pairs.extend(pairs_from_object(facts, NAMESPACE))
        purpose = self._str(element, "software_primaryPurpose", where)
        return Component(
            locator=locator,
            bom_ref=spdx_id,
            name=name,
            version=version,
            purl=identity.purl,
            type=purpose,
            hashes={k: tuple(dict.fromkeys(v)) for k, v in hashes.items()},
            dist_refs=tuple(dict.fromkeys(refs)),
            pypi=identity.pypi,
            pypi_error=identity.error,
            **PropertyBag(pairs).fields(),
        )

    def components(self) -> list[Component]:
        own = self._own_statements()
        return [self._component(locator, element, own) for locator, element in self._packages()]

    def relationships(self) -> Relationships | None:
        """``Relationship`` and ``LifecycleScopedRelationship`` elements (``dependsOn``,
        ``contains``, ``describes``, the ``has*Dependency`` kinds); the root is what the
        document's ``rootElement`` names, through any SBOM or bundle element it names."""
        edges: list[Edge] = []
        describes: dict[str, list[str]] = {}
        by_id = {
            str(e.get("spdxId") or e.get("@id")): e
            for e in self._graph
            if e.get("spdxId") or e.get("@id")
        }
        for element in self._graph:
            if element.get("type") not in _RELATIONSHIP_TYPES:
                continue
            source, kind = element.get("from"), element.get("relationshipType")
            targets = element.get("to")
            if not isinstance(source, str) or not isinstance(kind, str):
                continue
            targets = (
                [t for t in targets if isinstance(t, str)] if isinstance(targets, list) else []
            )
            kind = kind.rsplit("/", 1)[-1]
            scope = element.get("scope")
            scope = _LIFECYCLE.get(scope.rsplit("/", 1)[-1]) if isinstance(scope, str) else None
            if kind == "describes":
                describes.setdefault(source, []).extend(targets)
            elif kind in _EDGE_KINDS:
                what, implied = _EDGE_KINDS[kind]
                edges.extend(Edge(source, t, what, scope or implied) for t in targets)
        if not edges:
            return None
        roots: list[str] = []
        seen: set[str] = set()
        pending = [
            str(r)
            for e in self._graph
            if e.get("type") == "SpdxDocument"
            for r in (e.get("rootElement") or [])
        ]
        while pending:
            current = pending.pop(0)
            if current in seen:
                continue
            seen.add(current)
            element = by_id.get(current, {})
            if element.get("type") in PACKAGE_TYPES:
                roots.append(current)
                continue
            inner = element.get("rootElement")
            if isinstance(inner, list):
                pending.extend(str(r) for r in inner if isinstance(r, str))
            pending.extend(describes.get(current, []))
        return Relationships(tuple(edges), tuple(roots))

    # -- writing ---------------------------------------------------------------------

    def _creation_info_id(self) -> str:
        taken = {str(e.get("@id")) for e in self._graph if e.get("type") == "CreationInfo"}
        taken.discard(CREATION_INFO_ID)
        candidate, n = CREATION_INFO_ID, 1
        while candidate in taken:
            n += 1
            candidate = f"{CREATION_INFO_ID}-{n}"
        return candidate

    def enrich(self, additions: Mapping[str, Addition]) -> None:
        packages = dict(self._packages())
        own_annotations = {
            annotation_id(str(p.get("spdxId") or p.get("@id"))) for p in packages.values()
        }
        tool = tool_id()
        creation_info = self._creation_info_id()
        # Replace what an earlier bomguard run added (annotations, its agent/tool/creation info).
        self._graph[:] = [
            e
            for e in self._graph
            if not (
                (e.get("type") == "Annotation" and e.get("spdxId") in own_annotations)
                or (e.get("type") in _OWN_TYPES and e.get("spdxId") in (AGENT_ID, tool))
                or (e.get("type") == "CreationInfo" and e.get("@id") == creation_info)
            )
        ]
        packages = dict(self._packages())
        new: list[dict[str, Any]] = []
        for locator, addition in additions.items():
            package = packages[locator]
            where = f"{self._label}: {locator.strip('/').replace('/', '[', 1)}]"
            package_id = self._str(package, "spdxId", where) or self._str(package, "@id", where)
            if not package_id:
                raise InputError(f"{where}.spdxId: missing; cannot annotate the package")
            new.append(
                {
                    "type": "Annotation",
                    "spdxId": annotation_id(package_id),
                    "creationInfo": creation_info,
                    "annotationType": "other",
                    "subject": package_id,
                    "contentType": "application/json",
                    "statement": json.dumps(
                        properties_object(addition.properties), ensure_ascii=False
                    ),
                }
            )
            had_refs = "externalRef" in package
            refs = [
                r
                for r in self._list(package, "externalRef", where)
                if not (isinstance(r, dict) and r.get("comment") == ATTESTATION_COMMENT)
            ]
            refs.extend(
                {
                    "type": "ExternalRef",
                    "externalRefType": "buildMeta",
                    "locator": [url],
                    "contentType": PROVENANCE_MEDIA_TYPE,
                    "comment": ATTESTATION_COMMENT,
                }
                for url in addition.attestation_urls
            )
            if refs or had_refs:
                package["externalRef"] = refs
        if new:
            self._graph.append(
                {
                    "type": "CreationInfo",
                    "@id": creation_info,
                    "specVersion": "3.0.1",
                    "created": self._created,
                    "createdBy": [AGENT_ID],
                    "createdUsing": [tool],
                }
            )
            self._graph.append(
                {
                    "type": "SoftwareAgent",
                    "spdxId": AGENT_ID,
                    "creationInfo": creation_info,
                    "name": "bomguard",
                }
            )
            self._graph.append(
                {"type": "Tool", "spdxId": tool, "creationInfo": creation_info, "name": tool_name()}
            )
            self._graph.extend(new)

    def serialize(self) -> bytes:
        return dump_json(self.data, json_indent(self._raw) if self._raw else "  ")

    # -- validation ------------------------------------------------------------------

    def validate(self) -> str | None:
        try:
            import spdx_python_model  # noqa: F401
        except ImportError:
            return "validating SPDX 3 needs the spdx-python-model package"
        before = spdx3_problems(json.loads(self._raw)) if self._raw else []
        after = spdx3_problems(json.loads(self.serialize()))
        return first_new_problem(before, after)


def spdx3_problems(data: Any) -> list[str]:
    """What the SPDX 3.0.1 model bindings object to (reading, linking, writing back)."""
    import warnings

    from spdx_python_model.bindings.v3_0_1 import model

    objects = model.SHACLObjectSet()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            model.JSONLDDeserializer().deserialize_data(data, objects)
            missing = objects.link()
            model.JSONLDSerializer().write(objects, io.BytesIO())
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        # Messages name objects by their id() ("Package (140…)"): drop that, it changes.
        return [one_line(re.sub(r" \(\d+\)", "", str(err)))]
    return [f"reference to an element not in the document: {m}" for m in sorted(missing)]
