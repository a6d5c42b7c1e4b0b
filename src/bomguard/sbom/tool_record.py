"""Record bomguard in an enriched CycloneDX BOM: ``metadata.tools`` and the BOM ``version``.

A consumer can then tell the document was enriched, and by which bomguard:

- ``metadata.tools`` gains bomguard in the form of the document's spec version: the
  legacy list of tools in 1.4 (and in a 1.5+ document that already uses that list, since
  the two forms cannot be mixed), ``tools.components`` (an ``application``) in 1.5+;
- the BOM ``version`` goes up by one, as CycloneDX asks of every modification (an input
  without one is version 1, so the output is 2).

Re-enrichment replaces bomguard's entry (the tool named ``bomguard``) rather than adding a
second; everything else in ``metadata`` is kept as it was.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from bomguard._version import __version__
from bomguard.sbom._xml import insert_pretty, iter_elements, local_name, remove_child

__all__ = ["TOOL_NAME", "TOOL_URL", "record_in_json", "record_in_xml"]

TOOL_NAME = "bomguard"
TOOL_URL = "https://pypi.org/project/bomguard/"


def _ours(item: object) -> bool:
    return isinstance(item, dict) and item.get("name") == TOOL_NAME


def _tool(legacy: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {} if legacy else {"type": "application"}
    entry["name"] = TOOL_NAME
    entry["version"] = __version__
    entry["externalReferences"] = [{"type": "website", "url": TOOL_URL}]
    return entry


def _insert_after(data: dict[str, Any], after: tuple[str, ...], key: str, value: Any) -> None:
    """Set ``data[key]``, placed after the last of ``after`` present (else at the end)."""
    items = list(data.items())
    position = max((i + 1 for i, (k, _) in enumerate(items) if k in after), default=len(items))
    items.insert(position, (key, value))
    data.clear()
    data.update(items)


def record_in_json(data: dict[str, Any], spec_version: str) -> None:
    """Bump ``version`` and put bomguard in ``metadata.tools`` of a CycloneDX JSON tree."""
    version = data.get("version", 1)
    if isinstance(version, int) and not isinstance(version, bool):
        if "version" in data:
            data["version"] = version + 1
        else:
            _insert_after(data, ("bomFormat", "specVersion", "serialNumber"), "version", 2)
    if "metadata" not in data:
        _insert_after(data, ("bomFormat", "specVersion", "serialNumber", "version"), "metadata", {})
    metadata = data["metadata"]
    if not isinstance(metadata, dict):
        return  # not a CycloneDX metadata object: nothing is added to it
    tools = metadata.get("tools")
    if tools is None:
        tools = [] if spec_version == "1.4" else {}
        _insert_after(metadata, ("timestamp", "lifecycles"), "tools", tools)
    if isinstance(tools, list):
        tools[:] = [t for t in tools if not _ours(t)] + [_tool(legacy=True)]
    elif isinstance(tools, dict):
        components = tools.setdefault("components", [])
        if isinstance(components, list):
            components[:] = [c for c in components if not _ours(c)] + [_tool(legacy=False)]


def _child(parent: ET.Element, ns: str, name: str) -> ET.Element | None:
    return next((c for c in iter_elements(parent) if c.tag == f"{{{ns}}}{name}"), None)


def _xml_tool(ns: str, legacy: bool) -> ET.Element:
    element = ET.Element(f"{{{ns}}}tool" if legacy else f"{{{ns}}}component")
    for key, value in _tool(legacy).items():
        if key == "type":
            element.set("type", value)
        elif key == "externalReferences":
            refs = ET.SubElement(element, f"{{{ns}}}externalReferences")
            for ref in value:
                reference = ET.SubElement(refs, f"{{{ns}}}reference", {"type": ref["type"]})
                ET.SubElement(reference, f"{{{ns}}}url").text = ref["url"]
        else:
            ET.SubElement(element, f"{{{ns}}}{key}").text = value
    return element


def _new_tools(ns: str, legacy: bool) -> ET.Element:
    tools = ET.Element(f"{{{ns}}}tools")
    if legacy:
        tools.append(_xml_tool(ns, legacy=True))
    else:
        ET.SubElement(tools, f"{{{ns}}}components").append(_xml_tool(ns, legacy=False))
    return tools


def _ws(parent: ET.Element, child: ET.Element, parent_ws: str | None) -> str | None:
    """The whitespace before ``child`` (guessed one step deeper than ``parent_ws``)."""
    index = list(parent).index(child)
    text = parent.text if index == 0 else parent[index - 1].tail
    if text is not None and not text.strip():
        return text
    return None if parent_ws is None else parent_ws + "  "


def _named_ours(element: ET.Element, ns: str) -> bool:
    name = _child(element, ns, "name")
    return name is not None and (name.text or "").strip() == TOOL_NAME


def record_in_xml(root: ET.Element, ns: str, spec_version: str) -> None:
    """Bump ``version`` and put bomguard in ``metadata/tools`` of a CycloneDX XML ``<bom>``."""
    version = root.get("version", "1")
    if version.isdigit():
        root.set("version", str(int(version) + 1))
    legacy_only = spec_version == "1.4"
    metadata = _child(root, ns, "metadata")
    if metadata is None:
        metadata = ET.Element(f"{{{ns}}}metadata")
        metadata.append(_new_tools(ns, legacy_only))
        first = next((i for i, c in enumerate(root) if isinstance(c.tag, str)), len(root))
        insert_pretty(root, first, metadata, "\n")
        return
    metadata_ws = _ws(root, metadata, "\n")
    tools = _child(metadata, ns, "tools")
    if tools is None:
        position = 0
        for i, c in enumerate(metadata):
            if isinstance(c.tag, str) and local_name(c.tag) in ("timestamp", "lifecycles"):
                position = i + 1
        insert_pretty(metadata, position, _new_tools(ns, legacy_only), metadata_ws)
        return
    tools_ws = _ws(metadata, tools, metadata_ws)
    legacy = legacy_only or any(local_name(c.tag) == "tool" for c in iter_elements(tools))
    if legacy:
        for old in [c for c in iter_elements(tools) if _named_ours(c, ns)]:
            remove_child(tools, old)
        insert_pretty(tools, len(tools), _xml_tool(ns, legacy=True), tools_ws)
        return
    components = _child(tools, ns, "components")
    if components is None:
        components = ET.Element(f"{{{ns}}}components")
        components.append(_xml_tool(ns, legacy=False))
        insert_pretty(tools, 0, components, tools_ws)
        return
    for old in [c for c in iter_elements(components) if _named_ours(c, ns)]:
        remove_child(components, old)
    insert_pretty(
        components, len(components), _xml_tool(ns, legacy=False), _ws(tools, components, tools_ws)
    )
