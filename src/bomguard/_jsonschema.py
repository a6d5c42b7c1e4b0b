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

The same goes for the other optional libraries jsonschema's format checkers use (fqdn,
idna, rfc3987, rfc3986-validator, rfc3339-validator, webcolors, jsonpointer,
uri-template, isoduration: about a tenth of a second together): bomguard validates with
no format checker at all (formats are annotations in draft 2020-12), so none of them
could change a result. They stay importable for anything else: only jsonschema's own
import does without them.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["load"]

_FORMAT_LIBRARIES = (
    "rfc3987_syntax",
    "fqdn",
    "idna",
    "rfc3987",
    "rfc3986_validator",
    "rfc3339_validator",
    "webcolors",
    "jsonpointer",
    "uri_template",
    "isoduration",
)


def load() -> ModuleType:
    """The ``jsonschema`` module (with ``jsonschema.exceptions`` and validators loaded)."""
    if "jsonschema" not in sys.modules:
        absent = [name for name in _FORMAT_LIBRARIES if name not in sys.modules]
        for name in absent:
            sys.modules[name] = None  # type: ignore[assignment]
        try:
            module = importlib.import_module("jsonschema")
        finally:
            for name in absent:
                del sys.modules[name]
    else:
        module = importlib.import_module("jsonschema")
    importlib.import_module("jsonschema.exceptions")
    return module
