"""Where expected identities come from: earlier releases, a baseline SBOM, pin files."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from bomguard._strict import find_problem, format_path, loads_json
from bomguard.drift.compare import Expectation
from bomguard.errors import InputError
from bomguard.identity_record import identity_from_record
from bomguard.models import DriftSource, Identity

__all__ = ["PIN_FIELDS", "identity_from_properties", "load_baseline", "load_pins"]

P = "bomguard:provenance:"

#: Keys a pin (ours, or a pylock.toml attestation identity) may give, and the field each sets.
PIN_FIELDS: Mapping[str, str] = {
    "kind": "kind",
    "repository": "repository",
    "workflow": "workflow",
    "workflow_filepath": "workflow",
    "workflow-filepath": "workflow",
    "environment": "environment",
    "email": "signer",
}


def identity_from_properties(props: Mapping[str, str]) -> Identity | None:
    """The identity an earlier bomguard run recorded in a component's properties."""
    if props.get(P + "status") != "verified":
        return None
    record = {k[len(P) :]: v for k, v in props.items() if k.startswith(P + "publisher:")}
    log_index = props.get(P + "log:index")
    return replace(
        identity_from_record(record),
        log_index=int(log_index) if log_index and log_index.isdigit() else None,
    )


def load_baseline(path: Path) -> dict[str, Expectation]:
    """Expected identities by PEP 503 name, from an SBOM bomguard enriched earlier.

    A package the baseline recorded as verified expects the same identity now, whatever
    its version was then. Packages it did not record as verified expect nothing.
    """
    from bomguard.sbom import read_sbom

    out: dict[str, Expectation] = {}
    for component in read_sbom(path).components():
        if component.pypi is None:
            continue
        identity = identity_from_properties(component.properties)
        if identity is None or component.pypi.name in out:
            continue
        since = f"{path.name}: {component.pypi.raw_version or '?'}"
        out[component.pypi.name] = Expectation(DriftSource.BASELINE, since, identity)
    return out


def _pin_identity(raw: Any, where: str) -> tuple[Identity, frozenset[str]]:
    if not isinstance(raw, dict) or not raw:
        raise InputError(f"{where}: expected a table of identity fields")
    unknown = sorted(set(raw) - set(PIN_FIELDS))
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown identity field")
    for key, value in raw.items():
        if not isinstance(value, str):
            raise InputError(f"{where}.{key}: expected a string")
    fields = frozenset(PIN_FIELDS[k] for k in raw)
    identity = Identity(
        kind=raw.get("kind"),
        repository=raw.get("repository"),
        workflow=raw.get("workflow")
        or raw.get("workflow_filepath")
        or raw.get("workflow-filepath"),
        environment=raw.get("environment"),
        san=raw.get("email"),
    )
    return identity, fields


def load_pins(path: Path) -> dict[str, list[Expectation]]:
    """Pinned identities by PEP 503 name from a ``pylock.toml`` (PEP 751) or a pin file.

    Our pin file is YAML or JSON: ``{apiVersion: bomguard/v1, kind: Pins, pins: {NAME:
    [IDENTITY, ...]}}`` where an identity has any of ``kind``, ``repository``,
    ``workflow`` (or ``workflow_filepath``), ``environment``, ``email``
    (schemas/pins.schema.json). A package matches its pin when any identity matches.
    """
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read the pins: {err.strerror or err}") from err
    pins: dict[str, list[Expectation]] = {}
    if path.name == "pylock.toml" or (path.name.startswith("pylock.") and path.suffix == ".toml"):
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"{path}: not TOML: {err}") from err
        packages = data.get("packages", [])
        if not isinstance(packages, list):
            raise InputError(f"{path}: packages: expected an array of tables")
        for i, package in enumerate(packages):
            identities = (
                package.get("attestation-identities") if isinstance(package, dict) else None
            )
            if not identities:
                continue
            name = package.get("name")
            if not isinstance(name, str):
                raise InputError(f"{path}: packages[{i}].name: expected a string")
            where = f"{path}: packages[{i}].attestation-identities"
            if not isinstance(identities, list):
                raise InputError(f"{where}: expected an array of tables")
            for j, item in enumerate(identities):
                identity, fields = _pin_identity(item, f"{where}[{j}]")
                pins.setdefault(canonicalize_name(name), []).append(
                    Expectation(DriftSource.PIN, path.name, identity, fields)
                )
        return pins
    try:
        import yaml

        data = (
            yaml.safe_load(raw.decode("utf-8"))
            if not raw.lstrip().startswith(b"{")
            else loads_json(raw)
        )
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not YAML or JSON: {err}") from err
    except Exception as err:  # yaml.YAMLError
        raise InputError(f"{path}: not YAML: {str(err).splitlines()[0]}") from err
    found = find_problem(data, 64)
    if found is not None:
        raise InputError(f"{path}: {format_path(found[0])}: {found[1]}")
    if not isinstance(data, dict) or data.get("kind") != "Pins":
        raise InputError(f"{path}: kind: expected 'Pins' (or name the file pylock.toml)")
    if data.get("apiVersion") != "bomguard/v1":
        raise InputError(f"{path}: apiVersion: expected 'bomguard/v1'")
    entries = data.get("pins")
    if not isinstance(entries, dict) or not entries:
        raise InputError(f"{path}: pins: expected a non-empty mapping of package names")
    for name, identities in entries.items():
        where = f"{path}: pins.{name}"
        if not isinstance(identities, list) or not identities:
            raise InputError(f"{where}: expected a non-empty list of identities")
        for j, item in enumerate(identities):
            identity, fields = _pin_identity(item, f"{where}[{j}]")
            pins.setdefault(canonicalize_name(str(name)), []).append(
                Expectation(DriftSource.PIN, path.name, identity, fields)
            )
    return pins
