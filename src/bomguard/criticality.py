"""PyPI download ranks: the snapshot that decides ``component.rank`` and ``critical.top``.

bomguard ships a snapshot of the most-downloaded PyPI projects
(``data/top-pypi-projects.tsv.gz``, described by ``data/top-pypi-projects.json``: its date,
source and the sha256 of the TSV). ``bomguard data refresh`` downloads a newer list into the
user data directory (:func:`data_dir`); from then on that one is used. Every verdict records
which snapshot judged criticality (:meth:`RankSnapshot.record`).

A snapshot is a TSV with a ``rank`` and a ``project`` column (1 = most downloaded). A live
source may also be the JSON of the top-pypi-packages project (``{"rows": [{"project": …},
…]}``, most downloaded first).
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from packaging.utils import canonicalize_name

from bomguard.errors import InputError, OperationalError

__all__ = [
    "DEFAULT_RANKS_URL",
    "RankSnapshot",
    "data_dir",
    "load_snapshot",
    "parse_ranks",
    "refresh",
]

#: Where ``bomguard data refresh`` downloads the list from (``BOMGUARD_RANKS_URL`` overrides).
DEFAULT_RANKS_URL = "https://hugovk.github.io/top-pypi-packages/top-pypi-packages.min.json"
SNAPSHOT_NAME = "top-pypi-projects.tsv"
META_NAME = "top-pypi-projects.json"
MAX_LIST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RankSnapshot:
    """Download ranks by PEP 503-normalised project name, and where they came from."""

    ranks: Mapping[str, int]
    date: str
    source: str
    sha256: str
    location: str
    """``builtin`` or the file it was read from."""

    def rank(self, normalized_name: str) -> int | None:
        """The project's rank (1 = most downloaded), or ``None`` when it is not listed."""
        return self.ranks.get(normalized_name)

    def record(self) -> dict[str, str | int]:
        """What a verdict and a report record about the snapshot."""
        return {
            "date": self.date,
            "source": self.source,
            "sha256": self.sha256,
            "location": self.location,
            "projects": len(self.ranks),
        }


def data_dir() -> Path:
    """The user data directory (``BOMGUARD_DATA_DIR`` overrides)."""
    override = os.environ.get("BOMGUARD_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("bomguard", appauthor=False))


_CANONICAL = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*").fullmatch
"""Whether a project name is already in its normalized form (as every name of the shipped
snapshot is): ``canonicalize_name`` would return it unchanged."""


def parse_ranks(raw: bytes, label: str) -> dict[str, int]:
    """Ranks from a TSV (``rank``, ``project``) or top-pypi-packages JSON; InputError if neither."""
    text = raw.decode("utf-8-sig", errors="replace")
    ranks: dict[str, int] = {}
    if text.lstrip().startswith("{"):
        try:
            rows = json.loads(text)["rows"]
            names = [str(row["project"]) for row in rows]
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(f"{label}: not a list of projects (rows[].project): {err}") from err
        for position, name in enumerate(names, 1):
            ranks.setdefault(str(canonicalize_name(name)), position)
    else:
        lines = text.splitlines()
        if not lines or lines[0].split("\t")[:2] != ["rank", "project"]:
            raise InputError(f"{label}: line 1: expected the header 'rank<TAB>project'")
        for number, line in enumerate(lines[1:], 2):
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) < 2 or not parts[0].strip().isdigit() or not parts[1].strip():
                raise InputError(f"{label}: line {number}: expected 'rank<TAB>project'")
            name = parts[1].strip()
            if not _CANONICAL(name):
                name = str(canonicalize_name(name))
            ranks.setdefault(name, int(parts[0]))
    if not ranks:
        raise InputError(f"{label}: no projects listed")
    return ranks


