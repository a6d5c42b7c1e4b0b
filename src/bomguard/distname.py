"""Distribution filenames (wheels and sdists) as PyPI names them."""

from __future__ import annotations

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

__all__ = ["DIST_SUFFIXES", "parse_dist_filename"]

DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")


def parse_dist_filename(filename: str) -> tuple[NormalizedName, Version] | None:
    """``(project, version)`` of a wheel or sdist filename; ``None`` for anything else."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return name, version
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None
