"""One huge SBOM whose components are all missing from the index: wall time and peak RSS.

```
python bench/large_sbom.py                       # 100,000 components
python bench/large_sbom.py --components 20000
BENCH_SRC=/path/to/other/src python bench/large_sbom.py   # measure another tree
```

A CycloneDX 1.6 SBOM of ``pkg:pypi/proj-N@1.0`` components is written to a temporary
directory and enriched by ``python -m bomguard enrich`` (a subprocess, as a user runs it)
against the test suite's loopback index (``tests/indexserver.py``, empty: every project
page answers 404) with ``--trust-root embedded --no-cache``. Prints the wall time and
the child's peak RSS (``ru_maxrss``), the numbers ``/usr/bin/time -v`` reports.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _paths import setup_path, sources

setup_path()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=100_000)
    args = parser.parse_args()

    import indexserver
    from indexserver import IndexServer

    indexserver._HTTPServer.request_queue_size = 1024  # as bench/server.py does
    with tempfile.TemporaryDirectory() as tmp, IndexServer() as server:
        sbom = Path(tmp) / "large.cdx.json"
        components = [
            {
                "type": "library",
                "bom-ref": f"pkg:pypi/proj-{i}@1.0",
                "name": f"proj-{i}",
                "version": "1.0",
                "purl": f"pkg:pypi/proj-{i}@1.0",
            }
            for i in range(args.components)
        ]
        doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}
        sbom.write_text(json.dumps({**doc, "components": components}, indent=2))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sources())}
        command = [sys.executable, "-m", "bomguard", "enrich", str(sbom)]
        command += ["-o", str(Path(tmp) / "out.json"), "--index-url", server.index_url]
        command += ["--trust-root", "embedded", "--no-cache"]
        start = time.monotonic()
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall = time.monotonic() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "(no output)")
    print(
        f"{args.components} components: exit {result.returncode}, {wall:.1f} s wall, "
        f"peak RSS {peak / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