@functools.cache
def _builtin() -> RankSnapshot:
    package = resources.files("bomguard") / "data"
    meta = json.loads((package / META_NAME).read_text("utf-8"))
    raw = gzip.decompress((package / (SNAPSHOT_NAME + ".gz")).read_bytes())
    return RankSnapshot(
        parse_ranks(raw, "builtin:" + SNAPSHOT_NAME),
        str(meta["date"]),
        str(meta["source"]),
        hashlib.sha256(raw).hexdigest(),
        "builtin",
    )


def load_snapshot(directory: Path | None = None) -> RankSnapshot:
    """The refreshed snapshot in ``directory`` (default :func:`data_dir`), else the shipped one.

    A refreshed snapshot whose bytes do not match the sha256 its description records is
    refused (:class:`InputError`): criticality is never judged from a list nobody can name.
    """
    where = directory if directory is not None else data_dir()
    snapshot, meta = where / SNAPSHOT_NAME, where / META_NAME
    if not snapshot.exists():
        return _builtin()
    return _load_file(snapshot, meta)


@functools.lru_cache(maxsize=4)
def _load_cached(snapshot: Path, meta: Path, stamp: tuple[int, ...]) -> RankSnapshot:
    try:
        raw = snapshot.read_bytes()
        described = json.loads(meta.read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{meta}: cannot read the snapshot's description: {err}") from err
    digest = hashlib.sha256(raw).hexdigest()
    if not isinstance(described, dict) or described.get("sha256") != digest:
        raise InputError(
            f"{snapshot}: sha256 {digest} is not the one {meta.name} records; "
            "run `bomguard data refresh` again or delete both files"
        )
    return RankSnapshot(
        parse_ranks(raw, str(snapshot)),
        str(described.get("date", "")),
        str(described.get("source", "")),
        digest,
        str(snapshot),
    )


def _load_file(snapshot: Path, meta: Path) -> RankSnapshot:
    try:
        stamp = tuple(
            value
            for path in (snapshot, meta)
            for value in (path.stat().st_mtime_ns, path.stat().st_size)
        )
    except OSError as err:
        raise InputError(f"{meta}: cannot read the snapshot's description: {err}") from err
    return _load_cached(snapshot, meta, stamp)


def refresh(
    url: str,
    directory: Path | None = None,
    *,
    timeout: float = 30.0,
    now: dt.datetime | None = None,
) -> RankSnapshot:
    """Download the list at ``url`` and make it the snapshot in ``directory``.

    The download must parse as a list of projects before anything is written; both files
    are written to temporary names and renamed. A network failure is an
    :class:`OperationalError` naming the URL (exit 3); nothing is changed then.
    """
    from bomguard._httpx import load

    httpx = load()
    where = directory if directory is not None else data_dir()
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            response = client.get(url)
            response.raise_for_status()
            body = response.content
    except httpx.HTTPError as err:
        raise OperationalError(
            f"cannot download the download ranks from {url}: {err or type(err).__name__}",
            hint="check the network, or pass --url for a reachable copy of the list",
        ) from err
    if len(body) > MAX_LIST_BYTES:
        raise OperationalError(f"{url}: the list is over {MAX_LIST_BYTES} bytes")
    ranks = parse_ranks(body, url)
    ordered = sorted(ranks.items(), key=lambda item: (item[1], item[0]))
    tsv = ("rank\tproject\n" + "".join(f"{r}\t{n}\n" for n, r in ordered)).encode("utf-8")
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    meta = {
        "date": moment.strftime("%Y-%m-%d"),
        "source": url,
        "sha256": hashlib.sha256(tsv).hexdigest(),
        "projects": len(ordered),
    }
    try:
        where.mkdir(parents=True, exist_ok=True)
        for name, data in (
            (SNAPSHOT_NAME, tsv),
            (META_NAME, (json.dumps(meta, indent=2) + "\n").encode()),
        ):
            temporary = where / f".{name}.tmp"
            temporary.write_bytes(data)
            temporary.replace(where / name)
    except OSError as err:
        raise OperationalError(
            f"{where}: cannot write the snapshot: {err.strerror or err}"
        ) from err
    return load_snapshot(where)
