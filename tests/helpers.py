"""Small helpers shared by the end-to-end tests: build SBOM inputs, run the CLI, read results."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bomguard.cli import main

PYPI_CACHE_CONTROL = {"Cache-Control": "max-age=600, public"}
"""What PyPI sends with its Simple and Integrity API answers (pages stay fresh 10 minutes)."""

ATTESTATION_COMMENT = "bomguard: PEP 740 provenance (PyPI Integrity API)"


def cdx(components: Iterable[dict[str, Any]], spec: str = "1.6") -> dict[str, Any]:
    """A minimal CycloneDX JSON document holding ``components``."""
    return {
        "bomFormat": "CycloneDX",
        "specVersion": spec,
        "version": 1,
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "metadata": {"timestamp": "2026-11-25T00:00:00Z"},
        "components": list(components),
    }


def pypi(name: str, version: str | None, **extra: Any) -> dict[str, Any]:
    """A CycloneDX library component with a ``pkg:pypi`` purl."""
    purl = f"pkg:pypi/{name}" + (f"@{version}" if version else "")
    comp: dict[str, Any] = {"type": "library", "bom-ref": purl, "name": name, "purl": purl}
    if version:
        comp["version"] = version
    comp.update(extra)
    return comp


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2))
    return path


def run_cli(args: list[str]) -> int:
    """Run ``bomguard`` in-process and return its exit code."""
    with pytest.raises(SystemExit) as exc:
        main(args)
    code = exc.value.code
    return code if isinstance(code, int) else 1


def enrich_cli(
    sbom: Path, out: Path, index_url: str, *extra: str, trust_root: Any = "embedded"
) -> int:
    """Run ``bomguard enrich SBOM -o OUT --index-url URL --trust-root ROOT EXTRA...``."""
    args = ["enrich", str(sbom), "-o", str(out), "--index-url", index_url]
    return run_cli([*args, "--trust-root", str(trust_root), *extra])


def walk(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every component of a CycloneDX document, nested and metadata.component included."""
    stack = []
    meta = doc.get("metadata", {})
    if isinstance(meta, dict) and "component" in meta:
        stack.append(meta["component"])
    stack.extend(doc.get("components", []))
    while stack:
        comp = stack.pop()
        yield comp
        stack.extend(comp.get("components", []))


def props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def file_statuses(component: dict[str, Any]) -> dict[str, str]:
    """Filename to status, from each ``bomguard:provenance:file`` property (``<file> <status>``)."""
    out = {}
    for p in component.get("properties", []):
        if p["name"] == "bomguard:provenance:file":
            filename, _, status = p["value"].rpartition(" ")
            out[filename] = status
    return out


def drift_events(component: dict[str, Any]) -> list[dict[str, str]]:
    """Each ``bomguard:drift:event`` property's JSON object, in order."""
    return [
        json.loads(p["value"])
        for p in component.get("properties", [])
        if p["name"] == "bomguard:drift:event"
    ]


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in walk(doc)}


def _strip_tool_record(out: dict[str, Any], original: dict[str, Any], runs: int) -> None:
    """Undo what each enrichment records of itself: ``version`` + 1, bomguard in the tools.

    The version must be exactly the input's (1 when it has none) plus ``runs``, and
    bomguard must be in ``metadata.tools`` exactly once; otherwise the result is left
    unequal to the input.
    """
    before = original.get("version", 1)
    if out.get("version") == before + runs:
        if "version" in original:
            out["version"] = before
        else:
            del out["version"]
    metadata = out.get("metadata")
    if not isinstance(metadata, dict):
        return
    meta_before = original.get("metadata", {})
    tools = metadata.get("tools")
    entries = tools if isinstance(tools, list) else (tools or {}).get("components")
    if not isinstance(entries, list):
        return
    ours = [t for t in entries if isinstance(t, dict) and t.get("name") == "bomguard"]
    if len(ours) != 1:
        return
    entries.remove(ours[0])
    tools_before = meta_before.get("tools") if isinstance(meta_before, dict) else None
    if isinstance(tools, dict) and not entries and "components" not in (tools_before or {}):
        del tools["components"]
    if not tools and tools_before is None:
        del metadata["tools"]
    if not metadata and "metadata" not in original:
        del out["metadata"]


def strip_additions(
    enriched: dict[str, Any], original: dict[str, Any], runs: int = 1
) -> dict[str, Any]:
    """The enriched document minus what bomguard adds (for lossless comparisons).

    ``runs`` is how many times the input was enriched (each bumps the BOM version).
    """
    out = copy.deepcopy(enriched)
    if out.get("bomFormat") == "CycloneDX":
        _strip_tool_record(out, original, runs)
    originals = list(walk(original))
    for i, comp in enumerate(walk(out)):
        before = originals[i] if i < len(originals) else {}
        if str(comp.get("bom-ref", "")).startswith("bomguard:") and "bom-ref" not in before:
            del comp["bom-ref"]
        if "properties" in comp:
            comp["properties"] = [
                p for p in comp["properties"] if not p["name"].startswith("bomguard:")
            ]
            if not comp["properties"] and "properties" not in before:
                del comp["properties"]
        if "externalReferences" in comp:
            comp["externalReferences"] = [
                r for r in comp["externalReferences"] if r.get("comment") != ATTESTATION_COMMENT
            ]
            if not comp["externalReferences"] and "externalReferences" not in before:
                del comp["externalReferences"]
    for key in ("declarations", "definitions"):
        if key in out and key not in original:
            del out[key]
        elif key in out:
            section = out[key]
            for name, items in list(section.items()):
                if isinstance(items, list):
                    section[name] = [
                        i
                        for i in items
                        if not (
                            isinstance(i, dict)
                            and (
                                str(i.get("bom-ref", "")).startswith("bomguard:")
                                or i.get("assessor") == "bomguard:assessor"
                            )
                        )
                    ]
    return out
