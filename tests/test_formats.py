"""Every supported SBOM format, on real SBOMs: read, enrich, write, read back.

For each fixture SBOM (byte-for-byte copies of the shared real-data set, see
``tests/data/README.md``): the PyPI components found match the fixture MANIFEST, the
enriched output minus bomguard's additions equals the input (compared as parsed
documents: JSON/YAML trees, XML trees, the tag-value text itself, RDF graphs), the
additions read back as the same facts, and the output validates. Bad input (XML bombs,
external entities, invalid UTF-8, truncation, deep nesting, the wrong format) is refused
with a one-line InputError naming the file.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ATTESTATION_COMMENT, run_cli, strip_additions

from bomguard.errors import InputError
from bomguard.models import (
    ComponentEvidence,
    FileEvidence,
    Identity,
    Status,
)
from bomguard.sbom import FORMATS, SbomDocument, parse_sbom, read_sbom
from bomguard.sbom.properties import addition_for

DATA = Path(__file__).parent / "data"
FOLDERS = ("sboms", "sboms-generated")
SPDX3_PROTOTYPE = "spdxtools3_fastapi_from-sbom4python.jsonld"
ANNOTATOR = "Tool: bomguard-"
SPDX_NS = "http://spdx.org/rdf/terms#"


def _expected_format(path: Path) -> str:
    name = path.name
    if name.endswith(".rdf.xml"):
        return "spdx-rdf"
    if name.endswith(".xml"):
        return "cyclonedx-xml"
    if name.endswith(".spdx"):
        return "spdx-tagvalue"
    if name.endswith((".jsonld", ".jsonld.json")):
        return "spdx3-jsonld"
    if json.loads(path.read_bytes()).get("bomFormat") == "CycloneDX":
        return "cyclonedx-json"
    return "spdx-json"


def _manifest() -> dict[str, int]:
    """file name → MANIFEST's pypi_components (its leading number)."""
    counts = {}
    for folder in FOLDERS:
        with (DATA / folder / "MANIFEST.tsv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                match = re.match(r"\d+", row["pypi_components"])
                if match:
                    counts[row["file"]] = int(match.group())
        # The MANIFEST also lists SBOMs not copied here; only copied ones are tested.
    return counts


MANIFEST = _manifest()
FIXTURES = sorted(
    p
    for folder in FOLDERS
    for p in (DATA / folder).iterdir()
    if p.name != "MANIFEST.tsv" and p.name != SPDX3_PROTOTYPE
)
#: The Syft/Trivy container SBOMs are the large ones (0.5 to 2.7 MB); all of them run (~5 s).
assert {_expected_format(p) for p in FIXTURES} == set(FORMATS) - {"spdx-yaml"}


# -- synthetic evidence, one of each status --------------------------------------------

IDENTITY = Identity(
    kind="GitHub",
    issuer="https://token.actions.githubusercontent.com",
    repository="octo/pkg",
    workflow="release.yml",
    environment="pypi",
    ref="refs/tags/v1.0",
    commit="0123456789abcdef0123456789abcdef01234567",
    san="https://github.com/octo/pkg/.github/workflows/release.yml@refs/tags/v1.0",
    log_index=123456,
    integrated_time=1700000000,
)


def _url(i: int) -> str:
    return f"https://pypi.org/integrity/pkg{i}/1.0/pkg{i}-1.0.tar.gz/provenance"


def _evidence(status: Status, i: int) -> ComponentEvidence:
    sdist, wheel = f"pkg{i}-1.0.tar.gz", f"pkg{i}-1.0-py3-none-any.whl"
    sha = f"{i:064x}"
    verified = FileEvidence(sdist, sha, Status.VERIFIED, provenance_url=_url(i), identity=IDENTITY)
    if status is Status.VERIFIED:
        files: tuple[FileEvidence, ...] = (verified,)
    elif status is Status.PARTIAL:
        files = (verified, FileEvidence(wheel, sha, Status.ABSENT, "no provenance"))
    elif status in (Status.ABSENT, Status.INVALID, Status.UNSUPPORTED):
        # Reasons with characters every format has to escape: XML, <text>, JSON, quotes.
        reason = 'bad <sig> & "digest" </text> ü'
        url = None if status is Status.ABSENT else _url(i)
        files = (FileEvidence(sdist, sha, status, reason, provenance_url=url),)
    else:
        files = ()
    reason = "" if status is Status.VERIFIED else f"{status.value}: 'why' <&>"
    return ComponentEvidence(status, reason, files, index_url="https://pypi.org/simple/")


STATUSES = list(Status)


def _additions(document: SbomDocument, shift: int = 0) -> dict[str, Any]:
    """A synthetic addition for every PyPI component, cycling through every status."""
    additions = {}
    pypi = [c for c in document.components() if c.pypi is not None or c.pypi_error]
    for i, component in enumerate(pypi):
        status = STATUSES[(i + shift) % len(STATUSES)]
        additions[component.locator] = addition_for(_evidence(status, i))
    return additions


# -- "output minus additions": one per format -------------------------------------------


def _strip_spdx2(out: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(out)
    for package, before in zip(out.get("packages", []), original.get("packages", []), strict=True):
        for key, ours in (
            ("annotations", lambda a: str(a.get("annotator", "")).startswith(ANNOTATOR)),
            ("externalRefs", lambda r: r.get("comment") == ATTESTATION_COMMENT),
        ):
            if key in package:
                package[key] = [x for x in package[key] if not ours(x)]
                if not package[key] and key not in before:
                    del package[key]
    return out


def _strip_spdx3(out: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(out)
    ours = "_:bomguard-creationinfo"
    out["@graph"] = [
        e for e in out["@graph"] if e.get("creationInfo") != ours and e.get("@id") != ours
    ]
    by_id = {e.get("spdxId"): e for e in original["@graph"]}
    for element in out["@graph"]:
        if "externalRef" in element:
            element["externalRef"] = [
                r for r in element["externalRef"] if r.get("comment") != ATTESTATION_COMMENT
            ]
            if not element["externalRef"] and "externalRef" not in by_id.get(
                element.get("spdxId"), {}
            ):
                del element["externalRef"]
    return out


def _strip_tagvalue(text: str) -> str:
    lines = text.splitlines(keepends=True)
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.startswith("ExternalRef: OTHER attestation ") and nxt.startswith(
            f"ExternalRefComment: <text>{ATTESTATION_COMMENT}</text>"
        ):
            i += 2
        elif not line.strip() and nxt.startswith(f"Annotator: {ANNOTATOR}"):
            i += 6
        else:
            out.append(line)
            i += 1
    return "".join(out)


def _xml(raw: bytes) -> ET.Element:
    # The standard library parser, not bomguard's: the test must not trust the code under test.
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    parser.feed(raw)
    return parser.close()


def _local(element: ET.Element) -> str:
    return str(element.tag).rsplit("}", 1)[-1]


def _find(root: ET.Element, *path: str) -> ET.Element | None:
    element: ET.Element | None = root
    for name in path:
        element = next((c for c in element if _local(c) == name), None) if element else None
    return element


def _cdx_strip_tool_record(root: ET.Element, original: ET.Element, runs: int) -> None:
    """Undo the BOM version bump (exactly ``runs``) and remove bomguard from the tools."""
    if root.get("version") == str(int(original.get("version", "1")) + runs):
        if "version" in original.attrib:
            root.set("version", original.get("version", ""))
        else:
            del root.attrib["version"]
    tools = _find(root, "metadata", "tools")
    if tools is None:
        return
    for parent in (tools, _find(tools, "components")):
        if parent is None:
            continue
        ours = [
            c
            for c in parent
            if _local(c) in ("tool", "component")
            and any(_local(n) == "name" and n.text == "bomguard" for n in c)
        ]
        assert len(ours) <= 1, "bomguard is in the tools more than once"
        for c in ours:
            parent.remove(c)
    for path in (("metadata", "tools", "components"), ("metadata", "tools"), ("metadata",)):
        element, parent = _find(root, *path), _find(root, *path[:-1])
        empty = element is not None and parent is not None and not len(element)
        if empty and _find(original, *path) is None:
            parent.remove(element)


def _cdx_strip(root: ET.Element) -> None:
    for parent in root.iter():
        for child in list(parent):
            name = str(child.tag).rsplit("}", 1)[-1]
            own_property = name == "property" and child.get("name", "").startswith("bomguard:")
            own_reference = name == "reference" and any(
                str(c.tag).endswith("}comment") and c.text == ATTESTATION_COMMENT for c in child
            )
            if own_property or own_reference:
                parent.remove(child)


def _canon(element: ET.Element) -> Any:
    """An XML element as nested tuples, ignoring whitespace-only text and empty containers."""
    children = [
        _canon(c)
        for c in element
        if not (
            str(c.tag).rsplit("}", 1)[-1] in ("properties", "externalReferences") and not len(c)
        )
    ]
    text = (element.text or "").strip()
    return (str(element.tag), dict(element.attrib), text, (element.tail or "").strip(), children)


def _namespace_declarations(raw: bytes) -> list[tuple[str, str]]:
    return [ns for _, ns in ET.iterparse(io.BytesIO(raw), events=("start-ns",))]


def _rdf_graph(raw: bytes, strip: bool) -> Any:
    from rdflib import RDFS, Graph, Namespace

    spdx = Namespace(SPDX_NS)
    graph = Graph()
    graph.parse(data=raw, format="xml")
    if strip:
        for subject, predicate, node in list(graph.triples((None, spdx.annotation, None))):
            if str(graph.value(node, spdx.annotator)).startswith(ANNOTATOR):
                graph.remove((subject, predicate, node))
                graph.remove((node, None, None))
        for subject, predicate, node in list(graph.triples((None, spdx.externalRef, None))):
            if str(graph.value(node, RDFS.comment)) == ATTESTATION_COMMENT:
                graph.remove((subject, predicate, node))
                graph.remove((node, None, None))
    return graph


def assert_lossless(fmt: str, original: bytes, output: bytes, runs: int = 1) -> None:
    """The output minus bomguard's additions is the input (as parsed documents).

    ``runs``: how many times the input was enriched (CycloneDX bumps its version each time).
    """
    if fmt == "cyclonedx-json":
        before = json.loads(original)
        assert strip_additions(json.loads(output), before, runs) == before
    elif fmt == "spdx-json":
        before = json.loads(original)
        assert _strip_spdx2(json.loads(output), before) == before
    elif fmt == "spdx-yaml":
        before = yaml.load(original, Loader=yaml.BaseLoader)
        assert _strip_spdx2(yaml.load(output, Loader=yaml.BaseLoader), before) == before
    elif fmt == "spdx3-jsonld":
        before = json.loads(original)
        assert _strip_spdx3(json.loads(output), before) == before
    elif fmt == "spdx-tagvalue":
        # Only whole lines are added: removing them gives back the input byte for byte.
        assert _strip_tagvalue(output.decode()) == original.decode()
    elif fmt == "cyclonedx-xml":
        after = _xml(output)
        _cdx_strip_tool_record(after, _xml(original), runs)
        _cdx_strip(after)
        assert _canon(after) == _canon(_xml(original))
        # Every namespace declaration (prefix and URI) and the XML declaration survive.
        assert _namespace_declarations(output) == _namespace_declarations(original)
        first = original.split(b"\n", 1)[0]
        if first.startswith(b"<?xml"):
            assert output.split(b"\n", 1)[0] == first
    elif fmt == "spdx-rdf":
        from rdflib.compare import isomorphic

        assert isomorphic(_rdf_graph(output, strip=True), _rdf_graph(original, strip=False))
        assert _namespace_declarations(output) == _namespace_declarations(original)
    else:  # pragma: no cover
        raise AssertionError(fmt)


def _spdx_tools_problems(fmt: str, raw: bytes) -> list[str] | None:
    """spdx-tools' own verdict on an SPDX 2 document (None when it cannot parse it)."""
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.parser.rdf.rdf_parser import translate_graph_to_document
    from spdx_tools.spdx.parser.tagvalue.parser import Parser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    try:
        if fmt == "spdx-json":
            document = JsonLikeDictParser().parse(json.loads(raw))
        elif fmt == "spdx-yaml":
            document = JsonLikeDictParser().parse(yaml.safe_load(raw))
        elif fmt == "spdx-tagvalue":
            document = Parser().parse(raw.decode())
        else:
            document = translate_graph_to_document(_rdf_graph(raw, strip=False))
    except SPDXParsingError:
        return None
    return [m.validation_message for m in validate_full_spdx_document(document)]


def _round_trip(path_or_raw: Path | bytes, fmt: str, tmp_name: str = "in") -> None:
    raw = path_or_raw.read_bytes() if isinstance(path_or_raw, Path) else path_or_raw
    label = path_or_raw if isinstance(path_or_raw, Path) else Path(tmp_name)
    document = parse_sbom(raw, label)
    assert document.format_id == fmt
    components = document.components()
    additions = _additions(document)
    document.enrich(additions)
    output = document.serialize()

    # Read back: same format and version, same components, the facts are there.
    again = parse_sbom(output, Path("out"))
    assert (again.format_id, again.spec_version) == (fmt, document.spec_version)
    components_again = again.components()
    assert [(c.locator, c.pypi, c.pypi_error) for c in components_again] == [
        (c.locator, c.pypi, c.pypi_error) for c in components
    ]
    for component in components_again:
        facts = {k: v for k, v in component.properties.items() if k.startswith("bomguard:")}
        expected = additions.get(component.locator)
        assert facts == (dict(expected.properties) if expected else {}), component.locator

    assert_lossless(fmt, raw, output)

    # The output validates (SPDX: adds no problem the input did not already have) ...
    assert document.validate() is None
    # ... and where the input is valid for spdx-tools, the output is valid outright.
    spdx2 = fmt in ("spdx-json", "spdx-yaml", "spdx-tagvalue", "spdx-rdf")
    if spdx2 and _spdx_tools_problems(fmt, raw) == []:
        assert _spdx_tools_problems(fmt, output) == []


# -- the real fixtures -------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_components_match_the_manifest(path):
    document = read_sbom(path)
    assert document.format_id == _expected_format(path)
    components = document.components()
    # MANIFEST's pypi_components counts components that claim to be PyPI packages. Ours:
    # a pkg:pypi identity (pypi), or a PyPI claim that cannot be used (pypi_error). In the
    # SPDX 3 example (no purls), six packages are named by their pypi.org downloadLocation
    # and one ("lmdb", whose downloadLocation is matplotlib's page) is such an error.
    pypi = [c for c in components if c.pypi is not None or c.pypi_error]
    assert len(pypi) == MANIFEST[path.name]
    # Nothing else is taken for a PyPI package: every other component is not-applicable.
    for component in components:
        if component.pypi is None and not component.pypi_error:
            assert not (component.purl or "").lower().startswith("pkg:pypi/")


def test_spdx3_example_names_pypi_packages_only_from_pypi_urls():
    document = read_sbom(DATA / "sboms" / "spdx-examples__ai-example01-simplehtr.spdx3.jsonld.json")
    by_name = {}
    for component in document.components():
        by_name.setdefault(component.name, []).append(component)
    assert by_name["numpy"][0].pypi.name == "numpy"
    assert by_name["numpy"][0].pypi.version == "1.19.5"
    lmdb = {c.pypi_error is not None for c in by_name["lmdb"]}
    assert lmdb == {True, False}  # the real lmdb, and the one pointing at matplotlib
    # Models, datasets and the GitHub-hosted application are not PyPI packages.
    for name in ("SimpleHTR", "word-model", "IAMdataset"):
        assert all(c.pypi is None and c.pypi_error is None for c in by_name[name])


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_round_trips_losslessly_and_validates(path):
    _round_trip(path, _expected_format(path))


def test_spdx_yaml_written_by_spdx_tools_round_trips(tmp_path):
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.writer.write_anything import write_file

    source = DATA / "sboms-generated" / "spdxtools_fastapi_from-sbom4python.spdx"
    target = tmp_path / "fastapi.spdx.yaml"
    write_file(parse_file(str(source)), str(target))
    document = read_sbom(target)
    assert document.format_id == "spdx-yaml"
    assert sum(1 for c in document.components() if c.pypi) == 11
    _round_trip(target, "spdx-yaml")


def test_spdx_yaml_of_a_real_json_tree_round_trips(tmp_path):
    # sbom4python's JSON as YAML (the same tree): spdx-tools cannot read this one at all.
    source = DATA / "sboms-generated" / "sbom4python_sigstore_spdx.spdx.json"
    raw = yaml.safe_dump(json.loads(source.read_bytes()), sort_keys=False).encode()
    _round_trip(raw, "spdx-yaml", "sigstore.spdx.yaml")


ONE_PER_FORMAT = [
    DATA / "sboms" / "cdxpy__requirements_file_with-hashes_1.5.json",
    DATA / "sboms" / "cdxpy__poetry_plain_with-urls_lock21_1.5.xml",
    DATA / "sboms-generated" / "sbom4python_fastapi_spdx.spdx.json",
    DATA / "sboms-generated" / "sbom4python_fastapi_spdx.spdx",
    DATA / "sboms-generated" / "spdxtools_fastapi_from-sbom4python.rdf.xml",
    DATA / "sboms" / "spdx-examples__ai-example01-simplehtr.spdx3.jsonld.json",
]


@pytest.mark.parametrize("path", ONE_PER_FORMAT, ids=lambda p: p.name)
def test_enriching_again_replaces_bomguards_own_additions(path):
    fmt = _expected_format(path)
    raw = path.read_bytes()
    first = parse_sbom(raw, path)
    first.enrich(_additions(first))
    second = parse_sbom(first.serialize(), path)
    additions = _additions(second, shift=3)
    second.enrich(additions)
    output = second.serialize()
    assert_lossless(fmt, raw, output, runs=2)
    third = parse_sbom(output, path)
    for component in third.components():
        facts = {k: v for k, v in component.properties.items() if k.startswith("bomguard:")}
        expected = additions.get(component.locator)
        assert facts == (dict(expected.properties) if expected else {})
    assert second.validate() is None


@pytest.mark.parametrize("path", ONE_PER_FORMAT, ids=lambda p: p.name)
def test_input_format_overrides_detection(path):
    fmt = _expected_format(path)
    assert parse_sbom(path.read_bytes(), path, fmt).format_id == fmt
    wrong = "cyclonedx-json" if fmt != "cyclonedx-json" else "spdx-json"
    with pytest.raises(InputError, match=re.escape(str(path))):
        parse_sbom(path.read_bytes(), path, wrong)


def test_unknown_input_format_is_refused():
    with pytest.raises(InputError, match="unknown input format 'sbom-xlsx'"):
        parse_sbom(b"{}", Path("x.json"), "sbom-xlsx")


# -- namespaces, comments and schema order in CycloneDX XML ------------------------------

PREFIXED_CDX = b"""<?xml version='1.0' encoding='UTF-8'?>
<!-- written by hand for this test: a prefix, an extension namespace, a comment, a PI -->
<cdx:bom xmlns:cdx="http://cyclonedx.org/schema/bom/1.6" xmlns:ext="urn:example:ext" version="1">
  <?generator hand?>
  <cdx:components>
    <cdx:component type="library" bom-ref="a">
      <cdx:name>requests</cdx:name>
      <cdx:version>2.31.0</cdx:version>
      <cdx:purl>pkg:pypi/requests@2.31.0</cdx:purl>
      <!-- nested components come after properties in the XSD -->
      <cdx:components>
        <cdx:component type="library">
          <cdx:name>idna</cdx:name>
          <cdx:purl>pkg:pypi/idna@3.6</cdx:purl>
          <cdx:properties><cdx:property name="x">y</cdx:property></cdx:properties>
        </cdx:component>
      </cdx:components>
      <ext:note ext:level="1">extension data</ext:note>
    </cdx:component>
  </cdx:components>
</cdx:bom>
"""


def test_cyclonedx_xml_keeps_prefixes_comments_and_puts_additions_in_xsd_order():
    document = parse_sbom(PREFIXED_CDX, Path("prefixed.cdx.xml"))
    assert [c.name for c in document.components()] == ["requests", "idna"]
    document.enrich(_additions(document))
    output = document.serialize()
    assert_lossless("cyclonedx-xml", PREFIXED_CDX, output)
    text = output.decode()
    assert text.count("xmlns") == 2  # no ns0: or re-declared namespaces
    assert "<?generator hand?>" in text and "<!-- nested components" in text
    assert "<!-- written by hand" in text
    component = text[text.index('<cdx:component type="library" bom-ref="a">') :]
    order = [component.index(t) for t in ("<cdx:purl>", "<cdx:externalReferences>")]
    order += [component.index(t) for t in ("<cdx:properties>", "<cdx:components>")]
    assert order == sorted(order)
    assert document.validate() is None


def test_cyclonedx_xml_validation_reports_a_broken_document():
    raw = (DATA / "sboms" / "cdxpy__poetry_plain_with-urls_lock21_1.5.xml").read_bytes()
    broken = raw.replace(b"<name>", b"<nmae>", 1).replace(b"</name>", b"</nmae>", 1)
    problem = parse_sbom(broken, Path("broken.xml")).validate()
    assert problem is not None and "nmae" in problem and "\n" not in problem


# -- bad input ---------------------------------------------------------------------------

CDX_NS = b'xmlns="http://cyclonedx.org/schema/bom/1.6"'
RDF_OPEN = (
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    b'xmlns:spdx="http://spdx.org/rdf/terms#">'
)
XML_ATTACKS = {
    "billion-laughs": b'<?xml version="1.0"?>\n<!DOCTYPE bom [\n <!ENTITY a "aaaaaaaaaa">\n'
    + b"".join(
        b' <!ENTITY %s "%s">\n' % (bytes([98 + i]), b"&%s;" % bytes([97 + i]) * 10)
        for i in range(8)
    )
    + b"]>\n<bom "
    + CDX_NS
    + b">&i;</bom>",
    "external-entity": b'<?xml version="1.0"?>\n<!DOCTYPE bom [<!ENTITY x SYSTEM '
    b'"file:///etc/passwd">]>\n<bom ' + CDX_NS + b"><x>&x;</x></bom>",
    "external-dtd": b'<?xml version="1.0"?>\n<!DOCTYPE bom SYSTEM "http://127.0.0.1:9/x.dtd">\n'
    b"<bom " + CDX_NS + b"/>",
    "parameter-entity": b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY % p SYSTEM '
    b'"http://127.0.0.1:9/p"> %p;]>\n' + RDF_OPEN + b"</rdf:RDF>",
    "rdf-entity": b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY e "x">]>\n'
    + RDF_OPEN
    + b"<spdx:SpdxDocument><spdx:name>&e;</spdx:name></spdx:SpdxDocument></rdf:RDF>",
}


@pytest.mark.parametrize("input_format", [None, "cyclonedx-xml", "spdx-rdf"])
@pytest.mark.parametrize("attack", list(XML_ATTACKS), ids=str)
def test_xml_bombs_and_external_entities_are_refused(attack, input_format):
    with pytest.raises(InputError) as caught:
        parse_sbom(XML_ATTACKS[attack], Path("evil.xml"), input_format)
    message = str(caught.value)
    assert message.startswith("evil.xml: line 2 column ")
    assert "not allowed" in message and "\n" not in message


def test_bad_input_writes_nothing(tmp_path):
    sbom = tmp_path / "evil.cdx.xml"
    sbom.write_bytes(XML_ATTACKS["billion-laughs"])
    out = tmp_path / "out.xml"
    assert run_cli(["enrich", str(sbom), "-o", str(out), "--trust-root", "embedded"]) == 2
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [sbom.name]


def _one_of_each_format() -> list[Path]:
    seen: dict[str, Path] = {}
    for path in FIXTURES:
        seen.setdefault(_expected_format(path), path)
    return list(seen.values())


@pytest.mark.parametrize("path", _one_of_each_format(), ids=lambda p: p.name)
def test_invalid_utf8_is_refused_naming_file_and_line(path, tmp_path):
    raw = path.read_bytes()
    cut = raw.index(b"\n", len(raw) // 2) + 1
    bad = tmp_path / path.name
    bad.write_bytes(raw[:cut] + b"caf\xe9\n" + raw[cut:])
    line = raw[:cut].count(b"\n") + 1
    with pytest.raises(InputError, match=re.escape(f"{bad}: line {line} column 4")):
        read_sbom(bad)


@pytest.mark.parametrize("path", _one_of_each_format(), ids=lambda p: p.name)
def test_truncated_input_is_refused_naming_the_file(path, tmp_path):
    raw = path.read_bytes()
    fmt = _expected_format(path)
    if fmt == "spdx-tagvalue":
        # A tag-value file cut between lines is a shorter valid file; cut inside a tag.
        cuts = [raw.index(b"\nPackageVersion") + 8, raw.index(b"<text>") + 10]
    else:
        cuts = [len(raw) // 7, len(raw) // 2, len(raw) - 20]
    for cut in cuts:
        bad = tmp_path / path.name
        bad.write_bytes(raw[:cut])
        with pytest.raises(InputError) as caught:
            read_sbom(bad).components()
        message = str(caught.value)
        assert message.startswith(f"{bad}: ") and "\n" not in message
        assert re.search(r"line \d+", message), message


DEEP_JSON = b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "x": %s%s}' % (
    b"[" * 150,
    b"]" * 150,
)


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (DEEP_JSON, "x[0]"),
        (b"[" * 100_000 + b"]" * 100_000, "not a recognised"),
        (b"spdxVersion: SPDX-2.3\nx: " + b"[" * 2000 + b"]" * 2000, "line 2"),
        (b"<bom " + CDX_NS + b">" + b"<a>" * 5000 + b"</a>" * 5000 + b"</bom>", "line 1"),
    ],
    ids=["json", "json-array", "yaml", "xml"],
)
def test_deep_nesting_is_refused(raw, where):
    with pytest.raises(InputError, match=re.escape(where)):
        parse_sbom(raw, Path("deep"))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00", "not valid UTF-8"),
        (b"name,version\nrequests,2.31.0\n", "not a recognised SBOM format"),
        (b"<html><body/></html>", "neither CycloneDX"),
        (b"bomFormat: CycloneDX\nspecVersion: '1.6'\n", "CycloneDX has no YAML format"),
        (b'{"spdxVersion": "SPDX-2.1"}', "SPDX-2.1 is not supported"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.3"}', "CycloneDX 1.3 is not supported"),
        (b"spdxVersion: SPDX-2.3\na: &a [1]\nb: [*a, *a]\n", "line 3 column 5: YAML aliases"),
        (b'{"spdxVersion": "SPDX-2.3", "packages": {}}', "packages: expected a list"),
        (
            b'{"spdxVersion": "SPDX-2.3", "packages": [{"SPDXID": "SPDXRef-a", "name": [1]}]}',
            "packages[0].name: expected a string",
        ),
    ],
    ids=[
        "empty",
        "png",
        "csv",
        "html",
        "cdx-yaml",
        "spdx-2.1",
        "cdx-1.3",
        "yaml-alias",
        "spdx-packages",
        "spdx-name",
    ],
)
def test_wrong_or_malformed_input_is_refused(raw, message):
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        parse_sbom(raw, Path("bad.sbom")).components()
    assert str(caught.value).startswith("bad.sbom: ")


