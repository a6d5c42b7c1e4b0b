"""Import jsonschema without the import-time cost of ``rfc3987-syntax``.

jsonschema checks the ``iri`` / ``iri-reference`` formats with rfc3987-syntax when that
is installed, and rfc3987-syntax builds an Earley grammar when it is imported: about
2-3 seconds of every run, before anything happens. bomguard itself no longer installs it
(CycloneDX JSON is validated with jsonschema-rs, ``sbom/validate.py``), but many
environments still have it (``jsonschema[format]``, cyclonedx-python-lib's
``json-validation`` extra, tools such as cyclonedx-bom installed beside bomguard).
bomguard's own schemas (policy, verdict, pins) use no IRI formats, so jsonschema is
imported here as if rfc3987-syntax were absent. When something else imported jsonschema
first, that module is used as it is.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["load"]


def load() -> ModuleType:
    """The ``jsonschema`` module (with ``jsonschema.exceptions`` and validators loaded)."""
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
        try:
            module = importlib.import_module("jsonschema")
        finally:
            del sys.modules["rfc3987_syntax"]
    else:
        module = importlib.import_module("jsonschema")
    importlib.import_module("jsonschema.exceptions")
    return module
