"""The facts a CEL rule sees: one ``component`` map per SBOM component.

The shape is fixed. Every key is always present (``""`` for a missing string, ``[]`` for a
missing list, ``0`` for a missing count), so an expression such as
``component.provenance.publisher.repository == "x"`` never fails on a component that has
no publisher; it is simply ``false``.
"""

from __future__ import annotations

from typing import Any

from packaging.utils import canonicalize_name

from bomguard.models import Component, ComponentEvidence, Identity, Status

__all__ = ["component_facts", "component_label", "component_status", "normalized_name"]

_PUBLISHER_KEYS = (
    "kind",
    "repository",
    "workflow",
    "environment",
    "issuer",
    "ref",
    "commit",
    "trigger",
    "runner_environment",
)


def normalized_name(component: Component) -> str:
    """The name critical lists are compared with: the PyPI name, else PEP 503 of the name."""
    if component.pypi is not None:
        return component.pypi.name
    return str(canonicalize_name(component.name))


def component_label(component: Component) -> str:
    """How a component is named in a verdict: its purl, else ``name@version`` (or ``name``)."""
    if component.purl:
        return component.purl
    name = component.name or component.bom_ref or component.locator or "(unnamed)"
    return f"{name}@{component.version}" if component.version else name


def component_status(
    component: Component, evidence: ComponentEvidence | None
) -> tuple[Status, str]:
    """The provenance status and reason policies see for a component.

    Without evidence a component is ``not-applicable`` when it is not a PyPI component;
    a PyPI component (or a ``pkg:pypi`` purl that did not parse) with no evidence is
    ``unknown``, never silently not-applicable.
    """
    if evidence is not None:
        return evidence.status, evidence.reason
    if component.pypi_error:
        return Status.UNKNOWN, component.pypi_error
    if component.pypi is not None:
        return Status.UNKNOWN, "no provenance evidence was gathered"
    return Status.NOT_APPLICABLE, ""


def _publisher(identity: Identity | None) -> dict[str, str]:
    if identity is None:
        return dict.fromkeys(_PUBLISHER_KEYS, "")
    return {key: getattr(identity, key) or "" for key in _PUBLISHER_KEYS}


def component_facts(
    component: Component, evidence: ComponentEvidence | None, critical: bool
) -> dict[str, Any]:
    """The JSON-ready value bound to ``component`` in CEL (see the module docstring).

    ``critical`` says whether the evaluating policy lists this component as critical.
    """
    status, reason = component_status(component, evidence)
    files = evidence.files if evidence is not None else ()
    return {
        "name": component.name,
        "normalized_name": normalized_name(component),
        "version": component.version or "",
        "purl": component.purl or "",
        "bom_ref": component.bom_ref or "",
        "type": component.type or "",
        "group": component.group or "",
        "scope": component.scope or "",
        "licenses": list(component.licenses),
        "properties": dict(component.properties),
        "pypi": component.pypi is not None,
        "critical": critical,
        "provenance": {
            "status": status.value,
            "reason": reason,
            "publisher": _publisher(evidence.identity if evidence is not None else None),
            "files": [
                {
                    "filename": f.filename,
                    "sha256": f.sha256 or "",
                    "status": f.status.value,
                    "reason": f.reason,
                    "publisher": _publisher(f.identity),
                }
                for f in files
            ],
            "verified_files": sum(1 for f in files if f.status is Status.VERIFIED),
            "total_files": len(files),
        },
    }
