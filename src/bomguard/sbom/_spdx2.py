"""What every SPDX 2 serialisation shares: packages as components, the additions, validation.

An SPDX 2 package becomes a :class:`Component`; its PyPI identity comes from a
``pkg:pypi`` purl in its external references (see :func:`bomguard.sbom._common.pypi_identity`),
its distribution files from SHA256 checksums, ``packageFileName`` and ``downloadLocation``.

What bomguard adds to a package, in every SPDX 2 serialisation:

- one annotation: annotator ``Tool: bomguard-<version>``, type ``OTHER``, and a comment
  that is a JSON object of the same flat ``bomguard:provenance:…`` facts CycloneDX gets
  as properties;
- per provenance URL, an external reference of category ``OTHER``, type ``attestation``,
  the URL as locator and the comment :data:`ATTESTATION_COMMENT`.

Validation uses spdx-tools. Many real SPDX documents fail it as generated, so the
problems the input already had are subtracted: only problems the enrichment adds count.
The additions themselves are also validated on their own, so they are checked even when
spdx-tools cannot parse the document at all.
"""

from __future__ import annotations

import datetime
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bomguard.models import Component, DistRef
from bomguard.sbom._common import (
    ATTESTATION_COMMENT,
    DIST_SUFFIXES,
    NAMESPACE,
    filename_from_url,
    one_line,
    pypi_identity,
    tool_name,
)
from bomguard.sbom.graph import Edge, Relationships
from bomguard.sbom.interface import Addition
from bomguard.sbom.taxonomy import PropertyBag, pairs_from_object, properties_object

__all__ = [
    "ANNOTATOR_PREFIX",
    "ATTESTATION_REF_TYPE",
    "SPDX2_VERSIONS",
    "RawPackage",
    "additions_problems",
    "annotation_comment",
    "attestation_locator",
    "component_from_package",
    "first_new_problem",
    "is_bomguard_annotator",
    "relationships_from",
    "spdx2_problems",
]

SPDX2_VERSIONS = ("SPDX-2.2", "SPDX-2.3")
#: How bomguard's annotations are recognised (``Tool: bomguard-<version>``).
ANNOTATOR_PREFIX = "Tool: bomguard-"
#: The ``referenceType`` (category ``OTHER``) of the provenance URL.
ATTESTATION_REF_TYPE = "attestation"
_NO_VALUE = ("NOASSERTION", "NONE", "")
_LINE_NUMBER = re.compile(r"\b[Ll]ine:? \d+")


@dataclass
class RawPackage:
    """The fields of an SPDX 2 package bomguard reads, from any serialisation."""

    spdx_id: str | None
    name: str
    version: str | None = None
    purpose: str | None = None
    purls: list[str] = field(default_factory=list)
    package_manager_refs: list[tuple[str, str]] = field(default_factory=list)
    checksums: list[tuple[str, str]] = field(default_factory=list)
    download_location: str | None = None
    file_name: str | None = None
    licenses: list[str] = field(default_factory=list)
    bomguard_comments: list[str] = field(default_factory=list)

    def add_external_ref(self, category: str, ref_type: str, locator: str) -> None:
        """Record one ``externalRef`` (purls and other package-manager references)."""
        if ref_type == "purl":
            self.purls.append(locator.strip())
        elif category.upper().replace("_", "-") == "PACKAGE-MANAGER":
            self.package_manager_refs.append((ref_type, locator.strip()))


def is_bomguard_annotator(annotator: str) -> bool:
    """Whether an annotation was written by bomguard."""
    return annotator.strip().startswith(ANNOTATOR_PREFIX)


def annotation_comment(addition: Addition) -> str:
    """The annotation comment: the addition's properties as one JSON object (a repeated
    name's values as a list, :func:`bomguard.sbom.taxonomy.properties_object`)."""
    return json.dumps(
        properties_object(addition.properties), ensure_ascii=False, separators=(", ", ": ")
    )


def _properties_from(comments: Iterable[str]) -> PropertyBag:
    pairs: list[tuple[str, str]] = []
    for comment in comments:
        try:
            data = json.loads(comment)
        except ValueError:
            continue
        if isinstance(data, dict):
            pairs.extend(pairs_from_object(data, NAMESPACE))
    return PropertyBag(pairs)


def attestation_locator(url: str) -> str:
    """A provenance URL as an SPDX locator (no whitespace allowed)."""
    return re.sub(r"\s", lambda m: f"%{ord(m.group()):02X}", url)


def _present(value: str | None) -> str | None:
    if value is None or value.strip() in _NO_VALUE:
        return None
    return value.strip()


def component_from_package(raw: RawPackage, locator: str) -> Component:
    """A :class:`Component` from an SPDX 2 package."""
    download = _present(raw.download_location)
    identity = pypi_identity(
        purls=raw.purls,
        other_package_manager_refs=raw.package_manager_refs,
        download_location=download,
        name=raw.name,
        version=_present(raw.version),
    )
    hashes: dict[str, list[str]] = {}
    for algorithm, value in raw.checksums:
        alg = algorithm.lower().replace("-", "").replace("_", "")
        hashes.setdefault(alg, []).append(value.strip().lower())
    shas = hashes.get("sha256", [])
    file_name = _present(raw.file_name)
    url_file = filename_from_url(download) if download else None
    filename = file_name if file_name and file_name.endswith(DIST_SUFFIXES) else url_file
    url = download if url_file else None
    refs: list[DistRef] = [DistRef(filename=filename, sha256=s, url=url) for s in shas]
    if not refs and filename:
        refs.append(DistRef(filename=filename, sha256=None, url=url))
    purpose = _present(raw.purpose)
    return Component(
        locator=locator,
        bom_ref=raw.spdx_id,
        name=raw.name,
        version=_present(raw.version),
        purl=identity.purl,
        type=purpose.lower().replace("_", "-") if purpose else None,
        hashes={k: tuple(dict.fromkeys(v)) for k, v in hashes.items()},
        dist_refs=tuple(dict.fromkeys(refs)),
        licenses=tuple(dict.fromkeys(x for x in map(_present, raw.licenses) if x)),
        pypi=identity.pypi,
        pypi_error=identity.error,
        **_properties_from(raw.bomguard_comments).fields(),
    )


