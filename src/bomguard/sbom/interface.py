"""The interface every SBOM format backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from bomguard.models import Component
from bomguard.sbom.graph import Relationships

if TYPE_CHECKING:
    from bomguard._spool import ProvenanceSpool

__all__ = ["Addition", "SbomDocument"]


@dataclass(frozen=True, slots=True)
class Addition:
    """What bomguard adds to one component: flat properties and attestation links."""

    properties: tuple[tuple[str, str], ...]
    attestation_urls: tuple[str, ...] = ()


class SbomDocument(ABC):
    """A parsed SBOM that can list its components and be written back with additions."""

    #: Human name of the format, e.g. ``CycloneDX JSON``.
    format_name: str = ""
    #: The format's ``input_format`` name, e.g. ``cyclonedx-json`` (see ``bomguard.sbom.FORMATS``).
    format_id: str = ""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    @property
    @abstractmethod
    def spec_version(self) -> str:
        """The specification version the document declares."""

    @abstractmethod
    def components(self) -> list[Component]:
        """Every component (CycloneDX: nested ones and ``metadata.component`` included;
        SPDX: every package), each with a ``locator`` that :meth:`enrich` accepts."""

    @abstractmethod
    def enrich(self, additions: Mapping[str, Addition]) -> None:
        """Add ``additions`` (keyed by component locator); never remove input data."""

    def relationships(self) -> Relationships | None:
        """The dependency relationships the document states (``None``: it states none)."""
        return None

    @property
    def supports_declarations(self) -> bool:
        """Whether the format has CycloneDX 1.6 ``declarations`` to carry evidence in."""
        return False

    def add_declarations(
        self,
        declarations: dict[str, Any],
        standards: list[dict[str, Any]],
        spool: ProvenanceSpool | None = None,
    ) -> None:
        """Add bomguard's declarations and standards (replacing earlier ones of its own);
        ``spool`` holds the provenance objects the declarations' placeholders stand for."""
        raise NotImplementedError(f"{self.format_name} has no declarations")

    def claim_targets(self, locators: Sequence[str]) -> dict[str, str]:
        """The ``bom-ref`` each component's claim targets, giving one to a component that
        has none (only for formats with declarations)."""
        raise NotImplementedError(f"{self.format_name} has no declarations")

    def embedded_evidence(self) -> dict[str, list[tuple[str, str | None, bytes]]]:
        """Provenance objects embedded by an earlier run: locator → (filename, sha256, bytes)."""
        return {}

    @abstractmethod
    def serialize(self) -> bytes:
        """The document, as bytes in its own format and spec version."""

    def write_to(self, handle: IO[bytes]) -> None:
        """Write :meth:`serialize`'s bytes to ``handle`` (piece by piece where the format
        embeds evidence, without holding the whole document)."""
        handle.write(self.serialize())

    @abstractmethod
    def validate(self) -> str | None:
        """Validate against the official schema; return the first problem or ``None``.

        CycloneDX documents are validated whole against the official JSON schema or XSD.
        SPDX documents are validated with spdx-tools (SPDX 2) or the SPDX 3.0.1 model
        bindings; there, problems the input already had are not reported (many real SPDX
        documents do not validate as generated), only those the enrichment would add.
        """
