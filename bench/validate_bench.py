"""``--validate-output`` time: the official CycloneDX JSON schema over every real fixture.

For each real CycloneDX JSON SBOM in ``tests/data`` (the one with the most URLs is
``cdxpy__poetry_plain_private-packges_v2_lock21_1.6.json``, 216 URLs), the time of the
first validation (which builds the validator for its spec version) and the median of
five more, and whether the document is valid. Run: ``python bench/validate_bench.py``.
"""

from __future__ import annotations

import json
import statistics
import time

from _paths import FIXTURES, setup_path

setup_path()

from bomguard.sbom.validate import first_error  # noqa: E402


def main() -> None:
    paths = sorted(
        p
        for folder in ("sboms", "sboms-generated")
        for p in (FIXTURES / folder).glob("*.json")
        if json.loads(p.read_text()).get("bomFormat") == "CycloneDX"
    )
    for path in paths:
        doc = json.loads(path.read_text())
        start = time.perf_counter()
        problem = first_error(doc["specVersion"], doc)
        first = time.perf_counter() - start
        again = []
        for _ in range(5):
            start = time.perf_counter()
            first_error(doc["specVersion"], doc)
            again.append(time.perf_counter() - start)
        urls = json.dumps(doc).count('"url"')
        print(
            f"{path.name}: {urls} URLs, first {first * 1000:.1f} ms, "
            f"then {statistics.median(again) * 1000:.2f} ms, "
            f"{'valid' if problem is None else 'INVALID: ' + problem}"
        )


if __name__ == "__main__":
    main()
