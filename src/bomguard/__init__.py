"""bomguard: turn an SBOM into supply-chain evidence.

The library API is :func:`bomguard.enrich` (see ``bomguard.pipeline``); the CLI is a thin
layer over it.
"""

from __future__ import annotations

from bomguard._version import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from bomguard.index import IndexOptions
    from bomguard.pipeline import EnrichOptions, EnrichResult, enrich

__all__ = ["EnrichOptions", "EnrichResult", "IndexOptions", "__version__", "enrich"]


def __getattr__(name: str) -> object:
    # Imported lazily: the pipeline pulls in sigstore and httpx, which are slow to import.
    if name in ("EnrichOptions", "EnrichResult", "enrich"):
        from bomguard import pipeline

        return getattr(pipeline, name)
    if name == "IndexOptions":
        from bomguard.index import IndexOptions

        return IndexOptions
    raise AttributeError(f"module 'bomguard' has no attribute {name!r}")
