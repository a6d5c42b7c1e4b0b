"""Validate CycloneDX JSON against the official (strict) schemas that ship with
cyclonedx-python-lib, with jsonschema-rs.

jsonschema-rs checks every keyword and format the schemas use, the ``iri-reference``
format with full RFC 3987 rules (``%zz``, ``http://[::1`` and ``a#b#c`` are refused, as
the official validators refuse them), in milliseconds on a real SBOM with hundreds of
URLs, where cyclonedx-python-lib's own validator (jsonschema with rfc3987-syntax's Earley
parser) takes tens of seconds. The schemas' references to the SPDX licence list, JSF and
the cryptography definitions resolve to the files shipped beside them; nothing is fetched.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

__all__ = ["first_error"]

_PREFIX = "http://cyclonedx.org/schema/"


@functools.cache
def _validator(spec_version: str) -> Any:
    import jsonschema_rs
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.schema._res import BOM_JSON_STRICT, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON

    schema_file = BOM_JSON_STRICT.get(SchemaVersion.from_version(spec_version))
    if schema_file is None:  # pragma: no cover - every supported version has one
        raise ValueError(f"no CycloneDX {spec_version} JSON schema")
    shipped = {
        f"{_PREFIX}spdx.SNAPSHOT.schema.json": SPDX_JSON,
        f"{_PREFIX}cryptography-defs.SNAPSHOT.schema.json": CRYPTOGRAPHY_DEFS,
        f"{_PREFIX}jsf-0.82.SNAPSHOT.schema.json": JSF,
    }

    def retrieve(uri: str) -> Any:
        path = shipped.get(uri.split("#", 1)[0])
        if path is None:
            raise ValueError(f"not fetched: {uri} is not a schema shipped with CycloneDX")
        return json.loads(Path(path).read_text("utf-8"))

    schema = json.loads(Path(schema_file).read_text("utf-8"))
    return jsonschema_rs.Draft7Validator(schema, validate_formats=True, retriever=retrieve)


def first_error(spec_version: str, document: object) -> str | None:
    """The first schema violation in ``document`` (one line, with its path), or ``None``."""
    error = next(iter(_validator(spec_version).iter_errors(document)), None)
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.instance_path)
    message = " ".join(str(error.message).split())
    return f"{where.lstrip('.') or '(document)'}: {message}"
