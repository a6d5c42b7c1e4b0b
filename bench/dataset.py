"""Synthetic PyPI data sets with minted PEP 740 provenance, cached on disk.

Component ``i`` is the project ``bench-pkg-NNNNN`` with two releases, an earlier one and
the current one (the SBOM names the current one; the earlier one is there for identity
drift), each of 2 to 4 files (an sdist and 1 to 3 wheels; 3 on average). Every project
has its own publisher identity: 70 % GitHub, 15 % GitLab, 10 % Google, 5 % CircleCI,
with distinct repositories, ids and refs. Every file has one attestation, minted by
:class:`virtual_sigstore.VirtualSigstore` (seeded, so the bytes are reproducible).

Minting costs about 1 ms per attestation, so a data set is written once under
``bench/.data/seed<SEED>-n<N>/`` and reused. Generation is component by component with
a seeded Sigstore, so the first ``n`` components of a larger data set are exactly the
data set of size ``n``: a cached larger data set serves every smaller size.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _paths import DATA, setup_path

setup_path()

FORMAT = 1
WHEEL_TAGS = (
    "py3-none-any",
    "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp312-cp312-macosx_11_0_arm64",
)
FILES_PER_RELEASE = (3, 2, 4, 3)
"""Files per release by ``i % 4``: 3 on average."""


@dataclass(frozen=True)
class Dataset:
    folder: Path
    seed: int
    size: int
    """Components available (a run may use the first ``n`` of them)."""

    @property
    def trusted_root(self) -> Path:
        return self.folder / "trusted_root.json"

    @property
    def components_path(self) -> Path:
        return self.folder / "components.jsonl.gz"

    def components(self, n: int) -> Iterator[dict[str, Any]]:
        """The first ``n`` components: name, versions and files with their provenance."""
        if n > self.size:
            raise ValueError(f"data set has {self.size} components, {n} asked for")
        with gzip.open(self.components_path, "rt", encoding="utf-8") as handle:
            for i, line in enumerate(handle):
                if i >= n:
                    return
                yield json.loads(line)


def project_name(i: int) -> str:
    return f"bench-pkg-{i:05d}"


def versions(i: int) -> tuple[str, str]:
    """(earlier, current) versions of component ``i``."""
    major, minor = 1 + i % 7, i % 13
    return f"{major}.{minor}.0", f"{major}.{minor}.1"


def _identity(i: int, version: str) -> Any:
    from virtual_sigstore import (
        CircleCIIdentity,
        GitHubIdentity,
        GitLabIdentity,
        GoogleIdentity,
    )

    name = project_name(i)
    ref = f"refs/tags/v{version}"
    bucket = i % 20
    if bucket < 14:
        return GitHubIdentity(
            repository=f"org{i:05d}/{name}",
            workflow=("release.yml", "publish.yml", "pypi.yml")[i % 3],
            ref=ref,
            repository_id=str(100000 + i),
            owner_id=str(500000 + i),
            trigger=("release", "push")[i % 2],
            environment="pypi" if i % 2 == 0 else None,
            run_id=str(9000000000 + i),
        )
    if bucket < 17:
        return GitLabIdentity(
            repository=f"group{i:05d}/{name}",
            ref=ref,
            project_id=str(300000 + i),
            namespace_id=str(400000 + i),
            job_id=str(8000000000 + i),
        )
    if bucket < 19:
        return GoogleIdentity(email=f"publisher-{i:05d}@bench-{i:05d}.iam.gserviceaccount.com")
    uid = hashlib.sha256(f"circleci\0{i}".encode()).hexdigest()
    return CircleCIIdentity(
        project_id=f"{uid[0:8]}-{uid[8:12]}-4{uid[13:16]}-8{uid[17:20]}-{uid[20:32]}",
        pipeline_definition_id=f"{uid[32:40]}-{uid[40:44]}-4{uid[45:48]}-8{uid[49:52]}-{uid[52:64]}",
        vcs_origin=f"github.com/org{i:05d}/{name}",
        vcs_ref=ref,
    )


def filenames(i: int, version: str) -> list[str]:
    stem = project_name(i).replace("-", "_")
    count = FILES_PER_RELEASE[i % len(FILES_PER_RELEASE)]
    return [f"{stem}-{version}.tar.gz"] + [
        f"{stem}-{version}-{tag}.whl" for tag in WHEEL_TAGS[: count - 1]
    ]


def _sha(filename: str, seed: int) -> str:
    return hashlib.sha256(f"{filename}\0bench-content\0{seed}".encode()).hexdigest()


def generate(folder: Path, size: int, seed: int, log: Any = print) -> Dataset:
    """Mint a data set of ``size`` components into ``folder`` (replaced if present)."""
    from virtual_sigstore import VirtualSigstore

    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    sig = VirtualSigstore(seed=seed)
    started = time.perf_counter()
    minted = 0
    with gzip.open(tmp / "components.jsonl.gz", "wt", encoding="utf-8", compresslevel=3) as out:
        for i in range(size):
            releases = []
            for version in versions(i):
                identity = _identity(i, version)
                files = []
                for filename in filenames(i, version):
                    sha = _sha(filename, seed)
                    provenance = sig.mint_provenance(filename, sha, identity)
                    minted += 1
                    files.append(
                        {"filename": filename, "sha256": sha, "provenance": provenance.decode()}
                    )
                releases.append({"version": version, "files": files})
            record = {"index": i, "name": project_name(i), "releases": releases}
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
            if (i + 1) % 1000 == 0:
                log(f"  minted {i + 1}/{size} components ({minted} attestations)")
    sig.write_trusted_root(tmp / "trusted_root.json")
    meta = {
        "format": FORMAT,
        "seed": seed,
        "size": size,
        "attestations": minted,
        "seconds": round(time.perf_counter() - started, 2),
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return Dataset(folder, seed, size)


def _cached(seed: int) -> list[Dataset]:
    found = []
    for meta_path in DATA.glob(f"seed{seed}-n*/meta.json"):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if meta.get("format") == FORMAT and meta.get("seed") == seed:
            found.append(Dataset(meta_path.parent, seed, int(meta["size"])))
    return sorted(found, key=lambda d: d.size)


def ensure(size: int, seed: int, log: Any = print) -> Dataset:
    """A cached data set with at least ``size`` components (minted if there is none)."""
    for dataset in _cached(seed):
        if dataset.size >= size:
            return dataset
    folder = DATA / f"seed{seed}-n{size}"
    log(f"minting a data set of {size} components (seed {seed}) into {folder} ...")
    dataset = generate(folder, size, seed, log)
    for smaller in _cached(seed):
        if smaller.size < size:
            shutil.rmtree(smaller.folder, ignore_errors=True)  # the new one covers it
    return dataset


def write_sbom(dataset: Dataset, n: int, path: Path) -> int:
    """A CycloneDX 1.6 JSON SBOM naming the current release of the first ``n`` components.

    Returns the number of distribution files of those releases.
    """
    components = []
    files = 0
    for record in dataset.components(n):
        current = record["releases"][-1]
        files += len(current["files"])
        purl = f"pkg:pypi/{record['name']}@{current['version']}"
        components.append(
            {
                "type": "library",
                "bom-ref": purl,
                "name": record["name"],
                "version": current["version"],
                "purl": purl,
                "licenses": [
                    {"license": {"id": ("MIT", "Apache-2.0", "BSD-3-Clause")[record["index"] % 3]}}
                ],
            }
        )
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": "urn:uuid:6f1b8e52-3c2a-4b8e-9d7e-5a0c1e2f3a4b",
        "version": 1,
        "metadata": {
            "timestamp": "2026-01-01T00:00:00Z",
            "component": {"type": "application", "bom-ref": "app", "name": "bench-app"},
        },
        "components": components,
    }
    path.write_text(json.dumps(doc, indent=1))
    return files