def test_spdx3_prototype_serialisation_is_refused():
    path = DATA / "sboms-generated" / SPDX3_PROTOTYPE
    with pytest.raises(InputError, match=r"only SPDX 3\.0\.1 JSON-LD"):
        read_sbom(path)


# -- end to end: the CLI on every format, real provenance on a loopback index -----------


def _document_for(fmt: str, releases: list[tuple[str, str]]) -> bytes:
    """A small SBOM in ``fmt`` listing ``releases`` (the same shape real generators use)."""
    if fmt == "cyclonedx-xml":
        comps = "".join(
            f'<component type="library" bom-ref="c{i}"><name>{n}</name><version>{v}</version>'
            f"<purl>pkg:pypi/{n}@{v}</purl></component>"
            for i, (n, v) in enumerate(releases)
        )
        ns = "http://cyclonedx.org/schema/bom/1.6"
        return f'<bom xmlns="{ns}" version="1"><components>{comps}</components></bom>'.encode()
    if fmt in ("spdx-json", "spdx-yaml"):
        doc = {
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": "e2e",
            "documentNamespace": "https://example.com/spdxdocs/e2e",
            "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: test"]},
            "packages": [
                {
                    "SPDXID": f"SPDXRef-{i}",
                    "name": n,
                    "versionInfo": v,
                    "downloadLocation": "NOASSERTION",
                    "externalRefs": [
                        {
                            "referenceCategory": "PACKAGE-MANAGER",
                            "referenceType": "purl",
                            "referenceLocator": f"pkg:pypi/{n}@{v}",
                        }
                    ],
                }
                for i, (n, v) in enumerate(releases)
            ],
        }
        if fmt == "spdx-yaml":
            return yaml.safe_dump(doc, sort_keys=False).encode()
        return json.dumps(doc, indent=2).encode()
    if fmt == "spdx-tagvalue":
        lines = [
            "SPDXVersion: SPDX-2.3",
            "DataLicense: CC0-1.0",
            "SPDXID: SPDXRef-DOCUMENT",
            "DocumentName: e2e",
            "DocumentNamespace: https://example.com/spdxdocs/e2e",
            "Creator: Tool: test",
            "Created: 2026-01-01T00:00:00Z",
        ]
        for i, (n, v) in enumerate(releases):
            lines += [
                "",
                f"PackageName: {n}",
                f"SPDXID: SPDXRef-{i}",
                f"PackageVersion: {v}",
                "PackageDownloadLocation: NOASSERTION",
                f"ExternalRef: PACKAGE-MANAGER purl pkg:pypi/{n}@{v}",
            ]
        return ("\n".join(lines) + "\n").encode()
    assert fmt == "spdx3-jsonld"
    graph: list[dict[str, Any]] = [
        {
            "type": "CreationInfo",
            "@id": "_:ci",
            "specVersion": "3.0.1",
            "created": "2026-01-01T00:00:00Z",
            "createdBy": ["https://example.com/agent"],
        },
        {"type": "SoftwareAgent", "spdxId": "https://example.com/agent", "creationInfo": "_:ci"},
        {
            "type": "SpdxDocument",
            "spdxId": "https://example.com/doc",
            "creationInfo": "_:ci",
            "rootElement": ["https://example.com/pkg/0"],
        },
    ]
    graph += [
        {
            "type": "software_Package",
            "spdxId": f"https://example.com/pkg/{i}",
            "creationInfo": "_:ci",
            "name": n,
            "software_packageVersion": v,
            "software_packageUrl": f"pkg:pypi/{n}@{v}",
        }
        for i, (n, v) in enumerate(releases)
    ]
    return json.dumps({"@context": CONTEXT, "@graph": graph}, indent=2).encode()


CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
E2E_FORMATS = ["cyclonedx-xml", "spdx-json", "spdx-yaml", "spdx-tagvalue", "spdx3-jsonld"]


@pytest.mark.parametrize("fmt", E2E_FORMATS)
def test_cli_enriches_every_format_with_verified_provenance(fmt, real_index, tmp_path):
    server, registered = real_index
    releases = sorted({(r.project, r.version) for r in registered.values()})
    sbom = tmp_path / f"in.{fmt}"
    sbom.write_bytes(_document_for(fmt, releases))
    out = tmp_path / f"out.{fmt}"
    args = ["enrich", str(sbom), "-o", str(out), "--index-url", server.index_url]
    assert run_cli([*args, "--trust-root", "embedded", "--validate-output"]) == 0
    assert_lossless(fmt, sbom.read_bytes(), out.read_bytes())
    enriched = read_sbom(out)
    assert enriched.format_id == fmt
    statuses = {
        c.name: c.properties.get("bomguard:provenance:status") for c in enriched.components()
    }
    assert set(statuses.values()) == {"verified"}, statuses
    # The provenance URLs the index advertised are in the document as references.
    assert out.read_bytes().count(b"/provenance") >= len(releases)


@pytest.mark.parametrize("input_format", [None, "spdx3-jsonld"])
def test_a_foreign_jsonld_context_is_named_not_called_missing(input_format):
    raw = b'{"@context": "https://schema.org/", "@graph": []}'
    with pytest.raises(InputError) as caught:
        parse_sbom(raw, Path("ld.json"), input_format=input_format).components()
    message = str(caught.value)
    assert message.startswith("ld.json: ")
    assert 'the @context is "https://schema.org/", not SPDX 3\'s' in message
    assert "no SPDX 3 @context" not in message