# -- relationships ----------------------------------------------------------------------

#: ``A <type> B`` where A depends on B, with the scope the type names.
_FORWARD = {"DEPENDS_ON": None, "CONTAINS": None}
#: ``A <type> B`` where B depends on A.
_BACKWARD = {
    "DEPENDENCY_OF": None,
    "CONTAINED_BY": None,
    "RUNTIME_DEPENDENCY_OF": "runtime",
    "DEV_DEPENDENCY_OF": "dev",
    "OPTIONAL_DEPENDENCY_OF": "optional",
    "BUILD_DEPENDENCY_OF": "build",
    "TEST_DEPENDENCY_OF": "test",
    "PROVIDED_DEPENDENCY_OF": "provided",
}
#: Trivy writes ``DESCRIBE``; it means ``DESCRIBES``.
_DESCRIBES = {"DESCRIBES", "DESCRIBE"}


def relationships_from(
    triples: Iterable[tuple[str, str, str]], describes: Iterable[str] = ()
) -> Relationships | None:
    """The graph from ``(element, RELATIONSHIP_TYPE, related element)`` triples.

    ``describes`` are the ``documentDescribes`` ids; ``DESCRIBES`` from the document (and
    ``DESCRIBED_BY`` to it) name the root too. ``None`` when no triple is a dependency or
    containment (a document that only describes its subject has no graph).
    """
    edges: list[Edge] = []
    roots = [d for d in describes if d]
    for source, kind, target in triples:
        kind = kind.strip().upper()
        if target in _NO_VALUE or source in _NO_VALUE:
            continue
        if kind in _DESCRIBES:
            roots.append(target)
        elif kind == "DESCRIBED_BY":
            roots.append(source)
        elif kind in _FORWARD:
            edges.append(Edge(source, target, kind.split("_")[0].lower(), _FORWARD[kind]))
        elif kind in _BACKWARD:
            what = "contains" if kind == "CONTAINED_BY" else "depends"
            edges.append(Edge(target, source, what, _BACKWARD[kind]))
    if not edges:
        return None
    return Relationships(tuple(edges), tuple(dict.fromkeys(roots)))


# -- validation -------------------------------------------------------------------------


def spdx2_problems(parse: Callable[[], Any]) -> list[str]:
    """Every problem spdx-tools finds: parse errors, or else validation messages.

    Line numbers are dropped so that the same problem matches in input and output.
    """
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    try:
        document = parse()
    except SPDXParsingError as err:
        messages: list[str] = err.get_messages()  # type: ignore[no-untyped-call]
        return [_LINE_NUMBER.sub("line", one_line(m)) for m in messages]
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        return [f"spdx-tools cannot read the document: {one_line(str(err))}"]
    problems = []
    for message in validate_full_spdx_document(document):
        context = message.context
        where = (context.spdx_id or context.parent_id or "") if context else ""
        problems.append(one_line(f"{where}: {message.validation_message}".lstrip(": ")))
    return problems


def first_new_problem(before: list[str], after: list[str]) -> str | None:
    """The first problem in ``after`` that ``before`` does not account for."""
    remaining = Counter(before)
    for problem in after:
        if remaining[problem]:
            remaining[problem] -= 1
        else:
            return problem
    return None


def additions_problems(spdx_version: str, added: Mapping[str, Addition], created: str) -> list[str]:
    """Validate what bomguard adds (per package SPDXID) on its own, with spdx-tools."""
    from spdx_tools.spdx.model.actor import Actor, ActorType
    from spdx_tools.spdx.model.annotation import Annotation, AnnotationType
    from spdx_tools.spdx.model.document import CreationInfo, Document
    from spdx_tools.spdx.model.package import (
        ExternalPackageRef,
        ExternalPackageRefCategory,
        Package,
    )
    from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
    from spdx_tools.spdx.validation.annotation_validator import validate_annotation
    from spdx_tools.spdx.validation.external_package_ref_validator import (
        validate_external_package_ref,
    )

    date = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
    annotator = Actor(ActorType.TOOL, tool_name())
    packages = [Package(spdx_id, "x", SpdxNoAssertion()) for spdx_id in added]
    document = Document(
        CreationInfo(
            spdx_version,
            "SPDXRef-DOCUMENT",
            "bomguard-additions",
            "https://spdx.org/spdxdocs/bomguard-additions",
            [annotator],
            date,
        ),
        packages=packages,
    )
    problems: list[str] = []
    for spdx_id, addition in added.items():
        annotation = Annotation(
            spdx_id, AnnotationType.OTHER, annotator, date, annotation_comment(addition)
        )
        messages = list(validate_annotation(annotation, document))
        for url in addition.attestation_urls:
            ref = ExternalPackageRef(
                ExternalPackageRefCategory.OTHER,
                ATTESTATION_REF_TYPE,
                attestation_locator(url),
                ATTESTATION_COMMENT,
            )
            messages.extend(validate_external_package_ref(ref, spdx_id, spdx_version))
        problems.extend(f"{spdx_id}: {one_line(m.validation_message)}" for m in messages)
    return problems
