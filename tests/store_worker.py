"""One enrich run in its own process, for the concurrency tests of the store.

``python store_worker.py SBOM OUT STORE INDEX_URL TRUST_ROOT`` writes the enriched SBOM to
OUT and prints, as JSON, the files this process verified itself (``verify`` events).
STORE ``-`` means no store.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import bomguard


def main() -> None:
    sbom, out, store, index_url, root = sys.argv[1:6]
    events: list[str] = []

    def observe(event: str, detail: str) -> None:
        if event == "verify":
            events.append(detail)

    options = bomguard.EnrichOptions(
        trust_root=root,
        drift_depth=0,
        index=bomguard.IndexOptions(index_url=index_url, store=None if store == "-" else store),
    )
    result = bomguard.enrich(Path(sbom), options, observer=observe)
    Path(out).write_bytes(result.document.serialize())
    print(json.dumps({"verified": events}))


if __name__ == "__main__":
    main()
