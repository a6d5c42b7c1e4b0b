"""Validate CycloneDX JSON against the official (strict) schemas that ship with
cyclonedx-python-lib.

cyclonedx-python-lib's own ``JsonStrictValidator`` checks the ``iri-reference`` format with
an Earley parser that costs about 0.2 s per URL, which makes a real SBOM with a few
hundred URLs take tens of seconds. This validator uses the same schema files and
registry, and checks IRI references with a linear check instead (RFC 3987 forbids
whitespace, control characters and ``<>"{}|\\^``` outside the allowed set; that is what
is checked). Every other keyword and format is jsonschema's own.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

__all__ = ["first_error"]

_IRI_FORBIDDEN = re.compile(r'[\x00-\x20\x7f<>"{}|\\^`]')


def _is_iri_reference(value: object) -> bool:
    return not isinstance(value, str) or _IRI_FORBIDDEN.search(value) is None


@functools.cache
def _validator(spec_version: str) -> Any:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.schema._res import BOM_JSON_STRICT, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON
    from jsonschema import FormatChecker
    from jsonschema.validators import Draft7Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT7

    schema_file = BOM_JSON_STRICT.get(SchemaVersion.from_version(spec_version))
    if schema_file is None:  # pragma: no cover - every supported version has one
        raise ValueError(f"no CycloneDX {spec_version} JSON schema")
    prefix = "http://cyclonedx.org/schema/"
    resources = [
        (f"{prefix}spdx.SNAPSHOT.schema.json", SPDX_JSON),
        (f"{prefix}cryptography-defs.SNAPSHOT.schema.json", CRYPTOGRAPHY_DEFS),
        (f"{prefix}jsf-0.82.SNAPSHOT.schema.json", JSF),
    ]
    registry: Registry[Any] = Registry().with_resources(
        (uri, DRAFT7.create_resource(json.loads(Path(path).read_text("utf-8"))))
        for uri, path in resources
    )
    checker = FormatChecker()
    checker.checkers = dict(Draft7Validator.FORMAT_CHECKER.checkers)
    checker.checks("iri-reference")(_is_iri_reference)
    checker.checks("iri")(_is_iri_reference)
    schema = json.loads(Path(schema_file).read_text("utf-8"))
    return Draft7Validator(schema, registry=registry, format_checker=checker)


def first_error(spec_version: str, document: object) -> str | None:
    """The first schema violation in ``document`` (one line, with its path), or ``None``."""
    error = next(iter(_validator(spec_version).iter_errors(document)), None)
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where.lstrip('.') or '(document)'}: {error.message}"
